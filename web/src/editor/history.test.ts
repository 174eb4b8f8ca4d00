import { describe, expect, it } from 'vitest';
import { commit, current, redo, start, undo } from './history';

describe('one undo history', () => {
  it('undoes canvas and text edits in order', () => {
    let h = start('a');
    h = commit(h, 'ab', 'canvas', 0);
    h = commit(h, 'abc', 'text', 10_000);
    h = commit(h, 'abcd', 'text', 10_100); // grouped with the previous keystroke
    h = commit(h, 'abcde', 'canvas', 10_200);
    expect(current(h)).toBe('abcde');
    h = undo(h);
    expect(current(h)).toBe('abcd');
    h = undo(h);
    expect(current(h)).toBe('ab');
    h = redo(h);
    expect(current(h)).toBe('abcd');
    h = commit(h, 'X', 'canvas', 20_000);
    expect(redo(h)).toBe(h);
    expect(current(undo(h))).toBe('abcd');
  });
  it('ignores a change to the same text', () => {
    const h = start('a');
    expect(commit(h, 'a', 'canvas', 0)).toBe(h);
  });
});
