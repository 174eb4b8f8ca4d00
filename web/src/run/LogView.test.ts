import { describe, expect, it } from 'vitest';
import { lineIndex, logBlocks } from './LogView';

describe('the log view', () => {
  it('shows the last lines in blocks aligned to the block size', () => {
    expect(logBlocks(0)).toEqual([]);
    expect(logBlocks(250, 5000, 100)).toEqual([
      { start: 0, end: 100 },
      { start: 100, end: 200 },
      { start: 200, end: 250 },
    ]);
  });
  it('shows exactly the last `max` lines, so only the first and last blocks change as lines arrive', () => {
    const a = logBlocks(5150, 5000, 100);
    expect(a[0]).toEqual({ start: 150, end: 200 });
    expect(a.at(-1)).toEqual({ start: 5100, end: 5150 });
    expect(a.reduce((n, b) => n + b.end - b.start, 0)).toBe(5000);
    const b = logBlocks(5151, 5000, 100);
    // every block in between is the same, so it is not drawn again
    expect(b.slice(1, -1)).toEqual(a.slice(1, -1));
  });
  it("numbers a step's lines from 1, whatever their run-wide seq", () => {
    expect(lineIndex(1, 2)).toBe(0);
    expect(lineIndex(2, 2)).toBe(1);
    expect(lineIndex(3, 2)).toBe(-1);
    expect(lineIndex(0, 2)).toBe(-1);
    expect(lineIndex(1.5, 2)).toBe(-1);
    expect(lineIndex(null, 2)).toBe(-1);
  });
});
