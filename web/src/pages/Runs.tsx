import { api } from '../api/client';
import type { RunList } from '../api/types';
import { Link } from '../Link';
import { navigate, type Route } from '../router';
import { useApi } from '../useApi';
import { RunTable } from './Dashboard';

const STATUSES = ['', 'queued', 'running', 'succeeded', 'failed', 'cancelled'];
/** Values of a run's `trigger.event`: the API, the CLI, a schedule, a generic webhook, the
 * usual GitHub and GitLab events, a rerun or resume (a deep link may name any other event). */
const TRIGGERS = ['', 'api', 'cli', 'cron', 'webhook', 'push', 'pull_request', 'tag_push', 'merge_request', 'rerun', 'resume'];
const PAGE = 25;

export function Runs({ route }: { route: Extract<Route, { page: 'runs' }> }) {
  const { data, error } = useApi(
    (signal) =>
      api.get<RunList>('/runs', {
        query: { workflow: route.workflow, status: route.status, trigger: route.trigger, after: route.after, limit: PAGE },
        signal,
      }),
    [route.workflow, route.status, route.trigger, route.after],
  );
  const set = (patch: Partial<Extract<Route, { page: 'runs' }>>) => {
    navigate({ ...route, after: '', ...patch });
  };
  return (
    <main className="page">
      <div className="page-head">
        <h1>Runs</h1>
      </div>
      <form className="filters" aria-label="filters" onSubmit={(e) => { e.preventDefault(); }}>
        <label>
          Workflow{' '}
          <input
            defaultValue={route.workflow}
            placeholder="any"
            onKeyDown={(e) => {
              if (e.key === 'Enter') set({ workflow: e.currentTarget.value.trim() });
            }}
            onBlur={(e) => {
              if (e.currentTarget.value.trim() !== route.workflow) set({ workflow: e.currentTarget.value.trim() });
            }}
          />
        </label>
        <label>
          Status{' '}
          <select value={route.status} onChange={(e) => { set({ status: e.target.value }); }}>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s || 'any'}
              </option>
            ))}
          </select>
        </label>
        <label>
          Trigger{' '}
          <select value={route.trigger} onChange={(e) => { set({ trigger: e.target.value }); }}>
            {(TRIGGERS.includes(route.trigger) ? TRIGGERS : [...TRIGGERS, route.trigger]).map((s) => (
              <option key={s} value={s}>
                {s || 'any'}
              </option>
            ))}
          </select>
        </label>
      </form>
      {error && <p role="alert" className="error">{error}</p>}
      <RunTable runs={data?.runs ?? []} />
      <nav className="pager" aria-label="pages">
        {route.after ? <Link to={{ ...route, after: '' }}>First page</Link> : null}
        {data?.next ? <Link to={{ ...route, after: data.next }}>Next page</Link> : null}
      </nav>
    </main>
  );
}
