import type { DiffLine } from './lineDiff';

/** A unified diff; `null` entries are elided unchanged stretches. */
export function DiffView({ lines }: { lines: (DiffLine | null)[] }) {
  if (lines.length === 0) return <p className="muted">No differences.</p>;
  return (
    <div className="diff" role="table" aria-label="diff">
      {lines.map((l, i) =>
        l === null ? (
          <div key={i} className="diff-gap" role="row">
            <span role="cell">⋯</span>
          </div>
        ) : (
          <div key={i} className={`diff-line diff-${l.op}`} role="row">
            <span className="ln" role="cell">{l.a ?? ''}</span>
            <span className="ln" role="cell">{l.b ?? ''}</span>
            <span className="mark" role="cell">{l.op === 'add' ? '+' : l.op === 'del' ? '−' : ' '}</span>
            <code role="cell">
              {l.text}
              {l.eol ? null : <span className="no-eol" title="no newline at the end of the text"> ⏎ missing</span>}
            </code>
          </div>
        ),
      )}
    </div>
  );
}
