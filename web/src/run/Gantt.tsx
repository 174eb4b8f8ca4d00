// The run's timeline: one bar per step from its start to its end (or now), on one time axis.
// Rows have a fixed height and only the ones in view are drawn, so a run of 1,000s of steps
// updates cheaply while it runs.
import { useState } from 'react';
import type { RunView } from '../api/types';
import { duration } from '../graph/runState';

/** Height of one row in px (the CSS of `.gantt-row` fixes it). */
export const ROW_H = 24;
/** Rows drawn above and below the visible ones. */
const OVERSCAN = 10;

/** The rows [from, to) to draw when `top` px of `rows` rows are scrolled past in a `height` px view. */
export function visibleRows(rows: number, top: number, height: number, rowH = ROW_H, overscan = OVERSCAN): { from: number; to: number } {
  const to = Math.min(rows, Math.ceil((top + height) / rowH) + overscan);
  const from = Math.min(to, Math.max(0, Math.floor(top / rowH) - overscan));
  return { from, to };
}

/** The time axis: the first start, and the last end (or `now` for steps still running). */
export function timeSpan(run: Pick<RunView, 'steps'>, now: number): { t0: number; span: number } {
  let t0 = Infinity;
  let t1 = -Infinity;
  for (const s of run.steps) {
    const a = s.started_at ? Date.parse(s.started_at) : NaN;
    if (Number.isFinite(a)) t0 = Math.min(t0, a);
    const b = s.finished_at ? Date.parse(s.finished_at) : s.started_at ? now : NaN;
    if (Number.isFinite(b)) t1 = Math.max(t1, b);
  }
  if (!Number.isFinite(t0)) t0 = now;
  return { t0, span: Math.max(1000, t1 - t0) };
}

export function Gantt({ run, now, selected, onSelect }: { run: RunView; now: number; selected: string | null; onSelect: (key: string) => void }) {
  const { t0, span } = timeSpan(run, now);
  const [view, setView] = useState({ top: 0, height: 900 });
  const { from, to } = visibleRows(run.steps.length, view.top, view.height);
  return (
    <div
      className="gantt"
      role="list"
      aria-label="timeline"
      ref={(el) => {
        if (el && el.clientHeight && el.clientHeight !== view.height) setView({ top: el.scrollTop, height: el.clientHeight });
      }}
      onScroll={(e) => {
        setView({ top: e.currentTarget.scrollTop, height: e.currentTarget.clientHeight });
      }}
    >
      <div className="gantt-axis">
        <span>0 s</span>
        <span>{(span / 2000).toFixed(1)} s</span>
        <span>{(span / 1000).toFixed(1)} s</span>
      </div>
      <div style={{ height: from * ROW_H }} />
      {run.steps.slice(from, to).map((s) => {
        const a = s.started_at ? Date.parse(s.started_at) : NaN;
        const b = s.finished_at ? Date.parse(s.finished_at) : now;
        const left = Number.isFinite(a) ? ((a - t0) / span) * 100 : 0;
        const width = Number.isFinite(a) ? Math.max(0.5, ((b - a) / span) * 100) : 0;
        return (
          <div key={s.key} role="listitem" className={`gantt-row${s.key === selected ? ' selected' : ''}`} data-status={s.status}>
            <button type="button" className="link gantt-name" onClick={() => { onSelect(s.key); }} title={s.stage}>
              {s.key}
            </button>
            <div className="gantt-track">
              {Number.isFinite(a) ? (
                <div className={`gantt-bar st-${s.status}`} style={{ left: `${left}%`, width: `${width}%` }} title={`${s.status} · ${duration(s.started_at ?? null, s.finished_at ?? null, now)}`} />
              ) : (
                <span className="muted small">{s.status}</span>
              )}
            </div>
          </div>
        );
      })}
      <div style={{ height: (run.steps.length - to) * ROW_H }} />
    </div>
  );
}
