// A step's log: the last MAX_LINES lines, each with a link (`…/steps/STEP#L42`). Lines are numbered
// from 1 within the step (the API's `seq` counts the whole run; it stays the key, for resume and
// dedupe, but a reader counts a step's own lines), and `#L42` is the step's 42nd line. Long logs stay
// cheap while lines stream in: lines are drawn in blocks of BLOCK that re-render only while they
// are still filling, and only the blocks near the visible part of the log are drawn (the others
// are empty boxes of the height they had), so opening a 5,000-line log or adding a line never
// makes the browser build or lay out thousands of elements.
import { memo, useEffect, useLayoutEffect, useRef, useState } from 'react';
import type { LogLine } from '../api/types';
import { Link } from '../Link';

/** Lines shown for one step (earlier ones stay in the store). */
export const MAX_LINES = 5000;
/** Lines per block. */
export const BLOCK = 100;
/** Height of one log line in px (`.log-line` in the CSS; a wrapped line is taller: pending blocks are estimates). */
export const LINE_H = 18;
/** Blocks drawn from the start at the end of the log, where a live log is followed. */
const EAGER_TAIL = 2;

/** The index in a step's lines of its line number `line` (1-based; -1: none, or not held). */
export function lineIndex(line: number | null, count: number): number {
  return line !== null && Number.isInteger(line) && line >= 1 && line <= count ? line - 1 : -1;
}

/** The blocks that show the last `max` of `length` lines: [start, end) indexes, aligned to `size`. */
export function logBlocks(length: number, max = MAX_LINES, size = BLOCK): { start: number; end: number }[] {
  const first = Math.max(0, length - max);
  const out: { start: number; end: number }[] = [];
  for (let b = Math.floor(first / size) * size; b < length; b += size) out.push({ start: Math.max(b, first), end: Math.min(b + size, length) });
  return out;
}

interface BlockProps {
  lines: readonly LogLine[];
  start: number;
  end: number;
  live: boolean;
  /** The box's height while the block is not drawn. */
  height: number;
  runId: string;
  step: string;
  target: number | null;
  attempts: boolean;
}

const Block = memo(function Block({ lines, start, end, live, height, runId, step, target, attempts }: BlockProps) {
  const id = start - (start % BLOCK);
  if (!live) return <div className="log-block pending" data-block={id} style={{ height }} />;
  const out = [];
  for (let i = start; i < end; i++) {
    const l = lines[i];
    if (!l) continue;
    const n = i + 1;
    out.push(
      <div key={l.seq} id={`L${n}`} className={`log-line${l.stream === 'stderr' ? ' stderr' : ''}${target === n ? ' target' : ''}`}>
        <Link className="ln" to={{ page: 'run', id: runId, step, line: n }} aria-label={`line ${n}`}>
          {n}
        </Link>
        <span className="txt">
          {attempts ? <span className="attempt">#{l.attempt} </span> : null}
          {l.text}
        </span>
      </div>,
    );
  }
  return (
    <div className="log-block" data-block={id}>
      {out}
    </div>
  );
});

export function LogView({ lines, count, runId, step, target, attempts, empty }: { lines: readonly LogLine[]; count: number; runId: string; step: string; target: number | null; attempts: boolean; empty: string }) {
  const ref = useRef<HTMLDivElement>(null);
  const follow = useRef(true);
  // Blocks near the visible part of the log (by their aligned start), and the height each block
  // had when it was last drawn (its box keeps that height while it is not drawn).
  const [near, setNear] = useState<ReadonlySet<number>>(() => new Set());
  const heights = useRef(new Map<number, number>());
  const blocks = logBlocks(count);
  const targetIndex = lineIndex(target, count);
  const id = (b: { start: number }) => b.start - (b.start % BLOCK);
  const isLive = (b: { start: number; end: number }, i: number) => near.has(id(b)) || i >= blocks.length - EAGER_TAIL || (targetIndex >= b.start && targetIndex < b.end);

  // Which blocks are within a screen or two of the visible part: those are drawn, the others
  // are boxes of their last height.
  useEffect(() => {
    const root = ref.current;
    if (!root) return;
    const io = new IntersectionObserver(
      (entries) => {
        let changed = false;
        const next = new Set(near);
        for (const e of entries) {
          const el = e.target as HTMLElement;
          const b = Number(el.dataset.block);
          if (!el.classList.contains('pending')) heights.current.set(b, e.boundingClientRect.height);
          if (e.isIntersecting && !next.has(b)) {
            next.add(b);
            changed = true;
          } else if (!e.isIntersecting && next.has(b)) {
            next.delete(b);
            changed = true;
          }
        }
        if (changed) setNear(next);
      },
      { root, rootMargin: '1000px 0px' },
    );
    root.querySelectorAll('.log-block').forEach((el) => {
      io.observe(el);
    });
    return () => {
      io.disconnect();
    };
  }, [near, blocks.length]);

  // Follow the end of a live log unless the reader scrolled up or a line is targeted.
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    if (target !== null) {
      el.querySelector(`#L${target}`)?.scrollIntoView({ block: 'center' });
      follow.current = false;
    } else if (follow.current) el.scrollTop = el.scrollHeight;
  }, [count, target]);

  return (
    <div
      className="log"
      ref={ref}
      role="log"
      aria-label={`log of ${step}`}
      onScroll={(e) => {
        const el = e.currentTarget;
        follow.current = el.scrollTop + el.clientHeight >= el.scrollHeight - 8;
      }}
    >
      {count === 0 ? <span className="muted">{empty}</span> : null}
      {blocks.map((b, i) => (
        <Block
          key={id(b)}
          lines={lines}
          start={b.start}
          end={b.end}
          live={isLive(b, i)}
          height={heights.current.get(id(b)) ?? (b.end - b.start) * LINE_H}
          runId={runId}
          step={step}
          target={targetIndex >= b.start && targetIndex < b.end ? target : null}
          attempts={attempts}
        />
      ))}
    </div>
  );
}
