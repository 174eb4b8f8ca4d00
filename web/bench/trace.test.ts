import { describe, expect, it } from 'vitest';
import { frames, pct, tasks, type TraceEvent } from './trace';

const meta: TraceEvent[] = [
  { name: 'thread_name', ph: 'M', pid: 1, tid: 1, ts: 0, args: { name: 'CrRendererMain' } },
  { name: 'thread_name', ph: 'M', pid: 1, tid: 2, ts: 0, args: { name: 'Compositor' } },
];
const task = (ts: number, dur: number, tdur: number, tid = 1): TraceEvent => ({ name: 'ThreadControllerImpl::RunTask', ph: 'X', pid: 1, tid, ts, dur, tdur });
const frame = (ts: number): TraceEvent => ({ name: 'AnimationFrame', ph: 's', pid: 1, tid: 1, ts });

describe('the trace reader', () => {
  it("takes the main thread's tasks with wall and CPU time in ms", () => {
    expect(tasks([...meta, task(2000, 60_000, 15_000), task(1000, 5000, 4000), task(0, 90_000, 90_000, 2)])).toEqual([
      { ts: 1000, wall: 5, cpu: 4 },
      { ts: 2000, wall: 60, cpu: 15 },
    ]);
  });
  it('sums the CPU of the tasks of each frame', () => {
    const f = frames([...meta, frame(0), task(100, 3000, 2000), task(5000, 4000, 3000), frame(16_000), task(17_000, 1000, 1000), frame(40_000)]);
    expect(f).toEqual([
      { wall: 16, cpu: 5 },
      { wall: 24, cpu: 1 },
    ]);
  });
  it('takes percentiles by nearest rank', () => {
    expect(pct([5, 1, 3, 2, 4], 50)).toBe(3);
    expect(pct([5, 1, 3, 2, 4], 95)).toBe(5);
    expect(pct([], 50)).toBe(0);
  });
});
