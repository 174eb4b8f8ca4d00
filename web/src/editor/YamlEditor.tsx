// The YAML pane: CodeMirror 6. Its text is the editor's single source of truth; changes made on
// the canvas arrive as new `value`s and are applied as one minimal change (the cursor stays).
// Undo/redo go to the editor's one history (not CodeMirror's own).
import { yaml } from '@codemirror/lang-yaml';
import { bracketMatching, foldGutter, indentOnInput, syntaxHighlighting, defaultHighlightStyle } from '@codemirror/language';
import { defaultKeymap, indentWithTab } from '@codemirror/commands';
import { linter, lintGutter, setDiagnostics, type Diagnostic as CmDiagnostic } from '@codemirror/lint';
import { highlightSelectionMatches, searchKeymap } from '@codemirror/search';
import { EditorState, type Extension } from '@codemirror/state';
import { EditorView, drawSelection, highlightActiveLine, keymap, lineNumbers } from '@codemirror/view';
import { useEffect, useRef } from 'react';

export interface LineProblem {
  line: number;
  col: number;
  message: string;
}

interface Props {
  value: string;
  onChange: (text: string) => void;
  onUndo: () => void;
  onRedo: () => void;
  problems: LineProblem[];
  readOnly: boolean;
  /** Scroll to and select this line (1-based) when it changes. */
  reveal?: { line: number; seq: number } | null;
}

/** The nonce the server put into `<meta name="csp-nonce">` for style elements (empty if none). */
function cspNonce(): string {
  return document.querySelector('meta[name="csp-nonce"]')?.getAttribute('content') ?? '';
}

export function minimalChange(from: string, to: string): { from: number; to: number; insert: string } | null {
  if (from === to) return null;
  let p = 0;
  const max = Math.min(from.length, to.length);
  while (p < max && from.charCodeAt(p) === to.charCodeAt(p)) p++;
  let s = 0;
  while (s < max - p && from.charCodeAt(from.length - 1 - s) === to.charCodeAt(to.length - 1 - s)) s++;
  return { from: p, to: from.length - s, insert: to.slice(p, to.length - s) };
}

function toCm(state: EditorState, problems: LineProblem[]): CmDiagnostic[] {
  return problems.map((p) => {
    const line = state.doc.line(Math.min(Math.max(1, p.line), state.doc.lines));
    const from = Math.min(line.from + Math.max(0, p.col - 1), line.to);
    return { from, to: line.to > from ? line.to : from, severity: 'error', message: p.message };
  });
}

export function YamlEditor({ value, onChange, onUndo, onRedo, problems, readOnly, reveal }: Props) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const cb = useRef({ onChange, onUndo, onRedo });
  cb.current = { onChange, onUndo, onRedo };
  const applying = useRef(false);

  useEffect(() => {
    if (!host.current) return;
    const extensions: Extension[] = [
      lineNumbers(),
      foldGutter(),
      drawSelection(),
      indentOnInput(),
      bracketMatching(),
      highlightActiveLine(),
      highlightSelectionMatches(),
      syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
      yaml(),
      lintGutter(),
      linter(null),
      keymap.of([
        { key: 'Mod-z', run: () => { cb.current.onUndo(); return true; }, preventDefault: true },
        { key: 'Mod-Shift-z', run: () => { cb.current.onRedo(); return true; }, preventDefault: true },
        { key: 'Mod-y', run: () => { cb.current.onRedo(); return true; }, preventDefault: true },
        indentWithTab,
        ...defaultKeymap,
        ...searchKeymap,
      ]),
      EditorView.contentAttributes.of({ 'aria-label': 'YAML' }),
      EditorView.cspNonce.of(cspNonce()),
      EditorView.editable.of(!readOnly),
      EditorState.readOnly.of(readOnly),
      EditorView.updateListener.of((u) => {
        if (u.docChanged && !applying.current) cb.current.onChange(u.state.doc.toString());
      }),
    ];
    const v = new EditorView({ state: EditorState.create({ doc: value, extensions }), parent: host.current });
    view.current = v;
    return () => {
      v.destroy();
      view.current = null;
    };
    // The view is created once per mount (and per read-only change); `value` updates come below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [readOnly]);

  useEffect(() => {
    const v = view.current;
    if (!v) return;
    const change = minimalChange(v.state.doc.toString(), value);
    if (!change) return;
    applying.current = true;
    try {
      v.dispatch({ changes: change });
    } finally {
      applying.current = false;
    }
  }, [value]);

  useEffect(() => {
    const v = view.current;
    if (!v) return;
    v.dispatch(setDiagnostics(v.state, toCm(v.state, problems)));
  }, [problems, value]);

  useEffect(() => {
    const v = view.current;
    if (!v || !reveal) return;
    const line = v.state.doc.line(Math.min(Math.max(1, reveal.line), v.state.doc.lines));
    v.dispatch({ selection: { anchor: line.from, head: line.to }, effects: EditorView.scrollIntoView(line.from, { y: 'center' }) });
  }, [reveal]);

  return <div className="yaml-editor" ref={host} />;
}
