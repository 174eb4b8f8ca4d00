import { api } from '../api/client';
import type { DashboardView, RunSummary } from '../api/types';
import { Link } from '../Link';
import { revisionRoute } from '../router';
import { ago, useApi } from '../useApi';
import { StatusChip } from '../StatusChip';

export function Dashboard() {
  // One request: every workflow with its latest run (kept by the store, however old), the newest
  // runs and the queue depth.
  const { data, error } = useApi((signal) => api.get<DashboardView>('/dashboard', { signal }), []);
  return (
    <main className="page">
      <div className="page-head">
        <h1>Workflows</h1>
        <span className="spacer" />
        <span className="queue" aria-label="queue depth">
          Queue: <strong>{data ? data.queue.queued : '…'}</strong> waiting{data && data.queue.running > 0 ? `, ${data.queue.running} running` : ''}
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
            const r = w.latest_run;
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
      <RunTable runs={data?.recent_runs ?? []} />
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
            <td>{r.revision !== null && r.revision !== undefined ? <Link to={revisionRoute(r.workflow, r.revision)}>{r.revision}</Link> : ''}</td>
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
