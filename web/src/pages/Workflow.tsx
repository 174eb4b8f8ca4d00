import { useMemo, useState } from 'react';
import { api, enc } from '../api/client';
import type { RevisionList, RunList, WorkflowRevision } from '../api/types';
import { bindingsOf, useContracts } from '../catalog';
import { WorkflowGraph } from '../graph/WorkflowGraph';
import { Link } from '../Link';
import { RunForm } from '../RunForm';
import { navigate } from '../router';
import { useWriteBlock } from '../session';
import { ago, useApi } from '../useApi';
import { useShownModel } from '../yaml/modelAsync';
import { RunTable } from './Dashboard';
import { describeTriggers } from './triggers';

export function Workflow({ name }: { name: string }) {
  const wf = useApi((signal) => api.get<WorkflowRevision>(`/workflows/${enc(name)}`, { signal }), [name]);
  const revs = useApi((signal) => api.get<RevisionList>(`/workflows/${enc(name)}/revisions`, { signal }), [name]);
  const runs = useApi((signal) => api.get<RunList>('/runs', { query: { workflow: name, limit: 10 }, signal }), [name]);
  const blocked = useWriteBlock();
  const [running, setRunning] = useState(false);
  const [selected, setSelected] = useState<string | null>(null);
  const model = useShownModel(wf.data?.yaml ?? null, wf.data ? `/workflows/${enc(name)}/graph?revision=${wf.data.revision}` : null)?.model ?? null;
  const bindings = useMemo(() => bindingsOf(wf.data), [wf.data]);
  const { lookup } = useContracts(model, bindings);
  const triggers = useMemo(() => describeTriggers(model?.triggers ?? null, name, window.location.origin), [model, name]);
  if (wf.error) return <main className="page"><p role="alert" className="error">{wf.error}</p></main>;
  if (!wf.data || !model) return <main className="page"><p className="muted">Loading…</p></main>;
  const sel = model.actions.find((a) => a.id === selected);
  const revisions = revs.data?.revisions ?? [];
  return (
    <main className="page workflow-page">
      <div className="page-head">
        <h1>{name}</h1>
        <span className="muted">revision {wf.data.revision} · {ago(wf.data.created_at)}</span>
        <span className="spacer" />
        <button type="button" disabled={blocked !== null} title={blocked ?? 'Edit this workflow'} onClick={() => { navigate({ page: 'edit', name }); }}>
          Edit
        </button>
        <button type="button" className="primary" disabled={blocked !== null} title={blocked ?? 'Start a run'} onClick={() => { setRunning(true); }}>
          Run
        </button>
      </div>
      {blocked ? <p className="readonly-note">{blocked} Edit, save, run and cancel are disabled.</p> : null}
      {model.description ? <p>{model.description}</p> : null}
      {running ? (
        <section className="panel">
          <h2>Run {name}</h2>
          <RunForm workflow={name} revision={wf.data.revision} inputs={model.inputs} blocked={blocked} onClose={() => { setRunning(false); }} />
        </section>
      ) : null}
      <div className="graph-box">
        <WorkflowGraph model={model} mode="view" contracts={lookup} selected={selected} onSelect={setSelected} />
      </div>
      {sel ? (
        <section className="panel">
          <h2>action {sel.name}</h2>
          <p className="muted">
            stage {sel.stage} · lines {sel.line}–{sel.endLine}
          </p>
          <pre className="yaml-excerpt">{wf.data.yaml.split('\n').slice(sel.line - 1, sel.endLine).join('\n')}</pre>
        </section>
      ) : null}
      <div className="columns">
        <section className="panel">
          <h2>Revisions</h2>
          <ul className="revisions">
            {[...revisions].reverse().map((r) => (
              <li key={r.revision}>
                revision {r.revision} <span className="muted">{ago(r.created_at)}</span>
                {r.revision > 1 ? (
                  <>
                    {' '}
                    · <Link to={{ page: 'revisions', name, from: r.revision - 1, to: r.revision }}>diff with {r.revision - 1}</Link>
                  </>
                ) : null}
              </li>
            ))}
          </ul>
        </section>
        <section className="panel">
          <h2>Triggers</h2>
          {triggers.length ? (
            <ul className="triggers" aria-label="triggers">
              {triggers.map((t, i) => (
                <li key={i}>
                  <strong>{t.title}</strong> <span className="muted">{t.details.join(' · ')}</span>
                  {t.url ? (
                    <div className="small">
                      deliveries to <code className="mono">POST {t.url}</code>
                    </div>
                  ) : null}
                  {t.inputs.length ? <div className="small muted">inputs: {t.inputs.map(([k, v]) => `${k} = ${v}`).join(', ')}</div> : null}
                </li>
              ))}
            </ul>
          ) : (
            <p className="muted">None: runs start from the API, the CLI or this page.</p>
          )}
        </section>
      </div>
      <section>
        <h2>
          Recent runs <Link className="small" to={{ page: 'runs', workflow: name, status: '', trigger: '', after: '' }}>all</Link>
        </h2>
        <RunTable runs={runs.data?.runs ?? []} />
      </section>
    </main>
  );
}
