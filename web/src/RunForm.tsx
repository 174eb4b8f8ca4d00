// "Run" with a form generated from the workflow's typed `inputs:`.
import { useState, type SyntheticEvent } from 'react';
import { ApiError, api, enc } from './api/client';
import type { RunCreated } from './api/types';
import { navigate } from './router';
import type { InputDecl } from './yaml/model';
import { typedValue } from './typed';

function initial(d: InputDecl): string {
  if (d.default === null || d.default === undefined) return '';
  return typeof d.default === 'string' ? d.default : JSON.stringify(d.default);
}

/** The value sent for a workflow input (nothing: the default applies), or a problem with it. */
export function convertInput(d: InputDecl, raw: string): { value?: unknown; problem?: string } {
  if (raw === '') return d.required && d.default === null ? { problem: 'required' } : {};
  return typedValue(d.type, raw, { expressions: false });
}

export function RunForm({ workflow, revision, inputs, blocked, onClose }: { workflow: string; revision: number | null; inputs: Record<string, InputDecl>; blocked: string | null; onClose?: () => void }) {
  const [values, setValues] = useState<Record<string, string>>(() => Object.fromEntries(Object.entries(inputs).map(([k, d]) => [k, initial(d)])));
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const problems = Object.fromEntries(Object.entries(inputs).map(([k, d]) => [k, convertInput(d, values[k] ?? '').problem]));
  const submit = (e: SyntheticEvent) => {
    e.preventDefault();
    const body: Record<string, unknown> = {};
    for (const [k, d] of Object.entries(inputs)) {
      const c = convertInput(d, values[k] ?? '');
      if (c.value !== undefined) body[k] = c.value;
    }
    setBusy(true);
    setError(null);
    api
      .post<RunCreated>(`/workflows/${enc(workflow)}/runs`, { body: revision === null ? { inputs: body } : { inputs: body, revision } })
      .then((r) => {
        navigate({ page: 'run', id: r.id, step: null, line: null });
      })
      .catch((err: unknown) => {
        setError(err instanceof ApiError ? `${err.message}${Array.isArray(err.details) ? `: ${err.details.map((d) => JSON.stringify(d)).join('; ')}` : ''}` : String(err));
      })
      .finally(() => {
        setBusy(false);
      });
  };
  const invalid = Object.values(problems).some(Boolean);
  return (
    <form className="run-form" onSubmit={submit} aria-label="run inputs">
      {Object.entries(inputs).map(([k, d]) => (
        <div key={k} className="field">
          <label htmlFor={`in-${k}`}>
            {k}
            {d.required ? <span className="req" title="required">*</span> : null} <span className="muted">{d.type}</span>
          </label>
          {d.type === 'bool' ? (
            <select id={`in-${k}`} value={values[k] ?? ''} onChange={(e) => { setValues({ ...values, [k]: e.target.value }); }}>
              <option value="">(default)</option>
              <option value="true">true</option>
              <option value="false">false</option>
            </select>
          ) : (
            <input
              id={`in-${k}`}
              type={d.type === 'secret' ? 'password' : d.type === 'int' || d.type === 'float' ? 'number' : 'text'}
              value={values[k] ?? ''}
              placeholder={d.description ?? ''}
              aria-invalid={!!problems[k]}
              onChange={(e) => { setValues({ ...values, [k]: e.target.value }); }}
            />
          )}
          {problems[k] ? <span className="error small">{problems[k]}</span> : null}
        </div>
      ))}
      {Object.keys(inputs).length === 0 ? <p className="muted">This workflow takes no inputs.</p> : null}
      {error ? <p role="alert" className="error">{error}</p> : null}
      <div className="row">
        <button type="submit" className="primary" disabled={busy || invalid || blocked !== null} title={blocked ?? undefined}>
          Run
        </button>
        {onClose ? (
          <button type="button" onClick={onClose}>
            Close
          </button>
        ) : null}
        {blocked ? <span className="muted small">{blocked}</span> : null}
      </div>
    </form>
  );
}
