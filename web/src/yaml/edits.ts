// The editor's workflow edits, each one a lossless patch of the text (see patch.ts).
import { apply, applySplices, plan, planReplaceInScalars, type Json, type Op } from './patch';
import { readModel, transitiveWaits, type ActionModel, type WorkflowModel } from './model';

export class EditError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EditError';
  }
}

function modelOf(text: string): WorkflowModel {
  const { model, error } = readModel(text);
  if (!model) throw new EditError(error ? `line ${error.line}: ${error.message}` : 'the document is empty');
  if (model.format === 'seed') throw new EditError('seed-format flows (top-level `uri:`) are edited as text');
  return model;
}

function action(model: WorkflowModel, id: string): ActionModel {
  const a = model.actions.find((x) => x.id === id);
  if (!a) throw new EditError(`no action named ${id}`);
  return a;
}

const NAME = /^[a-z0-9][a-z0-9-]*$/;

/** `base`, or `base-2`, `base-3`, … : the first name no action has. */
export function uniqueName(model: WorkflowModel | null, base: string): string {
  const clean = base.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '') || 'step';
  const taken = new Set(model?.actions.map((a) => a.name) ?? []);
  if (!taken.has(clean)) return clean;
  for (let i = 2; ; i++) if (!taken.has(`${clean}-${i}`)) return `${clean}-${i}`;
}

export interface NewAction {
  name: string;
  component?: string;
  image?: string;
  command?: string[];
  with?: Record<string, Json>;
}

/** The text of a new, empty workflow. */
export function emptyWorkflow(name: string): string {
  return `name: ${name}\nstages: []\n`;
}

/** Adds an action to stage `stageIndex`, or to a new stage (appended) when `stageIndex` is null. */
export function addAction(text: string, stageIndex: number | null, a: NewAction, newStageName?: string): { text: string; name: string } {
  const model = modelOf(text);
  const name = uniqueName(model, a.name);
  const value: Record<string, Json> = { name };
  if (a.component) value.component = a.component;
  if (a.image) value.image = a.image;
  if (a.command) value.command = a.command;
  if (a.with && Object.keys(a.with).length > 0) value.with = a.with;
  const regular = model.stages.filter((s) => !s.finally);
  if (stageIndex === null || !regular[stageIndex]) {
    const takenStages = new Set(model.stages.map((s) => s.name));
    let stageName = (newStageName ?? name).toLowerCase().replace(/[^a-z0-9-]+/g, '-') || 'stage';
    for (let i = 2; takenStages.has(stageName); i++) stageName = `${newStageName ?? name}-${i}`;
    const out = apply(text, { op: 'insert', path: ['stages'], value: { name: stageName, actions: [value] } });
    return { text: out, name };
  }
  const out = apply(text, { op: 'insert', path: ['stages', stageIndex, 'actions'], value });
  return { text: out, name };
}

export function deleteAction(text: string, id: string): string {
  const model = modelOf(text);
  const a = action(model, id);
  const stageActions = model.actions.filter((x) => x.stageIndex === a.stageIndex);
  if (!a.finally && stageActions.length === 1) return apply(text, { op: 'delete', path: a.path.slice(0, 2) });
  return apply(text, { op: 'delete', path: a.path });
}

/** Renames an action and every reference to it (`${{ actions.OLD.… }}`, `needs:` entries). */
export function renameAction(text: string, id: string, newName: string): string {
  if (!NAME.test(newName)) throw new EditError(`an action name is lower-case letters, digits and -, starting with a letter or digit (got "${newName}")`);
  const model = modelOf(text);
  const a = action(model, id);
  if (newName === a.name) return text;
  if (model.actions.some((x) => x.name === newName)) throw new EditError(`an action named ${newName} exists already`);
  const escaped = a.name.replace(/[-.]/g, '\\$&');
  const splices = [
    ...plan(text, { op: 'set', path: [...a.path, 'name'], value: newName }),
    ...planReplaceInScalars(text, new RegExp(`(?<=actions\\.)${escaped}(?=\\.)`), newName),
  ];
  let out = applySplices(text, splices);
  // needs: entries naming it.
  const after = modelOf(out);
  for (const x of after.actions) {
    if (!x.needs) continue;
    x.needs.forEach((n, i) => {
      if (n === a.name) out = apply(out, { op: 'set', path: [...x.path, 'needs', i], value: newName });
    });
  }
  return out;
}

/** Sets (or with `undefined` removes) one key of an action: `retry`, `image`, `timeout`, … */
export function setActionField(text: string, id: string, field: string, value: Json | undefined): string {
  const a = action(modelOf(text), id);
  const op: Op = value === undefined ? { op: 'delete', path: [...a.path, field] } : { op: 'set', path: [...a.path, field], value };
  return apply(text, op);
}

/** Sets (or removes) one input of an action's `with:`. */
export function setInput(text: string, id: string, input: string, value: Json | undefined): string {
  const a = action(modelOf(text), id);
  if (value === undefined) return apply(text, { op: 'delete', path: [...a.path, 'with', input] });
  return apply(text, { op: 'set', path: [...a.path, 'with', input], value });
}

export interface Port {
  action: string;
  name: string;
  /** Declared type, or null when unknown (plain image steps). */
  type: string | null;
}

/** Whether an output of type `from` may feed an input of type `to`; null if yes, else why not. */
export function typeProblem(from: string | null, to: string | null): string | null {
  if (from === null || to === null || from === to) return null;
  if (to === 'string' && from !== 'secret' && from !== 'json') return null;
  if (to === 'json') return null;
  if (to === 'float' && from === 'int') return null;
  return `type mismatch: the output is ${from}, the input wants ${to}`;
}

/** Null if `from` → `to` may be wired, else the reason (shown while dragging). */
export function wiringProblem(model: WorkflowModel, from: Port, to: Port): string | null {
  if (from.action === to.action) return 'an action cannot feed its own input';
  const src = model.actions.find((a) => a.id === from.action);
  const dst = model.actions.find((a) => a.id === to.action);
  if (!src || !dst) return 'unknown action';
  if (src.finally && !dst.finally) return `${src.name} is in finally: it runs after every stage`;
  if (transitiveWaits(model, src.id).has(dst.id)) return `cycle: ${src.name} already waits for ${dst.name}`;
  if (!dst.finally && src.stageIndex > dst.stageIndex) {
    return `${src.name} runs in a later stage (${src.stage}) than ${dst.name} (${dst.stage})`;
  }
  return typeProblem(from.type, to.type);
}

/**
 * Wires an output to an input: writes `${{ actions.FROM.outputs.OUT }}` into the input and adds
 * FROM to `needs:` when the stage order does not already make the action wait for it.
 */
export function wire(text: string, from: Port, to: Port): string {
  const model = modelOf(text);
  const problem = wiringProblem(model, from, to);
  if (problem) throw new EditError(problem);
  const dst = action(model, to.action);
  let out = apply(text, { op: 'set', path: [...dst.path, 'with', to.name], value: `\${{ actions.${from.action}.outputs.${from.name} }}` });
  if (!transitiveWaits(model, dst.id).has(from.action)) {
    const current = model.waitsFor.get(dst.id) ?? [];
    if (dst.needs) out = apply(out, { op: 'insert', path: [...dst.path, 'needs'], value: from.action });
    else out = apply(out, { op: 'set', path: [...dst.path, 'needs'], value: [...current, from.action] });
  }
  return out;
}
