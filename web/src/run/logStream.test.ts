import { describe, expect, it, vi } from 'vitest';
import type { LogLine } from '../api/types';
import { LogBuffer, followLogs } from './logStream';

const line = (seq: number): LogLine => ({ seq, step: 's', action: 's', attempt: 1, stream: 'stdout', ts: '', text: `l${seq}` });

describe('the log buffer', () => {
  it('keeps each line once and in order across a resend', () => {
    const b = new LogBuffer();
    expect([1, 2, 3].map((s) => b.add(line(s)))).toEqual(['added', 'added', 'added']);
    // A reconnect that resends from 2 (Last-Event-ID lost): duplicates are dropped.
    expect([2, 3, 4].map((s) => b.add(line(s)))).toEqual(['duplicate', 'duplicate', 'added']);
    expect(b.lines.map((l) => l.seq)).toEqual([1, 2, 3, 4]);
  });
  it('reports a gap instead of accepting it', () => {
    const b = new LogBuffer();
    b.add(line(1));
    expect(b.add(line(3))).toBe('gap');
    expect(b.last).toBe(1);
  });
});

/** A scripted EventSource: the test opens it, sends lines and drops it. */
class FakeSource {
  static readonly instances: FakeSource[] = [];
  readyState = 0;
  onopen: (() => void) | null = null;
  onerror: (() => void) | null = null;
  private listeners = new Map<string, ((ev: MessageEvent<string>) => void)[]>();
  constructor(readonly url: string) {
    FakeSource.instances.push(this);
  }
  addEventListener(type: string, cb: (ev: MessageEvent<string>) => void) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), cb]);
  }
  close() {
    this.readyState = 2;
  }
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  send(type: string, data: unknown) {
    for (const cb of this.listeners.get(type) ?? []) cb({ data: JSON.stringify(data) } as MessageEvent<string>);
  }
  lines(...seqs: number[]) {
    for (const s of seqs) this.send('log', line(s));
  }
  /** The connection drops and EventSource gives up (a proxy closed it). */
  drop() {
    this.readyState = 2;
    this.onerror?.();
  }
}

describe('following a live log', () => {
  it('resumes after a dropped connection from the last line it has: no gap, no line twice', async () => {
    FakeSource.instances.length = 0;
    vi.useFakeTimers();
    // Node has no EventSource; followLogs reads EventSource.CLOSED.
    vi.stubGlobal('EventSource', { CLOSED: 2 });
    try {
      const b = new LogBuffer();
      const states: string[] = [];
      const stop = followLogs('run-1', b, { onLines: () => undefined, onEnd: () => undefined, onState: (s) => states.push(s) }, (u) => new FakeSource(u) as unknown as EventSource);
      const first = FakeSource.instances[0];
      if (!first) throw new Error('no source');
      expect(first.url).toBe('/api/v1/runs/run-1/logs/stream');
      first.open();
      first.lines(1, 2, 3);
      first.drop();
      expect(states).toEqual(['live', 'error']);
      await vi.advanceTimersByTimeAsync(2000);
      const second = FakeSource.instances[1];
      if (!second) throw new Error('not reopened');
      // It asks for what follows the last line it holds…
      expect(second.url).toBe('/api/v1/runs/run-1/logs/stream?after=3');
      second.open();
      // …and a server that resends from earlier anyway shows nothing twice.
      second.lines(2, 3, 4, 5);
      expect(b.lines.map((l) => l.seq)).toEqual([1, 2, 3, 4, 5]);
      // A line missing in between makes it reopen from what it holds instead of skipping it.
      second.lines(7);
      const third = FakeSource.instances[2];
      if (!third) throw new Error('gap not refilled');
      expect(second.readyState).toBe(2);
      expect(third.url).toBe('/api/v1/runs/run-1/logs/stream?after=5');
      third.open();
      third.lines(6, 7);
      third.send('end', { status: 'succeeded' });
      expect(b.lines.map((l) => l.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(states.at(-1)).toBe('ended');
      stop();
    } finally {
      vi.unstubAllGlobals();
      vi.useRealTimers();
    }
  });
});
