import { describe, expect, it } from 'vitest';
import type { LogLine } from '../api/types';
import { LogBuffer } from './logStream';

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
