// The live run page: the workflow's graph with every step's status from the start, a selected
// step's log streaming live, its inputs (secrets masked), outputs and failure reason, a timeline,
// and Cancel run / Rerun / Resume.
import { memo, useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import { ApiError, api, enc } from '../api/client';
import type { LogLine, RunCreated, RunView, StepView, WorkflowRevision } from '../api/types';
import { useContracts } from '../catalog';
import { WorkflowGraph } from '../graph/WorkflowGraph';
import { baseName, duration, modelFromSteps, nodeIdOf, runStates } from '../graph/runState';
import { Link } from '../Link';
import { navigate, revisionRoute, type Route } from '../router';
import { useWriteBlock } from '../session';
import { StatusChip } from '../StatusChip';
import { ago } from '../useApi';
import type { WorkflowModel } from '../yaml/model';
import { useShownModel } from '../yaml/modelAsync';
import { triggerWord } from '../pages/Dashboard';
import { LogStore, followLogs } from './logStream';
import { Gantt } from './Gantt';
import { LogView } from './LogView';
import { stepInputs } from './stepInputs';

const NO_LINES: readonly LogLine[] = [];

const FINISHED = new Set(['succeeded', 'failed', 'cancelled']);

function useRun(id: string): { run: RunView | null; error: string | null; reload: () => void } {
  const [run, setRun] = useState<RunView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let stop = false;
    let timer = 0;
    const load = () => {
      api
        .get<RunView>(`/runs/${enc(id)}`)
        .then((r) => {
          if (stop) return;
          setRun(r);
          setError(null);
          if (!FINISHED.has(r.status)) timer = window.setTimeout(load, 1000);
        })
        .catch((e: unknown) => {
          if (stop) return;
          setError(e instanceof Error ? e.message : String(e));
          timer = window.setTimeout(load, 3000);
        });
    };
    load();
    return () => {
      stop = true;
      window.clearTimeout(timer);
    };
  }, [id, tick]);
  return { run, error, reload: () => { setTick((t) => t + 1); } };
}

/**
 * The graph of a run: its revision's text (parsed off the main thread when big), or, for a run
 * without a stored revision (or whose revision cannot be read), one made from its steps.
 */
function useModel(run: RunView | null): WorkflowModel | null {
  const [rev, setRev] = useState<{ yaml: string } | 'none' | null>(null);
  const workflow = run?.workflow;
  const revision = run?.revision;
  useEffect(() => {
    if (!workflow) return;
    if (revision === null || revision === undefined) {
      setRev('none');
      return;
    }
    api.get<WorkflowRevision>(`/workflows/${enc(workflow)}/revisions/${revision}`).then(setRev).catch(() => { setRev('none'); });
  }, [workflow, revision]);
  const parsed = useShownModel(rev && rev !== 'none' ? rev.yaml : null, run ? `/runs/${enc(run.id)}/graph` : null);
  const fromYaml = parsed?.model ?? null;
  const noText = rev === 'none' || (parsed !== null && parsed.model === null);
  const stepShape = run && noText ? run.steps.map((s) => `${s.stage}/${s.key}`).join(',') : '';
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const fromSteps = useMemo(() => (run && noText ? modelFromSteps(run.workflow, run.steps) : null), [run?.workflow, noText, stepShape]);
  return fromYaml ?? fromSteps;
}

function useNow(active: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    const t = window.setInterval(() => { setNow(Date.now()); }, 1000);
    return () => { window.clearInterval(t); };
  }, [active]);
  return now;
}

export function RunPage({ route }: { route: Extract<Route, { page: 'run' }> }) {
  const { run, error, reload } = useRun(route.id);
  const model = useModel(run);
  const { lookup } = useContracts(model);
  const blocked = useWriteBlock();
  const live = !!run && !FINISHED.has(run.status);
  const now = useNow(live);
  const [view, setView] = useState<'graph' | 'timeline'>('graph');
  const [actionError, setActionError] = useState<string | null>(null);

  const states = useMemo(() => (run && model ? runStates(model, run.steps) : new Map()), [run, model]);

  // Logs: one stream per run page.
  // The log store lives outside React state: new lines re-render the step panel only.
  const [logs] = useState(() => new LogStore());
  useEffect(() => {
    const stop = followLogs(route.id, logs.buffer, {
      onLines: () => { logs.notify(); },
      onEnd: () => { reload(); },
      onState: (st) => {
        logs.state = st;
        logs.notify();
      },
    });
    return stop;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [route.id]);

  const selectedStep = useMemo(() => {
    if (!run || !route.step) return null;
    return run.steps.find((s) => s.key === route.step) ?? run.steps.find((s) => s.action === route.step) ?? null;
  }, [run, route.step]);
  const selectedNode = run && model && selectedStep ? nodeIdOf(model, selectedStep) : null;

  const runRef = useRef(run);
  runRef.current = run;
  const select = useCallback(
    (nodeId: string | null) => {
      const r = runRef.current;
      if (!r || !model || nodeId === null) {
        navigate({ page: 'run', id: route.id, step: null, line: null });
        return;
      }
      const step = r.steps.find((s) => nodeIdOf(model, s) === nodeId);
      navigate({ page: 'run', id: route.id, step: step ? step.key : nodeId, line: null });
    },
    [model, route.id],
  );

  const act = (verb: 'cancel' | 'rerun' | 'resume') => {
    setActionError(null);
    api
      .post<RunCreated | { id: string }>(`/runs/${enc(route.id)}/${verb}`)
      .then((r) => {
        if (verb === 'cancel') reload();
        else navigate({ page: 'run', id: r.id, step: null, line: null });
      })
      .catch((e: unknown) => { setActionError(e instanceof ApiError ? e.message : String(e)); });
  };

  if (error && !run) return <main className="page"><p role="alert" className="error">{error}</p></main>;
  if (!run || !model) return <main className="page"><p className="muted">Loading…</p></main>;
  const canResume = run.status === 'failed' || run.status === 'cancelled';
  return (
    <main className="page run-page">
      <div className="page-head">
        <h1>
          <Link to={{ page: 'workflow', name: run.workflow }}>{run.workflow}</Link> <span className="mono small">run {run.id.slice(0, 12)}</span>
        </h1>
        <StatusChip status={run.status} />
        <span className="muted small">
          {run.revision !== null && run.revision !== undefined ? (
            <Link to={revisionRoute(run.workflow, run.revision)} title={run.revision > 1 ? `What revision ${run.revision} changed` : 'The workflow'}>
              revision {run.revision}
            </Link>
          ) : (
            'no stored revision'
          )}{' '}
          · {triggerWord(run.trigger)} · {ago(run.created_at, now)}
          {run.started_at ? ` · ${duration(run.started_at, run.finished_at ?? null, now)}` : ''}
          {run.parent ? (
            <>
              {' · from '}
              <Link to={{ page: 'run', id: run.parent, step: null, line: null }}>{run.parent.slice(0, 12)}</Link>
            </>
          ) : null}
        </span>
        <span className="spacer" />
        <div className="seg" role="group" aria-label="view">
          <button type="button" aria-pressed={view === 'graph'} onClick={() => { setView('graph'); }}>
            Graph
          </button>
          <button type="button" aria-pressed={view === 'timeline'} onClick={() => { setView('timeline'); }}>
            Timeline
          </button>
        </div>
        <button type="button" className="danger" disabled={blocked !== null || !live} title={blocked ?? (live ? 'Stop this run' : 'The run is over')} onClick={() => { act('cancel'); }}>
          Cancel run
        </button>
        <button type="button" disabled={blocked !== null || live} title={blocked ?? (live ? 'Wait for the run to end' : 'A new run with the same revision and inputs')} onClick={() => { act('rerun'); }}>
          Rerun
        </button>
        <button type="button" disabled={blocked !== null || !canResume} title={blocked ?? (canResume ? 'Reuse the steps that succeeded and run the rest' : 'Only a failed or cancelled run can be resumed')} onClick={() => { act('resume'); }}>
          Resume
        </button>
      </div>
      {blocked ? <p className="readonly-note">{blocked} Cancel, rerun and resume are disabled.</p> : null}
      {actionError ? <p role="alert" className="error">{actionError}</p> : null}
      {run.error ? <p role="alert" className="error">Run error: {run.error}</p> : null}
      <div className="run-body">
        <div className="run-main">
          {view === 'graph' ? (
            <div className="graph-box tall">
              <WorkflowGraph model={model} mode="run" run={states} contracts={lookup} selected={selectedNode} onSelect={select} label="run graph" />
            </div>
          ) : (
            <Gantt run={run} now={now} selected={selectedStep?.key ?? null} onSelect={(key) => { navigate({ page: 'run', id: route.id, step: key, line: null }); }} />
          )}
        </div>
        <StepPanel run={run} model={model} step={selectedStep} route={route} logs={logs} now={now} />
      </div>
    </main>
  );
}

function StepPanel({ run, model, step, route, logs, now }: { run: RunView; model: WorkflowModel; step: StepView | null; route: Extract<Route, { page: 'run' }>; logs: LogStore; now: number }) {
  // Re-renders when lines arrive (the log store lives outside React state).
  useSyncExternalStore(logs.subscribe, logs.getVersion);
  const streamState = logs.state;
  if (!step) {
    return (
      <aside className="step-panel">
        <p className="muted">Select a step to see its log, inputs and outputs. Arrow keys move between steps; Enter opens one.</p>
        <h3>Run inputs</h3>
        <KeyValues entries={Object.entries(run.inputs).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])} />
        <h3>Steps</h3>
        <ul className="step-list">
          {run.steps.map((s) => (
            <StepItem key={s.key} runId={run.id} step={s.key} status={s.status} />
          ))}
        </ul>
      </aside>
    );
  }
  const copies = run.steps.filter((s) => baseName(s.key) === baseName(step.key));
  const inputs = stepInputs(model, step);
  const lines = logs.buffer.byStep.get(step.key) ?? NO_LINES;
  return (
    <aside className="step-panel" aria-label={`step ${step.key}`}>
      <div className="row">
        <h2>{step.key}</h2>
        <StatusChip status={step.status} />
        <span className="spacer" />
        <Link to={{ page: 'run', id: run.id, step: null, line: null }}>Close</Link>
      </div>
      <p className="muted small">
        stage {step.stage} · {duration(step.started_at ?? null, step.finished_at ?? null, now) || 'not started'} · attempt{step.attempts === 1 ? '' : 's'} {step.attempts}
        {step.exit_code !== null && step.exit_code !== undefined ? ` · exit code ${step.exit_code}` : ''}
      </p>
      {copies.length > 1 ? (
        <p className="small">
          copies:{' '}
          {copies.map((c) => (
            <Link key={c.key} className={c.key === step.key ? 'current' : ''} to={{ page: 'run', id: run.id, step: c.key, line: null }}>
              {c.key}{' '}
            </Link>
          ))}
        </p>
      ) : null}
      {step.reused_from ? (
        <p className="small reused-note">
          Not run here: reused from run{' '}
          <Link to={{ page: 'run', id: step.reused_from, step: step.key, line: null }}>{step.reused_from.slice(0, 12)}</Link>, whose result
          (outputs and log) it took.
        </p>
      ) : null}
      {step.error ? (
        <p className="failure" role="alert">
          Failed: {step.error}
        </p>
      ) : null}
      {step.attempts_detail.length > 1 ? (
        <table className="list small">
          <caption>Attempts</caption>
          <tbody>
            {step.attempts_detail.map((a) => (
              <tr key={a.attempt}>
                <td>#{a.attempt}</td>
                <td><StatusChip status={a.status} /></td>
                <td>{duration(a.started_at ?? null, a.finished_at ?? null, now)}</td>
                <td>{a.error ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <h3>
        Inputs {inputs.source === 'written' ? <span className="muted small">(as written; the values once it starts)</span> : null}
      </h3>
      <KeyValues entries={inputs.entries} label={`inputs of ${step.key}`} />
      <h3>Outputs</h3>
      <KeyValues entries={Object.entries(step.outputs).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])} />
      <h3>
        Log <span className="muted small">({streamState})</span>
      </h3>
      <LogView
        key={step.key}
        lines={lines}
        count={lines.length}
        runId={run.id}
        step={step.key}
        target={route.line}
        attempts={step.attempts > 1}
        empty={step.status === 'pending' ? 'Not started yet.' : 'No lines yet.'}
      />
    </aside>
  );
}

/** One entry of the step list; re-renders only when its status changes (a run may have 1,000s). */
const StepItem = memo(function StepItem({ runId, step, status }: { runId: string; step: string; status: string }) {
  return (
    <li>
      <Link to={{ page: 'run', id: runId, step, line: null }}>{step}</Link> <StatusChip status={status} />
    </li>
  );
});

function KeyValues({ entries, label }: { entries: [string, string][]; label?: string }) {
  if (entries.length === 0) return <p className="muted small">none</p>;
  return (
    <dl className="kv" aria-label={label}>
      {entries.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd className="mono">{v}</dd>
        </div>
      ))}
    </dl>
  );
}
