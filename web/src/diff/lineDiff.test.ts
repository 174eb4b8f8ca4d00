import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hunks, lineDiff } from './lineDiff';

describe('line diff', () => {
  it('rebuilds both sides', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('a', 'b', 'c', ''), { maxLength: 30 }), fc.array(fc.constantFrom('a', 'b', 'c', ''), { maxLength: 30 }), (x, y) => {
        const a = x.join('\n');
        const b = y.join('\n');
        const d = lineDiff(a, b);
        expect(d.filter((l) => l.op !== 'add').map((l) => l.text).join('\n')).toBe(a);
        expect(d.filter((l) => l.op !== 'del').map((l) => l.text).join('\n')).toBe(b);
      }),
    );
  });
  it('shows one changed line as one deletion and one addition', () => {
    const d = lineDiff('a\nb\nc\n', 'a\nB\nc\n');
    expect(d.filter((l) => l.op !== 'same')).toEqual([
      { op: 'del', text: 'b', a: 2, b: null },
      { op: 'add', text: 'B', a: null, b: 2 },
    ]);
  });
  it('cuts unchanged stretches into hunks', () => {
    const a = Array.from({ length: 20 }, (_, i) => `l${i}`).join('\n');
    const h = hunks(lineDiff(a, a.replace('l10', 'X')), 1);
    expect(h.map((l) => (l ? l.text : '…'))).toEqual(['l9', 'l10', 'X', 'l11']);
  });
});
