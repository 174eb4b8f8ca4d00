// Main-thread work from a Chromium trace (categories `toplevel`, `devtools.timeline`): the
// benchmark reports both wall-clock time and the thread's CPU time, because on a machine shared
// with other work a task's wall time includes waiting for a core.

export interface TraceEvent {
  name: string;
  ph: string;
  pid: number;
  tid: number;
  ts: number;
  dur?: number;
  tdur?: number;
  args?: { name?: string };
}

export interface Task {
  /** Start, µs (trace clock). */
  ts: number;
  /** Wall-clock duration, ms. */
  wall: number;
  /** CPU time of the main thread, ms. */
  cpu: number;
}

/** The categories `tasks` and `frames` read. */
export const CATEGORIES = ['toplevel', 'devtools.timeline', '__metadata'];

function mainThread(events: readonly TraceEvent[]): string | null {
  const m = events.find((e) => e.name === 'thread_name' && e.args?.name === 'CrRendererMain');
  return m ? `${m.pid}:${m.tid}` : null;
}

/** The renderer main thread's top-level tasks. */
export function tasks(events: readonly TraceEvent[]): Task[] {
  const main = mainThread(events);
  return events
    .filter((e) => e.ph === 'X' && e.name === 'ThreadControllerImpl::RunTask' && `${e.pid}:${e.tid}` === main)
    .map((e) => ({ ts: e.ts, wall: (e.dur ?? 0) / 1000, cpu: (e.tdur ?? 0) / 1000 }))
    .sort((a, b) => a.ts - b.ts);
}

/**
 * The main thread's work per frame: the frames start at Chromium's `AnimationFrame` marks; each
 * gets the tasks that start between its mark and the next one. Wall time is the interval.
 */
export function frames(events: readonly TraceEvent[]): { wall: number; cpu: number }[] {
  const main = mainThread(events);
  const starts = events
    .filter((e) => e.name === 'AnimationFrame' && e.ph === 's' && `${e.pid}:${e.tid}` === main)
    .map((e) => e.ts)
    .sort((a, b) => a - b);
  const ts = tasks(events);
  const out: { wall: number; cpu: number }[] = [];
  let k = 0;
  for (let i = 0; i + 1 < starts.length; i++) {
    const a = starts[i] ?? 0;
    const b = starts[i + 1] ?? 0;
    let cpu = 0;
    while (k < ts.length && (ts[k]?.ts ?? 0) < a) k++;
    for (let j = k; j < ts.length && (ts[j]?.ts ?? 0) < b; j++) cpu += ts[j]?.cpu ?? 0;
    out.push({ wall: (b - a) / 1000, cpu });
  }
  return out;
}

/** The `p`th percentile of `xs` (nearest rank). */
export function pct(xs: readonly number[], p: number): number {
  return [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))] ?? 0;
}
