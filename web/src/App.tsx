import { lazy, Suspense, useCallback, useEffect, useMemo, useState, type ReactNode } from 'react';
import { ApiError, api, setCsrfToken } from './api/client';
import type { Session } from './api/types';
import { Link } from './Link';
import { Login } from './pages/Login';
import { Dashboard } from './pages/Dashboard';
import { Components } from './pages/Components';
import { RevisionDiff } from './pages/RevisionDiff';
import { Runs } from './pages/Runs';
import { Workflow } from './pages/Workflow';
import { RunPage } from './run/RunPage';
import { currentRoute, navigate, routePath, useLocationKey, type Route } from './router';
import { SessionContext, VIEWER_REASON, type SessionState } from './session';

// The editor (CodeMirror and the YAML patch layer) loads only when it is opened: the pages that
// show graphs and runs start sooner.
const EditorPage = lazy(() => import('./editor/EditorPage').then((m) => ({ default: m.EditorPage })));

type Loaded = { state: 'loading' } | { state: 'anonymous' } | { state: 'signed-in'; session: Session } | { state: 'error'; message: string };

export function App() {
  const [loaded, setLoaded] = useState<Loaded>({ state: 'loading' });
  useLocationKey();
  const route = currentRoute();

  useEffect(() => {
    api
      .get<Session>('/session')
      .then((s) => {
        setCsrfToken(s.csrf_token ?? null);
        setLoaded({ state: 'signed-in', session: s });
      })
      .catch((err: unknown) => {
        if (err instanceof ApiError && err.status === 401) setLoaded({ state: 'anonymous' });
        else setLoaded({ state: 'error', message: err instanceof Error ? err.message : String(err) });
      });
  }, []);

  const logout = useCallback(() => {
    api
      .del('/session')
      .catch(() => undefined)
      .finally(() => {
        setCsrfToken(null);
        setLoaded({ state: 'anonymous' });
        navigate({ page: 'login', next: null });
      });
  }, []);

  const ctx = useMemo<SessionState | null>(
    () => (loaded.state === 'signed-in' ? { session: loaded.session, logout } : null),
    [loaded, logout],
  );

  if (loaded.state === 'loading') return <p className="loading">Loading…</p>;
  if (loaded.state === 'error') {
    return (
      <p role="alert" className="error page-error">
        The server did not answer: {loaded.message}
      </p>
    );
  }
  if (loaded.state === 'anonymous' || !ctx) {
    return (
      <Login
        onLogin={(s) => {
          setCsrfToken(s.csrf_token ?? null);
          setLoaded({ state: 'signed-in', session: s });
          const next = route.page === 'login' ? route.next : routePath(route);
          navigate(next && next.startsWith('/ui/') && !next.startsWith('/ui/login') ? next : '/ui/', { replace: true });
        }}
      />
    );
  }
  if (route.page === 'login') {
    navigate(route.next ?? '/ui/', { replace: true });
    return null;
  }
  return (
    <SessionContext.Provider value={ctx}>
      <Shell session={ctx.session} logout={logout}>
        <Page route={route} />
      </Shell>
    </SessionContext.Provider>
  );
}

function Shell({ session, logout, children }: { session: Session; logout: () => void; children: ReactNode }) {
  return (
    <div className="shell">
      <header className="topbar">
        <Link to={{ page: 'dashboard' }} className="brand">
          ContainerOps
        </Link>
        <nav aria-label="Main">
          <Link to={{ page: 'dashboard' }}>Workflows</Link>
          <Link to={{ page: 'runs', workflow: '', status: '', trigger: '', after: '' }}>Runs</Link>
          <Link to={{ page: 'components', name: null }}>Components</Link>
          <Link to={{ page: 'new' }}>New workflow</Link>
        </nav>
        <span className="spacer" />
        <span className="who" title={session.role === 'viewer' ? VIEWER_REASON : 'Admin: may edit, save, run and cancel.'}>
          {session.token_name} · {session.role}
        </span>
        <button type="button" onClick={logout}>
          Log out
        </button>
      </header>
      <div className="content">{children}</div>
    </div>
  );
}

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case 'dashboard':
      return <Dashboard />;
    case 'workflow':
      return <Workflow key={route.name} name={route.name} />;
    case 'edit':
    case 'new':
      // One key for both: saving a new workflow moves to its edit page without a remount.
      return (
        <Suspense fallback={<p className="loading">Loading the editor…</p>}>
          <EditorPage key="editor" name={route.page === 'edit' ? route.name : null} />
        </Suspense>
      );
    case 'revisions':
      return <RevisionDiff name={route.name} from={route.from} to={route.to} />;
    case 'runs':
      return <Runs route={route} />;
    case 'run':
      return <RunPage key={route.id} route={route} />;
    case 'components':
      return <Components name={route.name} />;
    case 'login':
      return null;
    case 'notfound':
      return (
        <main className="page">
          <h1>Not found</h1>
          <p>
            Nothing at <code>{route.path}</code>. <Link to={{ page: 'dashboard' }}>Workflows</Link>
          </p>
        </main>
      );
  }
}
