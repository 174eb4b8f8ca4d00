// A workflow model from the server's own graph of a workflow (`GET /workflows/NAME/graph`,
// `GET /runs/ID/graph`, `POST /validate?graph=true`). Seed-format flows (top-level `uri:`) are
// shown this way: how their jobs, stages and `subscriptions` become actions and wires is the
// server's parser's business (crates/spec/src/seed.rs), never re-implemented here.
import type { WorkflowGraphView } from '../api/types';
import type { ActionModel, InputDecl, StageModel, WorkflowModel } from './model';

/** Whether a text is a seed-format flow: a top-level `uri:` key. */
export function isSeedText(text: string): boolean {
  return /^uri[ \t]*:/m.test(text);
}

export function modelFromGraph(g: WorkflowGraphView, lineCount: number): WorkflowModel {
  const stages: StageModel[] = g.stages.map((s, index) => ({ name: s.name, index, path: [], line: s.line, finally: s.finally }));
  const stageOf = new Map<string, { stage: StageModel; index: number }>();
  g.stages.forEach((s, si) => {
    const stage = stages[si];
    if (stage) s.actions.forEach((a, index) => stageOf.set(a, { stage, index }));
  });
  // Where each action ends: just before the next one starts (the graph gives where they start).
  const starts = [...new Set(g.nodes.map((n) => n.line))].sort((a, b) => a - b);
  const endOf = (line: number) => {
    const next = starts.find((l) => l > line);
    return next === undefined ? Math.max(line, lineCount) : next - 1;
  };
  const actions: ActionModel[] = g.nodes.map((n) => {
    const at = stageOf.get(n.name);
    return {
      id: n.name,
      name: n.label,
      stage: n.stage,
      stageIndex: at?.stage.index ?? 0,
      index: at?.index ?? 0,
      path: [],
      kind: g.format === 'seed' ? 'seed-job' : n.component ? 'component' : 'image',
      image: n.image,
      component: n.component?.reference ?? null,
      with: { ...n.with },
      needs: n.needs ?? null,
      matrixCount: Math.max(1, n.steps.length),
      retry: n.retry.attempts > 1 ? { attempts: n.retry.attempts, backoff: n.retry.backoff } : null,
      finally: n.finally,
      line: n.line,
      endLine: endOf(n.line),
      refs: g.wires.filter((w) => w.to === n.name).map((w) => ({ input: w.input, action: w.from, output: w.output })),
      declaredOutputs: Object.keys(n.outputs),
    };
  });
  const inputs: Record<string, InputDecl> = {};
  for (const [k, p] of Object.entries(g.inputs)) inputs[k] = { type: p.type, required: p.required, default: p.default ?? null, description: p.description ?? null };
  return {
    format: g.format === 'seed' ? 'seed' : 'native',
    name: g.format === 'seed' ? (g.uri ?? g.name) : g.name,
    description: g.description ?? null,
    inputs,
    stages,
    actions,
    waitsFor: new Map(g.nodes.map((n) => [n.name, n.depends_on])),
    triggers: g.triggers.length ? g.triggers.map((t) => t.summary) : null,
  };
}
