// Line diff for the save dialog, conflicts and revision pages (LCS on the part that differs).

/** A line; `eol: false` only for a last line without a newline (shown as such). */
export type DiffLine = { op: 'same' | 'add' | 'del'; text: string; eol: boolean; a: number | null; b: number | null };

const MAX_CELLS = 4_000_000;

/** The lines of a text, each with its newline: '' has none, 'a\n' one, 'a\nb' two. */
function lines(s: string): string[] {
  const out = s.split(/(?<=\n)/);
  return out.length === 1 && out[0] === '' ? [] : out;
}

function line(op: DiffLine['op'], t: string, a: number | null, b: number | null): DiffLine {
  const eol = t.endsWith('\n');
  return { op, text: eol ? t.slice(0, -1) : t, eol, a, b };
}

export function lineDiff(a: string, b: string): DiffLine[] {
  const A = lines(a);
  const B = lines(b);
  let pre = 0;
  while (pre < A.length && pre < B.length && A[pre] === B[pre]) pre++;
  let suf = 0;
  while (suf < A.length - pre && suf < B.length - pre && A[A.length - 1 - suf] === B[B.length - 1 - suf]) suf++;
  const out: DiffLine[] = [];
  for (let i = 0; i < pre; i++) out.push(line('same', A[i] ?? '', i + 1, i + 1));
  const am = A.slice(pre, A.length - suf);
  const bm = B.slice(pre, B.length - suf);
  if (am.length * bm.length > MAX_CELLS) {
    am.forEach((t, i) => out.push(line('del', t, pre + i + 1, null)));
    bm.forEach((t, i) => out.push(line('add', t, null, pre + i + 1)));
  } else {
    const n = am.length;
    const m = bm.length;
    const L = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
    for (let i = n - 1; i >= 0; i--) {
      const row = L[i] as Uint32Array;
      const below = L[i + 1] as Uint32Array;
      for (let j = m - 1; j >= 0; j--) row[j] = am[i] === bm[j] ? (below[j + 1] ?? 0) + 1 : Math.max(below[j] ?? 0, row[j + 1] ?? 0);
    }
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && am[i] === bm[j]) {
        out.push(line('same', am[i] ?? '', pre + i + 1, pre + j + 1));
        i++;
        j++;
      } else if (i < n && (j >= m || (L[i + 1]?.[j] ?? 0) >= (L[i]?.[j + 1] ?? 0))) {
        out.push(line('del', am[i] ?? '', pre + i + 1, null));
        i++;
      } else {
        out.push(line('add', bm[j] ?? '', null, pre + j + 1));
        j++;
      }
    }
  }
  for (let k = 0; k < suf; k++) {
    const ai = A.length - suf + k;
    const bi = B.length - suf + k;
    out.push(line('same', A[ai] ?? '', ai + 1, bi + 1));
  }
  return out;
}

/** The changed lines with `context` unchanged lines around them; `null` marks a gap. */
export function hunks(d: DiffLine[], context = 3): (DiffLine | null)[] {
  const keep = new Array<boolean>(d.length).fill(false);
  d.forEach((l, i) => {
    if (l.op !== 'same') for (let k = Math.max(0, i - context); k <= Math.min(d.length - 1, i + context); k++) keep[k] = true;
  });
  const out: (DiffLine | null)[] = [];
  let gap = false;
  d.forEach((l, i) => {
    if (keep[i]) {
      if (gap && out.length) out.push(null);
      gap = false;
      out.push(l);
    } else gap = true;
  });
  return out;
}
