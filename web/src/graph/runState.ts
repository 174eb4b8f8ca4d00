// Step states of a run, folded onto the graph's action nodes: one node per action, matrix copies
// (`act[os=a]`) counted together.
import type { StepView } from '../api/types';
import type { WorkflowModel } from '../yaml/model';
import type { RunState } from './graphData';

/** The action a step belongs to: its key without a matrix suffix. */
export function baseName(key: string): string {
  const i = key.indexOf('[');
  return i < 0 ? key : key.slice(0, i);
}

const ORDER = ['running', 'failed', 'cancelled', 'waiting', 'pending', 'skipped', 'succeeded', 'reused'];

/** The status one node shows for several copies. */
export function foldStatus(counts: Record<string, number>): string {
  const present = Object.keys(counts).filter((k) => (counts[k] ?? 0) > 0);
  if (present.length === 0) return 'pending';
  if (present.includes('running')) return 'running';
  const done = ['succeeded', 'reused', 'skipped', 'failed', 'cancelled'];
  if (present.some((s) => !done.includes(s)) && present.some((s) => done.includes(s))) return 'running';
  for (const s of ORDER) if (present.includes(s)) return s;
  return present[0] ?? 'pending';
}

/** Node id of the action a step belongs to. */
export function nodeIdOf(model: WorkflowModel, step: Pick<StepView, 'stage' | 'action' | 'key'>): string | null {
  const name = baseName(step.key || step.action);
  return model.actions.some((a) => a.id === name) ? name : null;
}

const idSets = new WeakMap<WorkflowModel, Set<string>>();

export function runStates(model: WorkflowModel, steps: readonly StepView[]): Map<string, RunState> {
  const out = new Map<string, RunState>();
  let ids = idSets.get(model);
  if (!ids) {
    ids = new Set(model.actions.map((a) => a.id));
    idSets.set(model, ids);
  }
  for (const s of steps) {
    const id = ids.has(baseName(s.key || s.action)) ? baseName(s.key || s.action) : null;
    if (!id) continue;
    const cur = out.get(id) ?? { status: 'pending', counts: {}, copies: 0, attempts: 0, startedAt: null, finishedAt: null, error: null };
    cur.counts[s.status] = (cur.counts[s.status] ?? 0) + 1;
    cur.copies += 1;
    cur.attempts = Math.max(cur.attempts, s.attempts);
    if (s.started_at && (!cur.startedAt || s.started_at < cur.startedAt)) cur.startedAt = s.started_at;
    if (s.finished_at && (!cur.finishedAt || s.finished_at > cur.finishedAt)) cur.finishedAt = s.finished_at;
    cur.error ??= s.error ?? null;
    cur.status = foldStatus(cur.counts);
    out.set(id, cur);
  }
  return out;
}

/** `1.2 s`, `3 m 04 s`, for a step that started at `a` and ended at `b` (or is still running at `now`). */
export function duration(a: string | null, b: string | null, now: number): string {
  if (!a) return '';
  const ms = (b ? Date.parse(b) : now) - Date.parse(a);
  if (!Number.isFinite(ms) || ms < 0) return '';
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} m ${String(Math.floor(s % 60)).padStart(2, '0')} s`;
}

/** A graph model from the steps alone, for runs without a stored revision (e.g. CLI runs). */
export function modelFromSteps(workflow: string, steps: readonly StepView[]): WorkflowModel {
  const stages: WorkflowModel['stages'] = [];
  const byStageName = new Map<string, WorkflowModel['stages'][number]>();
  const actions: WorkflowModel['actions'] = [];
  const byId = new Map<string, WorkflowModel['actions'][number]>();
  const perStage = new Map<number, string[]>();
  const waitsFor = new Map<string, string[]>();
  let prev: string[] = [];
  for (const s of steps) {
    let stage = byStageName.get(s.stage);
    if (!stage) {
      const before = perStage.get(stages.length - 1) ?? [];
      if (before.length) prev = before;
      stage = { name: s.stage, index: stages.length, path: [], line: 0, finally: false };
      stages.push(stage);
      byStageName.set(s.stage, stage);
    }
    const name = baseName(s.key || s.action);
    const seen = byId.get(name);
    if (seen) {
      seen.matrixCount += 1;
      continue;
    }
    const members = perStage.get(stage.index) ?? [];
    const action: WorkflowModel['actions'][number] = {
      id: name,
      name,
      stage: stage.name,
      stageIndex: stage.index,
      index: members.length,
      path: [],
      kind: 'image',
      image: null,
      component: null,
      with: {},
      needs: null,
      matrixCount: 1,
      retry: null,
      finally: false,
      line: 0,
      endLine: 0,
      refs: [],
      declaredOutputs: [],
    };
    actions.push(action);
    byId.set(name, action);
    members.push(name);
    perStage.set(stage.index, members);
    waitsFor.set(name, prev);
  }
  return { format: 'native', name: workflow, description: null, inputs: {}, stages, actions, waitsFor, triggers: null };
}
