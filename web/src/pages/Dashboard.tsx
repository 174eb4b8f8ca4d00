import { api } from '../api/client';
import type { RunSummary, WorkflowSummary } from '../api/types';
import { Link } from '../Link';
import { ago, useApi } from '../useApi';
import { StatusChip } from '../StatusChip';

interface Overview {
  workflows: WorkflowSummary[];
  recent: RunSummary[];
  queued: number;
  queuedMore: boolean;
}

async function loadOverview(signal: AbortSignal): Promise<Overview> {
  const [w, r, q] = await Promise.all([
    api.get<{ workflows: WorkflowSummary[] }>('/workflows', { signal }),
    api.get<{ runs: RunSummary[]; next?: string | null }>('/runs', { query: { limit: 100 }, signal }),
    api.get<{ runs: RunSummary[]; next?: string | null }>('/runs', { query: { status: 'queued', limit: 100 }, signal }),
  ]);
  return { workflows: w.workflows, recent: r.runs, queued: q.runs.length, queuedMore: !!q.next };
}

export function Dashboard() {
  const { data, error } = useApi(loadOverview, []);
  const latest = new Map<string, RunSummary>();
  for (const r of data?.recent ?? []) if (!latest.has(r.workflow)) latest.set(r.workflow, r);
  return (
    <main className="page">
      <div className="page-head">
        <h1>Workflows</h1>
        <span className="spacer" />
        <span className="queue" aria-label="queue depth">
          Queue: <strong>{data ? `${data.queued}${data.queuedMore ? '+' : ''}` : '…'}</strong> waiting
        </span>
        <Link className="button primary" to={{ page: 'new' }}>
          New workflow
        </Link>
      </div>
      {error && <p role="alert" className="error">{error}</p>}
      <table className="list">
        <thead>
          <tr>
            <th>workflow</th>
            <th>revision</th>
            <th>updated</th>
            <th>latest run</th>
          </tr>
        </thead>
        <tbody>
          {data?.workflows.map((w) => {
            const r = latest.get(w.name);
            return (
              <tr key={w.name}>
                <td>
                  <Link to={{ page: 'workflow', name: w.name }}>{w.name}</Link>
                </td>
                <td>{w.latest_revision}</td>
                <td title={w.updated_at}>{ago(w.updated_at)}</td>
                <td>
                  {r ? (
                    <Link to={{ page: 'run', id: r.id, step: null, line: null }}>
                      <StatusChip status={r.status} /> {ago(r.created_at)}
                    </Link>
                  ) : (
                    <span className="muted">never run</span>
                  )}
                </td>
              </tr>
            );
          })}
          {data && data.workflows.length === 0 ? (
            <tr>
              <td colSpan={4} className="muted">
                No workflows yet. <Link to={{ page: 'new' }}>Draw one</Link>.
              </td>
            </tr>
          ) : null}
        </tbody>
      </table>
      <h2>Recent runs</h2>
      <RunTable runs={data?.recent.slice(0, 15) ?? []} />
    </main>
  );
}

export function RunTable({ runs }: { runs: RunSummary[] }) {
  return (
    <table className="list">
      <thead>
        <tr>
          <th>run</th>
          <th>workflow</th>
          <th>status</th>
          <th>trigger</th>
          <th>revision</th>
          <th>created</th>
        </tr>
      </thead>
      <tbody>
        {runs.map((r) => (
          <tr key={r.id}>
            <td className="mono">
              <Link to={{ page: 'run', id: r.id, step: null, line: null }}>{r.id.slice(0, 12)}</Link>
            </td>
            <td>
              <Link to={{ page: 'workflow', name: r.workflow }}>{r.workflow}</Link>
            </td>
            <td>
              <StatusChip status={r.status} />
            </td>
            <td>{triggerWord(r.trigger)}</td>
            <td>{r.revision ?? ''}</td>
            <td title={r.created_at}>{ago(r.created_at)}</td>
          </tr>
        ))}
        {runs.length === 0 ? (
          <tr>
            <td colSpan={6} className="muted">
              No runs.
            </td>
          </tr>
        ) : null}
      </tbody>
    </table>
  );
}

export function triggerWord(t: unknown): string {
  if (t && typeof t === 'object' && 'event' in t && typeof t.event === 'string') return t.event;
  return '';
}
