// The UI's routes (all under /ui/), parsed from and written to the address bar. Every page is a
// stable, deep-linkable URL.
import { useSyncExternalStore } from 'react';

export const BASE = '/ui';

export type Route =
  | { page: 'dashboard' }
  | { page: 'login'; next: string | null }
  | { page: 'workflow'; name: string }
  | { page: 'edit'; name: string }
  | { page: 'new' }
  | { page: 'revisions'; name: string; from: number; to: number }
  | { page: 'runs'; workflow: string; status: string; trigger: string; after: string }
  | { page: 'run'; id: string; step: string | null; line: number | null }
  | { page: 'components'; name: string | null }
  | { page: 'notfound'; path: string };

function seg(s: string | undefined): string {
  return s === undefined ? '' : decodeURIComponent(s);
}

export function parseRoute(pathname: string, search = '', hash = ''): Route {
  let rest = pathname.startsWith(BASE) ? pathname.slice(BASE.length) : pathname;
  rest = rest.replace(/\/+$/, '');
  const parts = rest.split('/').filter((p) => p !== '');
  const q = new URLSearchParams(search);
  const [a, b, c, d] = parts;
  if (parts.length === 0) return { page: 'dashboard' };
  if (a === 'login' && parts.length === 1) return { page: 'login', next: q.get('next') };
  if (a === 'new' && parts.length === 1) return { page: 'new' };
  if (a === 'workflows' && b !== undefined) {
    const name = seg(b);
    if (parts.length === 2) return { page: 'workflow', name };
    if (parts.length === 3 && c === 'edit') return { page: 'edit', name };
    if (parts.length === 4 && c === 'revisions' && d !== undefined) {
      const m = /^(\d+)\.\.\.(\d+)$/.exec(seg(d));
      if (m) return { page: 'revisions', name, from: Number(m[1]), to: Number(m[2]) };
    }
  }
  if (a === 'runs') {
    if (parts.length === 1) {
      return {
        page: 'runs',
        workflow: q.get('workflow') ?? '',
        status: q.get('status') ?? '',
        trigger: q.get('trigger') ?? '',
        after: q.get('after') ?? '',
      };
    }
    if (b !== undefined) {
      const m = /^#?L(\d+)$/.exec(hash);
      const line = m ? Number(m[1]) : null;
      if (parts.length === 2) return { page: 'run', id: seg(b), step: null, line };
      if (parts.length === 4 && c === 'steps' && d !== undefined) return { page: 'run', id: seg(b), step: seg(d), line };
    }
  }
  if (a === 'components' && parts.length <= 2) return { page: 'components', name: b === undefined ? null : seg(b) };
  return { page: 'notfound', path: pathname };
}

/** Where a run's revision links: what that revision changed (the diff with the one before), or
 * for a first revision the workflow's page. */
export function revisionRoute(name: string, revision: number): Route {
  return revision > 1 ? { page: 'revisions', name, from: revision - 1, to: revision } : { page: 'workflow', name };
}

export function routePath(r: Route): string {
  const u = encodeURIComponent;
  switch (r.page) {
    case 'dashboard':
      return `${BASE}/`;
    case 'login':
      return `${BASE}/login${r.next ? `?next=${u(r.next)}` : ''}`;
    case 'workflow':
      return `${BASE}/workflows/${u(r.name)}`;
    case 'edit':
      return `${BASE}/workflows/${u(r.name)}/edit`;
    case 'new':
      return `${BASE}/new`;
    case 'revisions':
      return `${BASE}/workflows/${u(r.name)}/revisions/${r.from}...${r.to}`;
    case 'runs': {
      const q = new URLSearchParams();
      if (r.workflow) q.set('workflow', r.workflow);
      if (r.status) q.set('status', r.status);
      if (r.trigger) q.set('trigger', r.trigger);
      if (r.after) q.set('after', r.after);
      const s = q.toString();
      return `${BASE}/runs${s ? `?${s}` : ''}`;
    }
    case 'run':
      return `${BASE}/runs/${u(r.id)}${r.step ? `/steps/${u(r.step)}` : ''}${r.line !== null ? `#L${r.line}` : ''}`;
    case 'components':
      return `${BASE}/components${r.name ? `/${u(r.name)}` : ''}`;
    case 'notfound':
      return r.path;
  }
}

const listeners = new Set<() => void>();

export function navigate(to: string | Route, opts: { replace?: boolean } = {}): void {
  const url = typeof to === 'string' ? to : routePath(to);
  if (opts.replace) window.history.replaceState(null, '', url);
  else window.history.pushState(null, '', url);
  for (const l of listeners) l();
}

function subscribe(cb: () => void): () => void {
  listeners.add(cb);
  window.addEventListener('popstate', cb);
  window.addEventListener('hashchange', cb);
  return () => {
    listeners.delete(cb);
    window.removeEventListener('popstate', cb);
    window.removeEventListener('hashchange', cb);
  };
}

function snapshot(): string {
  return window.location.pathname + window.location.search + window.location.hash;
}

/** The current route; re-renders on navigation. */
export function useLocationKey(): string {
  return useSyncExternalStore(subscribe, snapshot);
}

export function currentRoute(): Route {
  return parseRoute(window.location.pathname, window.location.search, window.location.hash);
}
