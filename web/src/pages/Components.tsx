import { api, enc } from '../api/client';
import type { ComponentSummary, ComponentVersionsView, ComponentView } from '../api/types';
import { Link } from '../Link';
import { useApi } from '../useApi';

export function Components({ name }: { name: string | null }) {
  const list = useApi((signal) => api.get<{ components: ComponentSummary[] }>('/components', { signal }), []);
  const byName = new Map<string, ComponentSummary[]>();
  for (const c of list.data?.components ?? []) byName.set(c.name, [...(byName.get(c.name) ?? []), c]);
  return (
    <main className="page split-page">
      <nav className="catalog-list" aria-label="components">
        <h1>Components</h1>
        {list.error && <p role="alert" className="error">{list.error}</p>}
        <ul>
          {[...byName.entries()].map(([n, vs]) => (
            <li key={n} className={n === name ? 'current' : ''}>
              <Link to={{ page: 'components', name: n }}>{n}</Link> <span className="muted">{vs.map((v) => v.version).join(', ')}</span>
            </li>
          ))}
          {list.data && byName.size === 0 ? <li className="muted">No components registered (POST /api/v1/components).</li> : null}
        </ul>
      </nav>
      <section className="catalog-detail">{name ? <ComponentDetail name={name} /> : <p className="muted">Choose a component.</p>}</section>
    </main>
  );
}

function ComponentDetail({ name }: { name: string }) {
  const { data, error } = useApi(async (signal) => {
    const vs = await api.get<ComponentVersionsView>(`/components/${enc(name)}`, { signal });
    return Promise.all(vs.versions.map((v) => api.get<ComponentView>(`/components/${enc(name)}/${enc(v.version)}`, { signal })));
  }, [name]);
  if (error) return <p role="alert" className="error">{error}</p>;
  if (!data) return <p className="muted">Loading…</p>;
  return (
    <>
      {[...data].reverse().map((c) => (
        <article key={c.version} className="component-card">
          <h2>
            {c.name}@{c.version}
          </h2>
          {c.description ? <p>{c.description}</p> : null}
          <p>
            image <code>{c.image}</code>
          </p>
          <ParamTable title="Inputs" params={c.inputs} />
          <ParamTable title="Outputs" params={c.outputs} />
          <details>
            <summary>component.yaml</summary>
            <pre>{c.yaml}</pre>
          </details>
        </article>
      ))}
    </>
  );
}

function ParamTable({ title, params }: { title: string; params: ComponentView['inputs'] }) {
  const entries = Object.entries(params);
  return (
    <table className="list params">
      <caption>{title}</caption>
      <thead>
        <tr>
          <th>name</th>
          <th>type</th>
          <th>required</th>
          <th>default</th>
          <th>description</th>
        </tr>
      </thead>
      <tbody>
        {entries.map(([k, p]) => (
          <tr key={k}>
            <td className="mono">{k}</td>
            <td>{p.type}</td>
            <td>{p.required ? 'yes' : ''}</td>
            <td className="mono">{p.default === null ? '' : JSON.stringify(p.default)}</td>
            <td>{p.description ?? ''}</td>
          </tr>
        ))}
        {entries.length === 0 ? (
          <tr>
            <td colSpan={5} className="muted">
              none
            </td>
          </tr>
        ) : null}
      </tbody>
    </table>
  );
}
