// The editor: graph and YAML side by side, both editable, one undo history, lossless edits,
// a palette of catalog components, typed wiring, the server's validator, save with a diff and
// conflict detection, and Run for the saved revision.
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { ApiError, api, enc } from '../api/client';
import type { ComponentSummary, ComponentView, Diagnostic, RunCreated, ValidateResult, WorkflowRevision, WorkflowSaved } from '../api/types';
import { bindingsOf, contractOf, listComponents, useContracts } from '../catalog';
import { hunks, lineDiff } from '../diff/lineDiff';
import { DiffView } from '../diff/DiffView';
import { WorkflowGraph, DRAG_TYPE, type WiringEnd } from '../graph/WorkflowGraph';
import { RunForm } from '../RunForm';
import { navigate } from '../router';
import { useWriteBlock } from '../session';
import { addAction, deleteAction, EditError, emptyWorkflow, renameAction, setActionField, setInput, wire, wiringProblem, type Port } from '../yaml/edits';
import { isSeedText, modelFromGraph } from '../yaml/graphModel';
import { useModelOf } from '../yaml/modelAsync';
import type { ActionModel, ModelResult, WorkflowModel } from '../yaml/model';
import { apply, PatchError } from '../yaml/patch';
import { typedValue } from '../typed';
import { commit, current, redo, start, undo, type History } from './history';
import { YamlEditor, type LineProblem } from './YamlEditor';

interface Loaded {
  bindings: Record<string, string>;
  text: string;
  revision: number; // 0: not saved yet
  name: string | null;
  /** The route name this editor belongs to (null: /ui/new). */
  route: string | null;
  /** A new Editor (fresh undo history) per load. */
  seq: number;
}

let loads = 0;

/** The model while a big text is being parsed. */
const PENDING: ModelResult = { model: null, error: null };

/**
 * One editor for `/ui/new` and `/ui/workflows/NAME/edit` (the app renders it under one key).
 * Saving a new workflow moves the address to its edit page and the editor "adopts" that route:
 * nothing is reloaded, so undo history, selection and the "Saved" notice stay.
 */
export function EditorPage({ name }: { name: string | null }) {
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [error, setError] = useState<string | null>(null);
  // Set before the address changes, so every render after it sees the adoption.
  const adopting = useRef<string | null>(null);
  const have = loaded?.route;
  useEffect(() => {
    if (name !== null && adopting.current === name) {
      adopting.current = null;
      setLoaded((l) => (l ? { ...l, route: name } : l));
      return;
    }
    if (loaded !== null && have === name) return;
    setError(null);
    if (name === null) {
      setLoaded({ text: emptyWorkflow('untitled'), revision: 0, name: null, bindings: {}, route: null, seq: ++loads });
      return;
    }
    let stale = false;
    api
      .get<WorkflowRevision>(`/workflows/${enc(name)}`)
      .then((w) => {
        if (!stale) setLoaded({ text: w.yaml, revision: w.revision, name: w.name, bindings: bindingsOf(w), route: name, seq: ++loads });
      })
      .catch((e: unknown) => {
        if (!stale) setError(e instanceof Error ? e.message : String(e));
      });
    return () => {
      stale = true;
    };
    // `loaded` itself is read only to know whether this route is already shown.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [name, have]);
  const adopt = useCallback((saved: string) => {
    adopting.current = saved;
    navigate({ page: 'edit', name: saved }, { replace: true });
  }, []);
  if (error) return <main className="page"><p role="alert" className="error">{error}</p></main>;
  const shown = loaded && (loaded.route === name || (name !== null && adopting.current === name)) ? loaded : null;
  if (!shown) return <main className="page"><p className="muted">Loading…</p></main>;
  return <Editor key={shown.seq} initial={shown} onAdopt={adopt} />;
}

function errorText(e: unknown): string {
  if (e instanceof EditError || e instanceof PatchError) return e.message;
  if (e instanceof ApiError) return e.message;
  return e instanceof Error ? e.message : String(e);
}

type SaveState =
  | { step: 'idle' }
  | { step: 'review' }
  | { step: 'saving' }
  | { step: 'conflict'; theirs: WorkflowRevision }
  | { step: 'error'; message: string; diagnostics: Diagnostic[] };

function Editor({ initial, onAdopt }: { initial: Loaded; onAdopt: (name: string) => void }) {
  const blocked = useWriteBlock();
  const [history, setHistory] = useState<History>(() => start(initial.text));
  const text = current(history);
  const [saved, setSaved] = useState<{ text: string; revision: number; name: string | null }>({ text: initial.text, revision: initial.revision, name: initial.name });
  const [selected, setSelected] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [diagnostics, setDiagnostics] = useState<Diagnostic[]>([]);
  const [save, setSave] = useState<SaveState>({ step: 'idle' });
  const [runForm, setRunForm] = useState(false);
  const [reveal, setReveal] = useState<{ line: number; seq: number } | null>(null);

  // Big texts (a 1,000-action workflow) are parsed in a Web Worker, so a keystroke costs the
  // editor only CodeMirror and the history; the canvas follows when the parse answers.
  const read = useModelOf(text);
  const parsed = read ?? PENDING;
  // A seed-format flow is drawn from the server's graph of the text (the validator's answer).
  const [seedGraph, setSeedGraph] = useState<WorkflowModel | null>(null);
  const shown = parsed.model?.format === 'seed' ? seedGraph : parsed.model;
  const lastGood = useRef<WorkflowModel | null>(null);
  if (shown) lastGood.current = shown;
  const model = shown ?? lastGood.current;
  const { lookup, views } = useContracts(model, initial.bindings);

  const change = useCallback((next: string, source: string) => {
    setHistory((h) => commit(h, next, source, Date.now()));
  }, []);
  const edit = useCallback(
    (f: (t: string) => string) => {
      if (blocked) return;
      try {
        change(f(text), 'canvas');
        setNotice(null);
      } catch (e) {
        setNotice(errorText(e));
      }
    },
    [blocked, change, text],
  );
  const doUndo = useCallback(() => { setHistory(undo); }, []);
  const doRedo = useCallback(() => { setHistory(redo); }, []);

  // Keyboard: one undo history for the whole page (CodeMirror forwards its own keys).
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement | null;
      if (t?.closest('.cm-editor') || t?.tagName === 'INPUT' || t?.tagName === 'TEXTAREA' || t?.tagName === 'SELECT') return;
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'z') {
        e.preventDefault();
        if (e.shiftKey) doRedo();
        else doUndo();
      } else if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'y') {
        e.preventDefault();
        doRedo();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => { window.removeEventListener('keydown', onKey); };
  }, [doUndo, doRedo]);

  // The server's validator, a moment after the last change. `validated` is the text the shown
  // problems belong to (the problems panel is aria-busy until it is the current text).
  const [validated, setValidated] = useState<string | null>(null);
  const seed = isSeedText(text);
  useEffect(() => {
    const ctl = new AbortController();
    const t = window.setTimeout(() => {
      api
        .post<ValidateResult>('/validate', { body: text, yaml: true, query: { kind: 'workflow', file: 'workflow.yaml', graph: seed ? 'true' : undefined }, signal: ctl.signal })
        .then((r) => {
          setDiagnostics(r.diagnostics);
          setValidated(text);
          if (r.graph) setSeedGraph(modelFromGraph(r.graph, text.split('\n').length));
        })
        .catch(() => undefined);
    }, 350);
    return () => {
      window.clearTimeout(t);
      ctl.abort();
    };
  }, [text, seed]);

  const problemsByNode = useMemo(() => {
    const m = new Map<string, string[]>();
    if (!model) return m;
    for (const d of diagnostics) {
      const a = model.actions.find((x) => d.line >= x.line && d.line <= x.endLine);
      if (a) m.set(a.id, [...(m.get(a.id) ?? []), `line ${d.line}: ${d.message}`]);
    }
    return m;
  }, [diagnostics, model]);
  const lineProblems = useMemo<LineProblem[]>(() => {
    const l = diagnostics.map((d) => ({ line: d.line, col: d.col, message: d.message }));
    if (parsed.error) l.push({ line: parsed.error.line, col: 1, message: parsed.error.message });
    return l;
  }, [diagnostics, parsed.error]);

  const portType = useCallback(
    (a: ActionModel | undefined, side: 'in' | 'out', port: string): string | null => {
      if (!a?.component) return null;
      const c = lookup(a.component);
      if (!c) return null;
      return (side === 'in' ? c.inputs[port]?.type : c.outputs[port]?.type) ?? null;
    },
    [lookup],
  );
  const toPorts = useCallback(
    (from: WiringEnd, to: WiringEnd): [Port, Port] => {
      const src = model?.actions.find((a) => a.id === from.action);
      const dst = model?.actions.find((a) => a.id === to.action);
      return [
        { action: from.action, name: from.port, type: portType(src, 'out', from.port) },
        { action: to.action, name: to.port, type: portType(dst, 'in', to.port) },
      ];
    },
    [model, portType],
  );
  const checkConnection = useCallback(
    (from: WiringEnd, to: WiringEnd) => {
      if (blocked) return blocked;
      if (!model) return 'the YAML does not parse';
      const [f, t] = toPorts(from, to);
      return wiringProblem(model, f, t);
    },
    [blocked, model, toPorts],
  );
  const onConnect = useCallback(
    (from: WiringEnd, to: WiringEnd) => {
      const [f, t] = toPorts(from, to);
      edit((x) => wire(x, f, t));
    },
    [edit, toPorts],
  );

  const addItem = useCallback(
    (payload: string, stageIndex: number | null) => {
      const item = JSON.parse(payload) as { kind: 'component'; ref: string; name: string } | { kind: 'image' };
      if (item.kind === 'image') {
        edit((t) => {
          const r = addAction(t, stageIndex, { name: 'step', image: 'localhost/co-examples/busybox:latest', command: ['sh', '-c', 'echo "[COUT] result = hello"'] });
          setSelected(r.name);
          return r.text;
        });
        return;
      }
      edit((t) => {
        const r = addAction(t, stageIndex, { name: item.name, component: item.ref });
        setSelected(r.name);
        return r.text;
      });
    },
    [edit],
  );

  const dirty = text !== saved.text;
  const docName = model?.name ?? '';
  const saveBlock = blocked ?? (parsed.error ? 'The YAML does not parse.' : !dirty ? 'No changes to save.' : !docName ? 'The workflow needs a name.' : null);
  const runBlock = blocked ?? (dirty ? 'Save first: Run starts the saved revision.' : saved.revision === 0 ? 'Save first.' : null);

  const doSave = () => {
    setSave({ step: 'saving' });
    const sameName = saved.name === docName;
    const base = sameName ? saved.revision : 0;
    api
      .put<WorkflowSaved>(`/workflows/${enc(docName)}`, { body: { yaml: text, file: 'workflow.yaml', base_revision: base } })
      .then((r) => {
        setSaved({ text, revision: r.revision, name: r.name });
        setSave({ step: 'idle' });
        setNotice(r.unchanged ? `Unchanged: revision ${r.revision} has this text already.` : `Saved revision ${r.revision}.`);
        if (r.name !== initial.route) onAdopt(r.name);
      })
      .catch((e: unknown) => {
        if (e instanceof ApiError && e.status === 409) {
          const d = e.details as { current_revision?: number; yaml?: string; created_at?: string } | null;
          if (d && typeof d.current_revision === 'number' && typeof d.yaml === 'string') {
            setSave({ step: 'conflict', theirs: { name: docName, revision: d.current_revision, yaml: d.yaml, created_at: d.created_at ?? '', components: {} } });
            return;
          }
          api
            .get<WorkflowRevision>(`/workflows/${enc(docName)}`)
            .then((theirs) => { setSave({ step: 'conflict', theirs }); })
            .catch((e2: unknown) => { setSave({ step: 'error', message: errorText(e2), diagnostics: [] }); });
          return;
        }
        const diags = e instanceof ApiError && Array.isArray(e.details) ? (e.details as Diagnostic[]).filter((d) => typeof d.rendered === 'string') : [];
        setSave({ step: 'error', message: errorText(e), diagnostics: diags });
      });
  };

  const startRun = () => {
    if (!model || saved.revision === 0) return;
    const needsForm = Object.values(model.inputs).some((d) => d.required && d.default === null);
    if (needsForm) {
      setRunForm(true);
      return;
    }
    api
      .post<RunCreated>(`/workflows/${enc(docName)}/runs`, { body: { inputs: {}, revision: saved.revision } })
      .then((r) => { navigate({ page: 'run', id: r.id, step: null, line: null }); })
      .catch((e: unknown) => { setNotice(errorText(e)); });
  };

  const sel = model?.actions.find((a) => a.id === selected) ?? null;
  const selectNode = (id: string | null) => {
    setSelected(id);
    const a = model?.actions.find((x) => x.id === id);
    if (a) setReveal((r) => ({ line: a.line, seq: (r?.seq ?? 0) + 1 }));
  };

  return (
    <main className="editor">
      <div className="toolbar" role="toolbar" aria-label="editor">
        <label className="wf-name">
          Workflow name{' '}
          <input
            value={docName}
            disabled={blocked !== null || model?.format === 'seed'}
            onChange={(e) => {
              const v = e.target.value;
              edit((t) => apply(t, { op: 'set', path: ['name'], value: v }));
            }}
          />
        </label>
        <span className="muted small">{saved.revision ? `editing revision ${saved.revision}` : 'not saved yet'}{dirty ? ' · unsaved changes' : ''}</span>
        <span className="spacer" />
        <button type="button" onClick={doUndo} disabled={history.index === 0} title="Undo (Ctrl+Z)">
          Undo
        </button>
        <button type="button" onClick={doRedo} disabled={history.index >= history.stack.length - 1} title="Redo (Ctrl+Shift+Z)">
          Redo
        </button>
        <button type="button" className="primary" disabled={saveBlock !== null} title={saveBlock ?? 'Review the change and save a new revision'} onClick={() => { setSave({ step: 'review' }); }}>
          Save
        </button>
        <button type="button" disabled={runBlock !== null} title={runBlock ?? 'Run the saved revision'} onClick={startRun}>
          Run
        </button>
      </div>
      {blocked ? <p className="readonly-note">{blocked} Edit, save, run and cancel are disabled.</p> : null}
      {notice ? (
        <p className="notice" role="status">
          {notice}
        </p>
      ) : null}
      <div className="editor-body">
        <Palette blocked={blocked} onAdd={(p) => { addItem(p, null); }} />
        <section className="editor-graph" aria-label="canvas">
          {model ? (
            <WorkflowGraph
              model={model}
              mode={blocked || model.format === 'seed' ? 'view' : 'edit'}
              contracts={lookup}
              problems={problemsByNode}
              selected={selected}
              onSelect={selectNode}
              checkConnection={checkConnection}
              onConnect={onConnect}
              onDropItem={addItem}
              label="canvas graph"
            />
          ) : (
            <p className="muted pad">{read === null ? 'Reading the workflow…' : parsed.model?.format === 'seed' ? 'Drawing the flow as the server reads it…' : 'The YAML does not parse yet.'}</p>
          )}
          {sel && model ? <Inspector key={sel.id} action={sel} view={sel.component ? views.get(sel.component) : undefined} blocked={blocked} edit={edit} onRenamed={setSelected} /> : null}
        </section>
        <section className="editor-text" aria-label="text">
          <YamlEditor value={text} onChange={(t) => { change(t, 'text'); }} onUndo={doUndo} onRedo={doRedo} problems={lineProblems} readOnly={blocked !== null} reveal={reveal} />
          <div className="problems" aria-label="problems" aria-busy={validated !== text}>
            {lineProblems.length === 0 ? (
              <span className="ok small">No problems.</span>
            ) : (
              <ul>
                {lineProblems.map((p, i) => (
                  <li key={i}>
                    <button type="button" className="link" onClick={() => {
                      setReveal((r) => ({ line: p.line, seq: (r?.seq ?? 0) + 1 }));
                      const a = model?.actions.find((x) => p.line >= x.line && p.line <= x.endLine);
                      if (a) setSelected(a.id);
                    }}>
                      line {p.line}: {p.message}
                    </button>
                  </li>
                ))}
              </ul>
            )}
          </div>
        </section>
      </div>
      {save.step === 'review' || save.step === 'saving' ? (
        <div className="modal" role="dialog" aria-modal="true" aria-label="Save workflow">
          <div className="modal-card">
            <h2>Save {docName}</h2>
            <p className="muted">{saved.revision && saved.name === docName ? `A new revision after revision ${saved.revision}:` : 'A new workflow:'}</p>
            <DiffView lines={hunks(lineDiff(saved.name === docName ? saved.text : '', text))} />
            <div className="row">
              <button type="button" className="primary" disabled={save.step === 'saving'} onClick={doSave}>
                Save revision
              </button>
              <button type="button" onClick={() => { setSave({ step: 'idle' }); }}>
                Keep editing
              </button>
            </div>
          </div>
        </div>
      ) : null}
      {save.step === 'conflict' ? (
        <div className="modal" role="alertdialog" aria-modal="true" aria-label="Save conflict">
          <div className="modal-card">
            <h2>Conflict: someone saved in between</h2>
            <p>
              Revision {save.theirs.revision} was saved after the revision {saved.revision} you started from. <strong>Nothing was overwritten.</strong> Their version against yours:
            </p>
            <DiffView lines={hunks(lineDiff(save.theirs.yaml, text))} />
            <div className="row">
              <button type="button" onClick={() => {
                change(save.theirs.yaml, 'canvas');
                setSaved({ text: save.theirs.yaml, revision: save.theirs.revision, name: save.theirs.name });
                setSave({ step: 'idle' });
              }}>
                Load theirs
              </button>
              <button type="button" onClick={() => {
                setSaved((s) => ({ ...s, revision: save.theirs.revision, text: save.theirs.yaml }));
                setSave({ step: 'idle' });
                setNotice(`Your text is kept; saving now makes a revision after ${save.theirs.revision}.`);
              }}>
                Keep mine
              </button>
            </div>
          </div>
        </div>
      ) : null}
      {save.step === 'error' ? (
        <div className="modal" role="alertdialog" aria-modal="true" aria-label="Save failed">
          <div className="modal-card">
            <h2>Not saved</h2>
            <p className="error">{save.message}</p>
            <ul>
              {save.diagnostics.map((d, i) => (
                <li key={i} className="mono">{d.rendered}</li>
              ))}
            </ul>
            <div className="row">
              <button type="button" onClick={() => { setSave({ step: 'idle' }); }}>
                Close
              </button>
            </div>
          </div>
        </div>
      ) : null}
      {runForm && model ? (
        <div className="modal" role="dialog" aria-modal="true" aria-label="Run inputs">
          <div className="modal-card">
            <h2>Run {docName} (revision {saved.revision})</h2>
            <RunForm workflow={docName} revision={saved.revision} inputs={model.inputs} blocked={runBlock} onClose={() => { setRunForm(false); }} />
          </div>
        </div>
      ) : null}
    </main>
  );
}

function Palette({ blocked, onAdd }: { blocked: string | null; onAdd: (payload: string) => void }) {
  const [all, setAll] = useState<ComponentSummary[]>([]);
  const [q, setQ] = useState('');
  useEffect(() => {
    listComponents().then(setAll).catch(() => undefined);
  }, []);
  const latest = new Map<string, ComponentSummary>();
  for (const c of all) latest.set(c.name, c); // registered order: the last is the newest
  const shown = [...latest.values()].filter((c) => c.name.includes(q.trim().toLowerCase()));
  const item = (label: string, payload: string, title: string) => (
    <li
      key={label}
      className="palette-item"
      draggable={!blocked}
      onDragStart={(e) => {
        e.dataTransfer.setData(DRAG_TYPE, payload);
        e.dataTransfer.effectAllowed = 'copy';
      }}
      title={title}
      aria-label={`palette ${label}`}
    >
      <span>{label}</span>
      <button type="button" className="small" disabled={blocked !== null} aria-label={`Add ${label}`} title={blocked ?? 'Add as a new stage (or drag onto a stage lane)'} onClick={() => { onAdd(payload); }}>
        +
      </button>
    </li>
  );
  return (
    <aside className="palette" aria-label="palette">
      <h2>Palette</h2>
      <input type="search" placeholder="Search components" aria-label="Search components" value={q} onChange={(e) => { setQ(e.target.value); }} />
      <ul>
        {item('container image', JSON.stringify({ kind: 'image' }), 'A plain image step')}
        {shown.map((c) => item(`${c.name}@${c.version}`, JSON.stringify({ kind: 'component', ref: `${c.name}@${c.version}`, name: c.name }), `component ${c.name}@${c.version}`))}
      </ul>
      <p className="muted small">Drag onto a stage lane, or beside the lanes for a new stage.</p>
    </aside>
  );
}

function valueText(v: unknown): string {
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function Inspector({ action, view, blocked, edit, onRenamed }: { action: ActionModel; view: ComponentView | undefined; blocked: string | null; edit: (f: (t: string) => string) => void; onRenamed: (id: string) => void }) {
  const [name, setName] = useState(action.name);
  const [secrets, setSecrets] = useState<string[]>([]);
  const [problems, setProblems] = useState<Record<string, string>>({});
  const [retry, setRetry] = useState({ attempts: valueText(action.retry?.attempts) || '3', backoff: valueText(action.retry?.backoff) || '1s' });
  const [newKey, setNewKey] = useState('');
  useEffect(() => {
    api.get<{ secrets: string[] }>('/secrets').then((r) => { setSecrets(r.secrets); }).catch(() => undefined);
  }, []);
  const contract = view ? contractOf(view) : undefined;
  const inputs: [string, { type: string | null; required: boolean; default: unknown; description?: string | null }][] = [
    ...Object.entries(contract?.inputs ?? {}),
    ...Object.keys(action.with)
      .filter((k) => !contract?.inputs[k])
      .map((k) => [k, { type: null, required: false, default: null }] as [string, { type: null; required: boolean; default: null }]),
  ];
  const ro = blocked !== null || action.kind === 'seed-job';
  const rename = () => {
    if (name === action.name) return;
    edit((t) => renameAction(t, action.id, name));
    onRenamed(name);
  };
  const commitInput = (k: string, type: string | null, raw: string) => {
    if (raw === '') {
      setProblems((p) => ({ ...p, [k]: '' }));
      edit((t) => setInput(t, action.id, k, undefined));
      return;
    }
    const c = typedValue(type, raw, { expressions: true });
    setProblems((p) => ({ ...p, [k]: c.problem ?? '' }));
    if (c.value !== undefined) {
      const v = c.value;
      edit((t) => setInput(t, action.id, k, v));
    }
  };
  return (
    <aside className="inspector" aria-label={`inspector ${action.name}`}>
      <div className="row">
        <label>
          Name{' '}
          <input
            value={name}
            disabled={ro}
            onChange={(e) => { setName(e.target.value); }}
            onBlur={rename}
            onKeyDown={(e) => {
              if (e.key === 'Enter') rename();
            }}
          />
        </label>
        <span className="muted small">{action.component ? `component ${action.component}` : `image ${action.image ?? ''}`}</span>
        <span className="spacer" />
        <button type="button" className="danger" disabled={ro} title={blocked ?? 'Delete this action'} onClick={() => { edit((t) => deleteAction(t, action.id)); }}>
          Delete action
        </button>
      </div>
      {view?.description ? <p className="muted small">{view.description}</p> : null}
      <fieldset>
        <legend>Inputs</legend>
        {inputs.map(([k, p]) => {
          const v = valueText(action.with[k]);
          const id = `inp-${action.id}-${k}`;
          return (
            <div key={k} className="field">
              <label htmlFor={id}>
                {k}
                {p.required ? <span className="req" title="required">*</span> : null} <span className="muted">{p.type ?? 'any'}</span>
              </label>
              {p.type === 'secret' ? (
                <select id={id} disabled={ro} value={/\$\{\{\s*secrets\.([A-Za-z0-9_-]+)\s*\}\}/.exec(v)?.[1] ?? ''} onChange={(e) => { commitInput(k, 'string', e.target.value ? `\${{ secrets.${e.target.value} }}` : ''); }}>
                  <option value="">(choose a secret)</option>
                  {secrets.map((s) => (
                    <option key={s} value={s}>
                      {s}
                    </option>
                  ))}
                </select>
              ) : (
                <input
                  id={id}
                  key={v}
                  defaultValue={v}
                  disabled={ro}
                  placeholder={p.default !== null && p.default !== undefined ? `default: ${valueText(p.default)}` : p.description ?? ''}
                  aria-invalid={!!problems[k]}
                  onBlur={(e) => {
                    if (e.currentTarget.value !== v) commitInput(k, p.type, e.currentTarget.value);
                  }}
                  onKeyDown={(e) => {
                    if (e.key === 'Enter' && e.currentTarget.value !== v) commitInput(k, p.type, e.currentTarget.value);
                  }}
                />
              )}
              {problems[k] ? <span className="error small">{problems[k]}</span> : null}
            </div>
          );
        })}
        {!contract ? (
          <div className="field">
            <input placeholder="new input name" aria-label="new input name" value={newKey} disabled={ro} onChange={(e) => { setNewKey(e.target.value); }} />
            <button type="button" disabled={ro || !/^[A-Za-z_][A-Za-z0-9_-]*$/.test(newKey)} onClick={() => { edit((t) => setInput(t, action.id, newKey, '')); setNewKey(''); }}>
              Add input
            </button>
          </div>
        ) : null}
      </fieldset>
      <fieldset className="row">
        <legend>Retry{action.retry ? null : <span className="muted"> · none set (attempts 1)</span>}</legend>
        <label>
          attempts <input type="number" min={1} value={retry.attempts} disabled={ro} onChange={(e) => { setRetry({ ...retry, attempts: e.target.value }); }} />
        </label>
        <label>
          backoff <input value={retry.backoff} disabled={ro} onChange={(e) => { setRetry({ ...retry, backoff: e.target.value }); }} />
        </label>
        <button type="button" disabled={ro || !/^\d+$/.test(retry.attempts)} onClick={() => { edit((t) => setActionField(t, action.id, 'retry', { attempts: Number(retry.attempts), backoff: retry.backoff })); }}>
          Set retry
        </button>
        {action.retry ? (
          <button type="button" disabled={ro} onClick={() => { edit((t) => setActionField(t, action.id, 'retry', undefined)); }}>
            Remove retry
          </button>
        ) : null}
      </fieldset>
    </aside>
  );
}

