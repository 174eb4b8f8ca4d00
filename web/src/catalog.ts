// The component catalog as the graph needs it: contracts by `name@version`, loaded once per page.
import { useCallback, useEffect, useMemo, useState } from 'react';
import { api, enc } from './api/client';
import type { ComponentSummary, ComponentView } from './api/types';
import type { Contract, ContractLookup } from './graph/graphData';
import type { WorkflowModel } from './yaml/model';

const cache = new Map<string, Promise<ComponentView | null>>();

export function loadComponent(ref: string): Promise<ComponentView | null> {
  const m = /^([a-z0-9][a-z0-9-]*)@(.+)$/.exec(ref);
  if (!m?.[1] || !m[2]) return Promise.resolve(null);
  let p = cache.get(ref);
  if (!p) {
    p = api.get<ComponentView>(`/components/${enc(m[1])}/${enc(m[2])}`).catch(() => null);
    cache.set(ref, p);
  }
  return p;
}

export function listComponents(): Promise<ComponentSummary[]> {
  return api.get<{ components: ComponentSummary[] }>('/components').then((r) => r.components);
}

export function contractOf(c: ComponentView): Contract {
  return {
    inputs: Object.fromEntries(Object.entries(c.inputs).map(([k, p]) => [k, { type: p.type, required: p.required, default: p.default, description: p.description ?? null }])),
    outputs: Object.fromEntries(Object.entries(c.outputs).map(([k, p]) => [k, { type: p.type, required: p.required, description: p.description ?? null }])),
  };
}

/**
 * What a stored revision binds its path components to (`./components/x` → `x@1.0.0`), when the
 * server says so (`components` on a revision), else nothing.
 */
export function bindingsOf(rev: unknown): Record<string, string> {
  if (rev && typeof rev === 'object' && 'components' in rev && rev.components && typeof rev.components === 'object') {
    return Object.fromEntries(Object.entries(rev.components as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string'));
  }
  return {};
}

const NO_BINDINGS: Record<string, string> = {};

/** Contracts of the catalog components a workflow uses (`component: name@version`, or a bound path). */
export function useContracts(model: WorkflowModel | null, bindings: Record<string, string> = NO_BINDINGS): { lookup: ContractLookup; views: Map<string, ComponentView> } {
  const resolve = useCallback((c: string) => (c.includes('@') ? c : bindings[c]), [bindings]);
  const refs = useMemo(() => [...new Set((model?.actions ?? []).map((a) => (a.component ? resolve(a.component) : undefined)).filter((c): c is string => !!c))].sort(), [model, resolve]);
  const key = refs.join(',');
  const [views, setViews] = useState<Map<string, ComponentView>>(new Map());
  useEffect(() => {
    let stale = false;
    void Promise.all(refs.map((r) => loadComponent(r).then((v) => [r, v] as const))).then((pairs) => {
      if (stale) return;
      const m = new Map<string, ComponentView>();
      for (const [r, v] of pairs) if (v) m.set(r, v);
      setViews((old) => (old.size === m.size && [...m.keys()].every((k) => old.has(k)) ? old : m));
    });
    return () => {
      stale = true;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  const lookup = useMemo<ContractLookup>(() => {
    const contracts = new Map([...views].map(([k, v]) => [k, contractOf(v)]));
    return (c) => {
      const r = resolve(c);
      return r ? contracts.get(r) : undefined;
    };
  }, [views, resolve]);
  const resolvedViews = useMemo(() => {
    const m = new Map(views);
    for (const [path, ref] of Object.entries(bindings)) {
      const v = views.get(ref);
      if (v) m.set(path, v);
    }
    return m;
  }, [views, bindings]);
  return { lookup, views: resolvedViews };
}
