// One undo history for the editor: every change (canvas, forms, typing) is a new text. Typing in
// quick succession is grouped into one step.

export interface History {
  stack: string[];
  index: number;
  lastSource: string | null;
  lastAt: number;
}

export function start(text: string): History {
  return { stack: [text], index: 0, lastSource: null, lastAt: 0 };
}

export function current(h: History): string {
  return h.stack[h.index] ?? '';
}

const GROUP_MS = 800;
const MAX = 500;

export function commit(h: History, text: string, source: string, now: number): History {
  if (text === current(h)) return h;
  const group = source === 'text' && h.lastSource === 'text' && now - h.lastAt < GROUP_MS && h.index === h.stack.length - 1 && h.index > 0;
  const base = h.stack.slice(0, group ? h.index : h.index + 1);
  const stack = [...base, text].slice(-MAX);
  return { stack, index: stack.length - 1, lastSource: source, lastAt: now };
}

export function undo(h: History): History {
  return h.index > 0 ? { ...h, index: h.index - 1, lastSource: null } : h;
}

export function redo(h: History): History {
  return h.index < h.stack.length - 1 ? { ...h, index: h.index + 1, lastSource: null } : h;
}
