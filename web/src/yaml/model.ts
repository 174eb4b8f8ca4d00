// The workflow as the graph sees it, read from the YAML text (both formats). Positions come from
// the source so problems and nodes map to lines. Nothing here validates: the server's validator
// is the one judge (POST /api/v1/validate); this only reads what is there.
import { isMap, isScalar, isSeq, type Node, type YAMLMap } from 'yaml';
import { parse, type Path } from './patch';

export type Format = 'native' | 'seed';

export interface Ref {
  /** The input (key of `with:`) or env var that holds the reference. */
  input: string;
  action: string;
  output: string;
}

export interface ActionModel {
  /** Unique node id: the action's name (a seed-format job's: `stage.action.job`, from the server's graph). */
  id: string;
  name: string;
  stage: string;
  stageIndex: number;
  /** Position in its stage. */
  index: number;
  path: Path;
  kind: 'image' | 'component' | 'seed-job';
  image: string | null;
  component: string | null;
  with: Record<string, unknown>;
  /** Explicit `needs:` (null: the default, every action of the previous stage). */
  needs: string[] | null;
  matrixCount: number;
  retry: { attempts?: unknown; backoff?: unknown } | null;
  finally: boolean;
  /** 1-based first and last line of the action in the text. */
  line: number;
  endLine: number;
  refs: Ref[];
  /** Outputs a seed-format job declares. */
  declaredOutputs: string[];
}

export interface StageModel {
  name: string;
  index: number;
  path: Path;
  line: number;
  finally: boolean;
}

export interface InputDecl {
  type: string;
  required: boolean;
  default: unknown;
  description: string | null;
}

export interface WorkflowModel {
  format: Format;
  name: string;
  description: string | null;
  inputs: Record<string, InputDecl>;
  stages: StageModel[];
  actions: ActionModel[];
  /** For each action id, what it waits for (explicit `needs:` or the previous stage). */
  waitsFor: Map<string, string[]>;
  /** The `triggers:` section as data (null if none). */
  triggers: unknown;
}

export interface ModelResult {
  model: WorkflowModel | null;
  /** A YAML syntax problem (the text is not a document the graph can show). */
  error: { line: number; message: string } | null;
}

const REF = /\$\{\{\s*actions\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_.-]+?)\s*\}\}/g;

/** Every `${{ actions.X.outputs.Y }}` in a value (strings, nested). */
export function refsIn(value: unknown): { action: string; output: string }[] {
  const out: { action: string; output: string }[] = [];
  const walk = (v: unknown) => {
    if (typeof v === 'string') {
      for (const m of v.matchAll(REF)) if (m[1] && m[2]) out.push({ action: m[1], output: m[2] });
    } else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(value);
  return out;
}

export function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

class Lines {
  private starts: number[] = [0];
  constructor(text: string) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.starts.push(i + 1);
  }
  line(offset: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.starts[mid] ?? 0) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  }
}

function js(n: unknown): unknown {
  if (n && typeof n === 'object' && 'toJSON' in n) return (n as { toJSON: () => unknown }).toJSON();
  return n;
}

function get(map: YAMLMap, key: string): unknown {
  for (const p of map.items) if (isScalar(p.key) && p.key.value === key) return p.value;
  return undefined;
}

function str(v: unknown): string | null {
  if (!isScalar(v)) return null;
  const x = v.value;
  return typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean' ? String(x) : null;
}

function obj(v: unknown): Record<string, unknown> {
  if (!isMap(v)) return {};
  const o = js(v);
  return o && typeof o === 'object' && !Array.isArray(o) ? (o as Record<string, unknown>) : {};
}

function matrixCount(m: Record<string, unknown>): number {
  const dims = Object.entries(m).filter(([k]) => k !== 'include' && k !== 'exclude');
  if (dims.length === 0) return 1;
  return dims.reduce((n, [, v]) => n * (Array.isArray(v) ? v.length : 1), 1);
}

export function readModel(text: string): ModelResult {
  const doc = parse(text);
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    return { model: null, error: { line: e?.linePos?.[0].line ?? 1, message: e?.message ?? 'invalid YAML' } };
  }
  const root = doc.contents;
  if (!isMap(root)) return { model: null, error: text.trim() === '' ? null : { line: 1, message: 'a workflow is a YAML map' } };
  const lines = new Lines(text);
  const lineAt = (n: unknown) => lines.line(((n as Node | null)?.range ?? [0])[0]);
  const endAt = (n: unknown) => lines.line(Math.max(0, ((n as Node | null)?.range ?? [0, 0, 1])[2] - 1));
  if (get(root, 'uri') !== undefined) {
    // A seed-format flow: its jobs, stages and subscriptions are read by the server's parser
    // (graphModel.ts shows its graph); here only what names it.
    return { model: { format: 'seed', name: str(get(root, 'uri')) ?? '', description: str(get(root, 'title')), inputs: {}, stages: [], actions: [], waitsFor: new Map(), triggers: null }, error: null };
  }

  const inputs: Record<string, InputDecl> = {};
  const inputsNode = get(root, 'inputs');
  if (isMap(inputsNode)) {
    for (const p of inputsNode.items) {
      if (!isScalar(p.key)) continue;
      const d = obj(p.value);
      inputs[String(p.key.value)] = {
        type: typeof d.type === 'string' ? d.type : 'string',
        required: d.required === true,
        default: d.default ?? null,
        description: typeof d.description === 'string' ? d.description : null,
      };
    }
  }
  const stages: StageModel[] = [];
  const actions: ActionModel[] = [];
  const readAction = (n: unknown, stage: StageModel, index: number, path: Path, isFinally: boolean) => {
    if (!isMap(n)) return;
    const name = str(get(n, 'name')) ?? `(action ${index + 1})`;
    const w = obj(get(n, 'with'));
    const needsNode = get(n, 'needs');
    const needs = isSeq(needsNode) ? needsNode.items.map((x) => str(x) ?? '') : str(needsNode) !== null ? [str(needsNode) ?? ''] : null;
    const retry = obj(get(n, 'retry'));
    const refs: Ref[] = [];
    for (const [input, v] of Object.entries(w)) for (const r of refsIn(v)) refs.push({ input, ...r });
    const env = obj(get(n, 'env'));
    for (const [k, v] of Object.entries(env)) for (const r of refsIn(v)) refs.push({ input: `env.${k}`, ...r });
    const component = str(get(n, 'component'));
    actions.push({
      id: name,
      name,
      stage: stage.name,
      stageIndex: stage.index,
      index,
      path,
      kind: component ? 'component' : 'image',
      image: str(get(n, 'image')),
      component,
      with: w,
      needs,
      matrixCount: matrixCount(obj(get(n, 'matrix'))),
      retry: Object.keys(retry).length ? retry : null,
      finally: isFinally,
      line: lineAt(n),
      endLine: endAt(n),
      refs,
      declaredOutputs: [],
    });
  };
  const stagesNode = get(root, 'stages');
  if (isSeq(stagesNode)) {
    stagesNode.items.forEach((s, si) => {
      if (!isMap(s)) return;
      const stage: StageModel = { name: str(get(s, 'name')) ?? `(stage ${si + 1})`, index: si, path: ['stages', si], line: lineAt(s), finally: false };
      stages.push(stage);
      const acts = get(s, 'actions');
      if (isSeq(acts)) acts.items.forEach((a, ai) => { readAction(a, stage, ai, ['stages', si, 'actions', ai], false); });
    });
  }
  const fin = get(root, 'finally');
  if (isSeq(fin)) {
    const stage: StageModel = { name: 'finally', index: stages.length, path: ['finally'], line: lineAt(fin), finally: true };
    stages.push(stage);
    fin.items.forEach((a, ai) => { readAction(a, stage, ai, ['finally', ai], true); });
  }
  const byStage = new Map<number, string[]>();
  for (const a of actions) {
    const list = byStage.get(a.stageIndex) ?? [];
    list.push(a.id);
    byStage.set(a.stageIndex, list);
  }
  const waitsFor = new Map<string, string[]>();
  const regular = actions.filter((a) => !a.finally).map((a) => a.id);
  for (const a of actions) {
    if (a.finally) waitsFor.set(a.id, a.needs ?? regular);
    else waitsFor.set(a.id, a.needs ?? (a.stageIndex > 0 ? previousNonEmpty(byStage, a.stageIndex) : []));
  }
  return {
    model: {
      format: 'native',
      name: str(get(root, 'name')) ?? '',
      description: str(get(root, 'description')),
      inputs,
      stages,
      actions,
      waitsFor,
      triggers: get(root, 'triggers') === undefined ? null : js(get(root, 'triggers')),
    },
    error: null,
  };
}

function previousNonEmpty(byStage: Map<number, string[]>, stageIndex: number): string[] {
  for (let i = stageIndex - 1; i >= 0; i--) {
    const l = byStage.get(i);
    if (l && l.length > 0) return l;
  }
  return [];
}

/** Every action that `id` waits for, directly or not. */
export function transitiveWaits(model: WorkflowModel, id: string): Set<string> {
  const seen = new Set<string>();
  const stack = [...(model.waitsFor.get(id) ?? [])];
  while (stack.length) {
    const x = stack.pop();
    if (x === undefined || seen.has(x)) continue;
    seen.add(x);
    stack.push(...(model.waitsFor.get(x) ?? []));
  }
  return seen;
}
