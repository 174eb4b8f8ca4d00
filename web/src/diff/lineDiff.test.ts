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
        const side = (skip: string) => d.filter((l) => l.op !== skip).map((l) => l.text + (l.eol ? '\n' : '')).join('');
        expect(side('add')).toBe(a);
        expect(side('del')).toBe(b);
      }),
    );
  });
  it('shows one changed line as one deletion and one addition', () => {
    const d = lineDiff('a\nb\nc\n', 'a\nB\nc\n');
    expect(d.filter((l) => l.op !== 'same')).toEqual([
      { op: 'del', text: 'b', eol: true, a: 2, b: null },
      { op: 'add', text: 'B', eol: true, a: null, b: 2 },
    ]);
  });
  it('shows a new text as added lines only, and a lost final newline as a change', () => {
    expect(lineDiff('', 'a\nb\n').map((l) => `${l.op} ${l.text}`)).toEqual(['add a', 'add b']);
    expect(lineDiff('a\n', 'a').map((l) => [l.op, l.eol])).toEqual([
      ['del', true],
      ['add', false],
    ]);
  });
  it('cuts unchanged stretches into hunks', () => {
    const a = Array.from({ length: 20 }, (_, i) => `l${i}`).join('\n');
    const h = hunks(lineDiff(a, a.replace('l10', 'X')), 1);
    expect(h.map((l) => (l ? l.text : '…'))).toEqual(['l9', 'l10', 'X', 'l11']);
  });
});
