// The run's timeline: one bar per step from its start to its end (or now), on one time axis.
import type { RunView } from '../api/types';
import { duration } from '../graph/runState';

export function Gantt({ run, now, selected, onSelect }: { run: RunView; now: number; selected: string | null; onSelect: (key: string) => void }) {
  const starts = run.steps.map((s) => (s.started_at ? Date.parse(s.started_at) : NaN)).filter(Number.isFinite);
  const t0 = starts.length ? Math.min(...starts) : now;
  const ends = run.steps.map((s) => (s.finished_at ? Date.parse(s.finished_at) : s.started_at ? now : NaN)).filter(Number.isFinite);
  const t1 = Math.max(t0 + 1000, ...ends);
  const span = t1 - t0;
  return (
    <div className="gantt" role="list" aria-label="timeline">
      <div className="gantt-axis">
        <span>0 s</span>
        <span>{(span / 2000).toFixed(1)} s</span>
        <span>{(span / 1000).toFixed(1)} s</span>
      </div>
      {run.steps.map((s) => {
        const a = s.started_at ? Date.parse(s.started_at) : NaN;
        const b = s.finished_at ? Date.parse(s.finished_at) : now;
        const left = Number.isFinite(a) ? ((a - t0) / span) * 100 : 0;
        const width = Number.isFinite(a) ? Math.max(0.5, ((b - a) / span) * 100) : 0;
        return (
          <div key={s.key} role="listitem" className={`gantt-row${s.key === selected ? ' selected' : ''}`}>
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
    </div>
  );
}
