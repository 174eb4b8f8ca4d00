import { describe, expect, it } from 'vitest';
import type { StepView } from '../api/types';
import { timeSpan, visibleRows } from './Gantt';

const step = (started: string | null, finished: string | null): StepView => ({ stage: 's', action: 'a', key: 'a', status: finished ? 'succeeded' : started ? 'running' : 'pending', attempts: 1, outputs: {}, inputs: {}, attempts_detail: [], error: null, exit_code: null, started_at: started, finished_at: finished });

describe('the timeline', () => {
  it('draws only the rows in view, plus a few around them', () => {
    expect(visibleRows(1000, 0, 240, 24, 10)).toEqual({ from: 0, to: 20 });
    expect(visibleRows(1000, 2400, 240, 24, 10)).toEqual({ from: 90, to: 120 });
    expect(visibleRows(1000, 99_999, 240, 24, 10)).toEqual({ from: 1000, to: 1000 });
    expect(visibleRows(5, 0, 900, 24, 10)).toEqual({ from: 0, to: 5 });
  });
  it('spans from the first start to the last end, or now while a step runs', () => {
    const now = Date.parse('2026-01-01T00:00:10Z');
    expect(timeSpan({ steps: [step('2026-01-01T00:00:02Z', '2026-01-01T00:00:05Z'), step(null, null)] }, now)).toEqual({ t0: Date.parse('2026-01-01T00:00:02Z'), span: 3000 });
    expect(timeSpan({ steps: [step('2026-01-01T00:00:02Z', null)] }, now).span).toBe(8000);
    expect(timeSpan({ steps: [step(null, null)] }, now)).toEqual({ t0: now, span: 1000 });
  });
});
