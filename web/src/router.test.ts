import { describe, expect, it } from 'vitest';
import { parseRoute, revisionRoute, routePath, type Route } from './router';

describe('routes', () => {
  it("links a run's revision to what it changed (a first revision: to the workflow)", () => {
    expect(routePath(revisionRoute('hello', 3))).toBe('/ui/workflows/hello/revisions/2...3');
    expect(routePath(revisionRoute('hello', 1))).toBe('/ui/workflows/hello');
  });
  const cases: [string, Route][] = [
    ['/ui/', { page: 'dashboard' }],
    ['/ui', { page: 'dashboard' }],
    ['/ui/new', { page: 'new' }],
    ['/ui/workflows/ci-pipeline', { page: 'workflow', name: 'ci-pipeline' }],
    ['/ui/workflows/ci-pipeline/edit', { page: 'edit', name: 'ci-pipeline' }],
    ['/ui/workflows/hello/revisions/1...3', { page: 'revisions', name: 'hello', from: 1, to: 3 }],
    ['/ui/runs/01abc', { page: 'run', id: '01abc', step: null, line: null }],
    ['/ui/runs/01abc/steps/act%5Bos%3Da%5D', { page: 'run', id: '01abc', step: 'act[os=a]', line: null }],
    ['/ui/components', { page: 'components', name: null }],
    ['/ui/components/upper', { page: 'components', name: 'upper' }],
  ];
  for (const [path, route] of cases) {
    it(`parses ${path}`, () => {
      expect(parseRoute(path)).toEqual(route);
    });
  }
  it('round-trips a run step with a log line', () => {
    const r: Route = { page: 'run', id: '01abc', step: 'build', line: 42 };
    const url = new URL(`http://x${routePath(r)}`);
    expect(parseRoute(url.pathname, url.search, url.hash)).toEqual(r);
  });
  it('round-trips runs filters', () => {
    const r: Route = { page: 'runs', workflow: 'hello', status: 'failed', trigger: 'api', after: '01x' };
    const url = new URL(`http://x${routePath(r)}`);
    expect(parseRoute(url.pathname, url.search, url.hash)).toEqual(r);
  });
  it('answers notfound for unknown paths', () => {
    expect(parseRoute('/ui/nope/x')).toEqual({ page: 'notfound', path: '/ui/nope/x' });
  });
});
