// Two revisions of a workflow: changed nodes highlighted on the graph beside the text diff.
import { useMemo } from 'react';
import { api, enc } from '../api/client';
import type { WorkflowRevision } from '../api/types';
import { useContracts } from '../catalog';
import { DiffView } from '../diff/DiffView';
import { hunks, lineDiff } from '../diff/lineDiff';
import { WorkflowGraph } from '../graph/WorkflowGraph';
import { Link } from '../Link';
import { useApi } from '../useApi';
import { readModel, type WorkflowModel } from '../yaml/model';

/** Added and changed actions of `b` against `a`, and the names of removed ones. */
export function graphDiff(a: WorkflowModel, b: WorkflowModel, aText: string, bText: string): { marks: Map<string, 'added' | 'changed'>; removed: string[] } {
  const excerpt = (text: string, from: number, to: number) => text.split('\n').slice(from - 1, to).join('\n');
  const marks = new Map<string, 'added' | 'changed'>();
  for (const x of b.actions) {
    const old = a.actions.find((y) => y.id === x.id);
    if (!old) marks.set(x.id, 'added');
    else if (excerpt(aText, old.line, old.endLine).trim() !== excerpt(bText, x.line, x.endLine).trim() || old.stage !== x.stage) marks.set(x.id, 'changed');
  }
  const removed = a.actions.filter((y) => !b.actions.some((x) => x.id === y.id)).map((y) => y.name);
  return { marks, removed };
}

export function RevisionDiff({ name, from, to }: { name: string; from: number; to: number }) {
  const { data, error } = useApi(
    (signal) => Promise.all([from, to].map((r) => api.get<WorkflowRevision>(`/workflows/${enc(name)}/revisions/${r}`, { signal }))),
    [name, from, to],
  );
  const models = useMemo(() => (data ? data.map((r) => readModel(r.yaml).model) : null), [data]);
  const b = models?.[1] ?? null;
  const { lookup } = useContracts(b);
  if (error) return <main className="page"><p role="alert" className="error">{error}</p></main>;
  const [ra, rb] = data ?? [];
  const a = models?.[0] ?? null;
  if (!ra || !rb || !a || !b) return <main className="page"><p className="muted">Loading…</p></main>;
  const { marks, removed } = graphDiff(a, b, ra.yaml, rb.yaml);
  return (
    <main className="page">
      <div className="page-head">
        <h1>
          <Link to={{ page: 'workflow', name }}>{name}</Link>: revision {from} → {to}
        </h1>
        <span className="legend">
          <span className="chip diff-added">added</span> <span className="chip diff-changed">changed</span>
        </span>
      </div>
      {removed.length ? <p>Removed: {removed.map((r) => <span key={r} className="chip diff-removed">{r}</span>)}</p> : null}
      <div className="columns">
        <div className="graph-box">
          <WorkflowGraph model={b} mode="view" contracts={lookup} diff={marks} label="revision graph" />
        </div>
        <section className="panel scroll">
          <DiffView lines={hunks(lineDiff(ra.yaml, rb.yaml))} />
        </section>
      </div>
    </main>
  );
}
