// Two revisions of a workflow: changed nodes highlighted on the graph beside the text diff.
import { api, enc } from '../api/client';
import type { WorkflowRevision } from '../api/types';
import { useContracts } from '../catalog';
import { DiffView } from '../diff/DiffView';
import { hunks, lineDiff } from '../diff/lineDiff';
import { WorkflowGraph } from '../graph/WorkflowGraph';
import { Link } from '../Link';
import { useApi } from '../useApi';
import type { WorkflowModel } from '../yaml/model';
import { useShownModel } from '../yaml/modelAsync';

/**
 * Added and changed actions of `b` against `a`, the names of removed ones, and renames: an added
 * action that takes the place of a removed one (same stage, position and component or image) is
 * that action renamed, marked changed.
 */
export function graphDiff(
  a: WorkflowModel,
  b: WorkflowModel,
  aText: string,
  bText: string,
): { marks: Map<string, 'added' | 'changed'>; removed: string[]; renamed: [string, string][] } {
  const excerpt = (text: string, from: number, to: number) => text.split('\n').slice(from - 1, to).join('\n');
  const marks = new Map<string, 'added' | 'changed'>();
  const gone = a.actions.filter((y) => !b.actions.some((x) => x.id === y.id));
  const renamed: [string, string][] = [];
  for (const x of b.actions) {
    const old = a.actions.find((y) => y.id === x.id);
    if (old) {
      if (excerpt(aText, old.line, old.endLine).trim() !== excerpt(bText, x.line, x.endLine).trim() || old.stage !== x.stage) marks.set(x.id, 'changed');
      continue;
    }
    const was = gone.find((y) => y.stageIndex === x.stageIndex && y.index === x.index && y.finally === x.finally && y.component === x.component && y.image === x.image);
    if (was) {
      gone.splice(gone.indexOf(was), 1);
      renamed.push([was.name, x.name]);
      marks.set(x.id, 'changed');
    } else marks.set(x.id, 'added');
  }
  return { marks, removed: gone.map((y) => y.name), renamed };
}

export function RevisionDiff({ name, from, to }: { name: string; from: number; to: number }) {
  const { data, error } = useApi(
    (signal) => Promise.all([from, to].map((r) => api.get<WorkflowRevision>(`/workflows/${enc(name)}/revisions/${r}`, { signal }))),
    [name, from, to],
  );
  const graph = (r: number) => `/workflows/${enc(name)}/graph?revision=${r}`;
  const a = useShownModel(data?.[0]?.yaml ?? null, graph(from))?.model ?? null;
  const b = useShownModel(data?.[1]?.yaml ?? null, graph(to))?.model ?? null;
  const { lookup } = useContracts(b);
  if (error) return <main className="page"><p role="alert" className="error">{error}</p></main>;
  const [ra, rb] = data ?? [];
  if (!ra || !rb || !a || !b) return <main className="page"><p className="muted">Loading…</p></main>;
  const { marks, removed, renamed } = graphDiff(a, b, ra.yaml, rb.yaml);
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
      {renamed.length ? (
        <p>
          Renamed:{' '}
          {renamed.map(([from, to]) => (
            <span key={from} className="chip diff-changed">
              {from} → {to}
            </span>
          ))}
        </p>
      ) : null}
      <div className="stacked">
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
