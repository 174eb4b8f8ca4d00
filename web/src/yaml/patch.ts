// Lossless YAML edits. Every edit the UI makes (canvas, forms) becomes a small list of text splices
// computed from the source ranges of the `yaml` package's parsed Document: only the bytes of what
// was edited change; comments, key order, quoting, blank lines and anchors elsewhere stay
// byte-identical, and an edit that changes nothing returns the text unchanged.
import { isAlias, isMap, isPair, isScalar, isSeq, parseDocument, visit, type Document, type Node, type Pair, type YAMLMap, type YAMLSeq } from 'yaml';

export type PathSeg = string | number;
export type Path = readonly PathSeg[];

/** Replace `text.slice(from, to)` by `insert`. */
export interface Splice {
  from: number;
  to: number;
  insert: string;
}

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export class PatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PatchError';
  }
}

export function parse(text: string): Document.Parsed {
  return parseDocument(text, { keepSourceTokens: false, uniqueKeys: false });
}

/** Applies non-overlapping splices (any order) to `text`. */
export function applySplices(text: string, splices: readonly Splice[]): string {
  const sorted = [...splices].sort((a, b) => a.from - b.from || a.to - b.to);
  let out = '';
  let pos = 0;
  for (const s of sorted) {
    if (s.from < pos) throw new PatchError('overlapping edits');
    out += text.slice(pos, s.from) + s.insert;
    pos = s.to;
  }
  return out + text.slice(pos);
}

// ---------------------------------------------------------------------------------------------
// Text helpers

function lineStart(text: string, pos: number): number {
  return text.lastIndexOf('\n', pos - 1) + 1;
}

function lineEndIncl(text: string, pos: number): number {
  const nl = text.indexOf('\n', pos);
  return nl < 0 ? text.length : nl + 1;
}

/** The `-` that introduces the block sequence item starting at `itemStart`. */
function dashBefore(text: string, itemStart: number): number {
  return text.lastIndexOf('-', itemStart - 1);
}

function column(text: string, pos: number): number {
  return pos - lineStart(text, pos);
}

function range(n: Node): [number, number, number] {
  const r = n.range;
  if (!r) throw new PatchError('node without a source range');
  return r;
}

/** Where a pair's text ends: after its value (and trailing comment), through the end of that line. */
function pairEnd(text: string, pair: Pair): number {
  const v = pair.value as Node | null;
  const k = pair.key as Node;
  const end = v && v.range ? range(v)[2] : range(k)[2];
  return text[end - 1] === '\n' ? end : lineEndIncl(text, end);
}

function itemEnd(text: string, item: Node): number {
  const end = range(item)[2];
  return text[end - 1] === '\n' ? end : lineEndIncl(text, end);
}

// ---------------------------------------------------------------------------------------------
// Rendering new values in the house style of the examples

const PLAIN_SAFE_FLOW = /^[^\s,[\]{}#&*!|>'"%@`:?-][^,[\]{}#]*$/;

function isPlainSafe(s: string, flow: boolean): boolean {
  if (s === '' || s.includes('${{') || s !== s.trim() || /[\n\r\t]/.test(s)) return false;
  if (s.includes(': ') || s.includes(' #') || s.endsWith(':')) return false;
  // Would it read back as this same string (not a number, bool, null)?
  const doc = parseDocument(`k: ${s}\n`);
  const v: unknown = doc.errors.length ? undefined : doc.get('k');
  if (v !== s) return false;
  if (flow && !PLAIN_SAFE_FLOW.test(s)) return false;
  if (!flow && /^[[\]{}#&*!|>'"%@`,]/.test(s)) return false;
  if (/^[-?:](\s|$)/.test(s)) return false;
  return true;
}

export function doubleQuoted(s: string): string {
  // JSON's string escapes are valid YAML double-quoted escapes.
  return JSON.stringify(s);
}

function singleQuoted(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

export type ScalarStyle = 'PLAIN' | 'QUOTE_DOUBLE' | 'QUOTE_SINGLE' | 'BLOCK_LITERAL' | 'BLOCK_FOLDED';

function isScalarJson(v: Json): v is null | boolean | number | string {
  return v === null || typeof v !== 'object';
}

/** One scalar, single-line (block scalars are rendered by the callers that can place them). */
export function renderScalar(v: null | boolean | number | string, flow: boolean, prefer?: ScalarStyle): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new PatchError(`cannot write the number ${v}`);
    return String(v);
  }
  if (prefer === 'QUOTE_SINGLE' && !/[\n\r\t\\]/.test(v)) return singleQuoted(v);
  if (prefer === 'QUOTE_DOUBLE') return doubleQuoted(v);
  return isPlainSafe(v, flow) ? v : doubleQuoted(v);
}

function renderKey(k: string): string {
  return isPlainSafe(k, true) ? k : doubleQuoted(k);
}

/** A single-line flow rendering: `{ a: 1, b: "x" }`, `[a, b]`. */
export function renderFlow(v: Json): string {
  if (isScalarJson(v)) return renderScalar(v, true);
  if (Array.isArray(v)) return `[${v.map(renderFlow).join(', ')}]`;
  const entries = Object.entries(v);
  if (entries.length === 0) return '{}';
  return `{ ${entries.map(([k, x]) => `${renderKey(k)}: ${renderFlow(x)}`).join(', ')} }`;
}

function compactEnough(v: Json): boolean {
  if (isScalarJson(v)) return true;
  if (Array.isArray(v)) return v.every((x) => isScalarJson(x) && !(typeof x === 'string' && x.includes('\n'))) && renderFlow(v).length <= 80;
  return (
    Object.values(v).every((x) => isScalarJson(x) && !(typeof x === 'string' && x.includes('\n'))) &&
    renderFlow(v).length <= 80
  );
}

function blockLiteral(s: string, indent: number): string {
  const chomp = s.endsWith('\n') ? (s.endsWith('\n\n') ? '+' : '') : '-';
  const body = s.endsWith('\n') ? s.slice(0, s.endsWith('\n\n') ? s.length : -1) : s;
  const pad = ' '.repeat(indent);
  const lines = body.split('\n').map((l) => (l === '' ? '' : pad + l));
  const leadingSpace = /^\s/.test(body) ? String(indent) : '';
  return `|${leadingSpace}${chomp}\n${lines.join('\n')}${chomp === '+' ? '' : '\n'}`;
}

/**
 * The text after `key` for a pair in a block map whose key sits at column `indent`: `: value`
 * on one line, or `:` and nested lines. Ends with a newline.
 */
function renderPairRest(v: Json, indent: number): string {
  if (typeof v === 'string' && v.includes('\n')) return `: ${blockLiteral(v, indent + 2)}`;
  if (isScalarJson(v) || compactEnough(v)) return `: ${renderFlow(v)}\n`;
  if (Array.isArray(v)) {
    return `:\n${v.map((item) => `${' '.repeat(indent + 2)}- ${renderBlockItem(item, indent + 4)}`).join('')}`;
  }
  return `:\n${renderBlockMap(v, indent + 2)}`;
}

/** A block map whose keys sit at column `indent`, every line indented, ending with a newline. */
function renderBlockMap(v: { [k: string]: Json }, indent: number): string {
  return Object.entries(v)
    .map(([k, x]) => `${' '.repeat(indent)}${renderKey(k)}${renderPairRest(x, indent)}`)
    .join('');
}

/** The text after `- ` of a block sequence item whose content sits at column `indent`. */
function renderBlockItem(v: Json, indent: number): string {
  if (typeof v === 'string' && v.includes('\n')) return blockLiteral(v, indent);
  if (isScalarJson(v) || Array.isArray(v) || Object.keys(v).length === 0) return `${renderFlow(v)}\n`;
  const entries = Object.entries(v);
  return entries
    .map(([k, x], i) => `${i === 0 ? '' : ' '.repeat(indent)}${renderKey(k)}${renderPairRest(x, indent)}`)
    .join('');
}

// ---------------------------------------------------------------------------------------------
// Finding nodes

interface Found {
  node: Node | null; // null: the pair exists with an empty value
  pair: Pair | null; // the pair holding it, when the parent is a map
  parent: YAMLMap | YAMLSeq | null;
}

function childOf(parent: Node, seg: PathSeg): Found | undefined {
  if (isMap(parent) && typeof seg === 'string') {
    for (const p of parent.items) {
      const k = p.key;
      if (isScalar(k) && String(k.value) === seg) return { node: p.value as Node | null, pair: p, parent };
    }
    return undefined;
  }
  if (isSeq(parent) && typeof seg === 'number') {
    const item = parent.items[seg];
    if (item === undefined) return undefined;
    return { node: item as Node, pair: null, parent };
  }
  return undefined;
}

/** The node at `path`, or undefined if some part of the path is missing. */
export function find(doc: Document, path: Path): Found | undefined {
  let cur: Found = { node: doc.contents, pair: null, parent: null };
  for (const seg of path) {
    if (!cur.node) return undefined;
    if (isAlias(cur.node)) throw new PatchError(`cannot edit through the alias at ${path.join('.')}`);
    const next = childOf(cur.node, seg);
    if (!next) return undefined;
    cur = next;
  }
  return cur;
}

function valueAt(doc: Document, path: Path): unknown {
  let cur: unknown = doc.toJS({ maxAliasCount: -1 });
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return cur;
}

function jsonEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

// ---------------------------------------------------------------------------------------------
// Operations

export type Op =
  | { op: 'set'; path: Path; value: Json }
  | { op: 'delete'; path: Path }
  | { op: 'insert'; path: Path; index?: number; value: Json };

/** The splices that carry out `op` on `text`. */
export function plan(text: string, op: Op): Splice[] {
  const doc = parse(text);
  if (doc.errors.length > 0) throw new PatchError(`the YAML does not parse: ${doc.errors[0]?.message ?? ''}`);
  switch (op.op) {
    case 'set':
      return planSet(text, doc, op.path, op.value);
    case 'delete':
      return planDelete(text, doc, op.path);
    case 'insert':
      return planInsert(text, doc, op.path, op.value, op.index);
  }
}

export function apply(text: string, ...ops: Op[]): string {
  let t = text;
  for (const op of ops) t = applySplices(t, plan(t, op));
  return t;
}

function planSet(text: string, doc: Document, path: Path, value: Json): Splice[] {
  if (path.length === 0) throw new PatchError('cannot replace the whole document');
  const f = find(doc, path);
  if (f) {
    if (jsonEqual(valueAt(doc, path), value)) return [];
    if (f.node && isAlias(f.node)) throw new PatchError(`${path.join('.')} is an alias; edit its anchor instead`);
    return replaceNode(text, f, value);
  }
  // Missing: create it under the deepest existing map.
  for (let k = path.length - 1; k >= 0; k--) {
    const parentPath = path.slice(0, k);
    const pf = find(doc, parentPath);
    if (!pf) continue;
    let v: Json = value;
    for (let i = path.length - 1; i > k; i--) {
      const seg = path[i];
      if (typeof seg !== 'string') throw new PatchError(`no item ${String(seg)} at ${path.slice(0, i).join('.')}`);
      v = { [seg]: v };
    }
    const seg = path[k];
    if (typeof seg !== 'string') throw new PatchError(`no item ${String(seg)} at ${parentPath.join('.')}`);
    if (!pf.node) {
      // `key:` with an empty value: give it a map.
      if (!pf.pair) throw new PatchError('empty document');
      return replaceNode(text, pf, { [seg]: v });
    }
    if (!isMap(pf.node)) throw new PatchError(`${parentPath.join('.') || 'the document'} is not a map`);
    return [insertPair(text, pf.node, seg, v)];
  }
  throw new PatchError(`cannot set ${path.join('.')}`);
}

/** The indentation (column) of the keys of a block map. */
function mapIndent(text: string, map: YAMLMap): number {
  const first = map.items[0];
  if (!first) throw new PatchError('empty block map');
  return column(text, range(first.key as Node)[0]);
}

function insertPair(text: string, map: YAMLMap, key: string, value: Json): Splice {
  if (map.flow) {
    const [, valueEnd] = range(map);
    const close = text.lastIndexOf('}', valueEnd - 1);
    if (close < 0) throw new PatchError('flow map without a closing brace');
    let before = close;
    while (before > 0 && (text[before - 1] === ' ' || text[before - 1] === '\n')) before--;
    const empty = map.items.length === 0;
    const pairText = `${renderKey(key)}: ${renderFlow(value)}`;
    if (empty) return { from: before, to: close, insert: ` ${pairText} ` };
    return { from: before, to: before, insert: `, ${pairText}` };
  }
  const last = map.items[map.items.length - 1];
  if (!last) throw new PatchError('empty block map');
  const indent = mapIndent(text, map);
  const at = pairEnd(text, last);
  const nl = text[at - 1] === '\n' ? '' : '\n';
  return { from: at, to: at, insert: `${nl}${' '.repeat(indent)}${renderKey(key)}${renderPairRest(value, indent)}` };
}

/** The style of the scalar to keep, or of a new one. */
function styleOf(n: Node | null): ScalarStyle | undefined {
  if (n && isScalar(n)) return (n).type;
  return undefined;
}

function inFlow(f: Found): boolean {
  return !!f.parent && !!(f.parent as { flow?: boolean }).flow;
}

function replaceNode(text: string, f: Found, value: Json): Splice[] {
  const n = f.node;
  const flow = inFlow(f);
  if (n && isScalar(n) && isScalarJson(value)) {
    const [start, valueEnd] = range(n);
    const style = styleOf(n);
    if (style === 'BLOCK_LITERAL' || style === 'BLOCK_FOLDED') {
      if (typeof value === 'string' && value.includes('\n')) {
        const indent = blockIndent(text, start, valueEnd);
        const rendered = blockLiteral(value, indent);
        // valueEnd is after the block's last newline; keep the text after it.
        return [{ from: start, to: valueEnd, insert: rendered }];
      }
      const rendered = renderScalar(value, false);
      return [{ from: start, to: valueEnd, insert: `${rendered}\n` }];
    }
    // A multi-line value becomes a block literal, unless something (a comment) follows the
    // scalar on its line: then it stays on the line, double-quoted.
    const restOfLine = text.slice(valueEnd, lineEndIncl(text, valueEnd)).trim();
    if (typeof value === 'string' && value.includes('\n') && !flow && f.pair && restOfLine === '') {
      const indent = column(text, range(f.pair.key as Node)[0]);
      return [{ from: start, to: valueEnd, insert: blockLiteral(value, indent + 2).replace(/\n$/, '') }];
    }
    return [{ from: start, to: valueEnd, insert: renderScalar(value, flow, style) }];
  }
  // A collection or an empty value: replace the whole value.
  if (flow || (n && (n as { flow?: boolean }).flow) || isScalarJson(value) || compactEnough(value)) {
    if (!n) return [emptyValue(text, f, ` ${renderFlow(value)}`)];
    const [start, valueEnd] = range(n);
    if (!flow && !isScalarJson(value) && !compactEnough(value)) return replaceBlock(text, f, value);
    const keepNl = text[valueEnd - 1] === '\n' && !(n as { flow?: boolean }).flow;
    return [{ from: start, to: keepNl ? valueEnd - 1 : valueEnd, insert: renderFlow(value) }];
  }
  return replaceBlock(text, f, value);
}

function blockIndent(text: string, start: number, valueEnd: number): number {
  const firstNl = text.indexOf('\n', start);
  if (firstNl < 0 || firstNl + 1 >= valueEnd) return 2;
  const m = /^ */.exec(text.slice(firstNl + 1, valueEnd));
  return m ? m[0].length : 2;
}

/** `key:` followed by nothing: write `insert` after the colon. */
function emptyValue(text: string, f: Found, insert: string): Splice {
  if (!f.pair) throw new PatchError('empty value outside a map');
  const keyEnd = range(f.pair.key as Node)[1];
  const colon = text.indexOf(':', keyEnd);
  if (colon < 0) throw new PatchError('no colon after key');
  return { from: colon + 1, to: colon + 1, insert };
}

/** Replace a value by a block rendering (the pair's own line keeps its key). */
function replaceBlock(text: string, f: Found, value: Json): Splice[] {
  if (isScalarJson(value)) throw new PatchError('internal: block rendering of a scalar');
  if (f.pair) {
    const keyNode = f.pair.key as Node;
    const indent = column(text, range(keyNode)[0]);
    const keyEnd = range(keyNode)[1];
    const end = pairEnd(text, f.pair);
    return [{ from: keyEnd, to: end, insert: renderPairRest(value, indent) }];
  }
  if (f.parent && isSeq(f.parent) && f.node) {
    const start = range(f.node)[0];
    const indent = column(text, start);
    return [{ from: start, to: itemEnd(text, f.node), insert: renderBlockItem(value, indent) }];
  }
  throw new PatchError('cannot replace this value');
}

function planDelete(text: string, doc: Document, path: Path): Splice[] {
  const f = find(doc, path);
  if (!f) return [];
  const parent = f.parent;
  if (!parent) throw new PatchError('cannot delete the whole document');
  const siblings = parent.items.length;
  if (parent.flow) return [deleteFlowItem(text, parent, f)];
  if (siblings === 1 && path.length > 1) {
    // Deleting the last entry of a block collection: remove the collection's own entry.
    const up = find(doc, path.slice(0, -1));
    if (up && up.pair) return planDelete(text, doc, path.slice(0, -1));
    if (up && up.parent && isSeq(up.parent)) return planDelete(text, doc, path.slice(0, -1));
  }
  if (f.pair) {
    const keyStart = range(f.pair.key as Node)[0];
    const start = lineStart(text, keyStart);
    if (text.slice(start, keyStart).trim() !== '') {
      // `- key: v` (the first key of a sequence item): pull the next key up onto the dash line.
      const idx = (parent.items as Pair[]).indexOf(f.pair);
      const next = parent.items[idx + 1] as Pair | undefined;
      if (!next) throw new PatchError('cannot delete the only key of a list item');
      return [{ from: keyStart, to: range(next.key as Node)[0], insert: '' }];
    }
    return [{ from: start, to: pairEnd(text, f.pair), insert: '' }];
  }
  if (f.node) {
    const itemStart = range(f.node)[0];
    const dash = dashBefore(text, itemStart);
    const ls = lineStart(text, dash);
    if (text.slice(ls, dash).trim() !== '') throw new PatchError('cannot delete an item that shares a line');
    return [{ from: ls, to: itemEnd(text, f.node), insert: '' }];
  }
  return [];
}

function deleteFlowItem(text: string, parent: YAMLMap | YAMLSeq, f: Found): Splice {
  let start: number;
  let end: number;
  if (f.pair) {
    start = range(f.pair.key as Node)[0];
    const v = f.pair.value as Node | null;
    end = v ? range(v)[1] : range(f.pair.key as Node)[1];
  } else if (f.node) {
    [start, end] = range(f.node);
  } else {
    throw new PatchError('nothing to delete');
  }
  const items = parent.items.length;
  if (items === 1) {
    const [pStart, pEnd] = range(parent);
    const open = pStart;
    const close = text.lastIndexOf(isMap(parent) ? '}' : ']', pEnd - 1);
    return { from: open + 1, to: close, insert: '' };
  }
  // Remove `item, ` or, for the last item, `, item`.
  let after = end;
  while (after < text.length && /[ \t]/.test(text.charAt(after))) after++;
  if (text[after] === ',') {
    after++;
    while (after < text.length && /[ \t\n]/.test(text.charAt(after))) after++;
    return { from: start, to: after, insert: '' };
  }
  let before = start;
  while (before > 0 && /[ \t\n]/.test(text.charAt(before - 1))) before--;
  if (text[before - 1] === ',') before--;
  return { from: before, to: end, insert: '' };
}

function planInsert(text: string, doc: Document, path: Path, value: Json, index?: number): Splice[] {
  const f = find(doc, path);
  if (!f) {
    return planSet(text, doc, path, [value]);
  }
  const seq = f.node;
  if (!seq || (isScalar(seq) && seq.value === null)) return replaceNode(text, f, [value]);
  if (!isSeq(seq)) throw new PatchError(`${path.join('.')} is not a list`);
  const n = seq.items.length;
  const at = index === undefined || index > n ? n : index;
  if (seq.flow) {
    if (n === 0) {
      // `[]`: write the list out in the style a new list would get.
      return replaceNode(text, { ...f, node: seq }, [value]);
    }
    if (at < n) {
      const item = seq.items[at] as Node;
      return [{ from: range(item)[0], to: range(item)[0], insert: `${renderFlow(value)}, ` }];
    }
    const last = seq.items[n - 1] as Node;
    const end = range(last)[1];
    return [{ from: end, to: end, insert: `, ${renderFlow(value)}` }];
  }
  const first = seq.items[0] as Node;
  const dashCol = column(text, dashBefore(text, range(first)[0]));
  const itemText = `${' '.repeat(dashCol)}- ${renderBlockItem(value, dashCol + 2)}`;
  if (at < n) {
    const item = seq.items[at] as Node;
    const ls = lineStart(text, dashBefore(text, range(item)[0]));
    return [{ from: ls, to: ls, insert: itemText }];
  }
  const last = seq.items[n - 1] as Node;
  const end = itemEnd(text, last);
  const nl = text[end - 1] === '\n' ? '' : '\n';
  return [{ from: end, to: end, insert: nl + itemText }];
}

// ---------------------------------------------------------------------------------------------
// Text edits inside scalars (renaming references)

/**
 * For every scalar whose value matches `re`, replace the matches by the literal `replacement`
 * (use lookarounds for context: the match itself is what is replaced), touching only
 * the matched characters when they appear literally in the source (plain or quoted without
 * escapes there), else re-rendering that scalar in its own style.
 */
export function planReplaceInScalars(text: string, re: RegExp, replacement: string, only?: (path: readonly PathSeg[]) => boolean): Splice[] {
  const doc = parse(text);
  const out: Splice[] = [];
  const global = new RegExp(re.source, re.flags.includes('g') ? re.flags : `${re.flags}g`);
  visit(doc, {
    Scalar(_key, node, ancestors) {
      if (typeof node.value !== 'string' || !node.range) return;
      if (only) {
        const p: PathSeg[] = [];
        let prev: unknown = null;
        for (const a of [...ancestors, node]) {
          if (isPair(prev) && isScalar(prev.key)) p.push(String(prev.key.value));
          if (isSeq(prev)) p.push(prev.items.indexOf(a));
          prev = a;
        }
        if (!only(p)) return;
      }
      const value = node.value;
      global.lastIndex = 0;
      if (!global.test(value)) return;
      const want = value.replace(global, () => replacement);
      const [start, valueEnd] = node.range;
      const src = text.slice(start, valueEnd);
      const candidate = src.replace(global, () => replacement);
      const splices: Splice[] = [];
      global.lastIndex = 0;
      let m: RegExpExecArray | null;
      while ((m = global.exec(src)) !== null) {
        splices.push({ from: start + m.index, to: start + m.index + m[0].length, insert: replacement });
        if (m[0].length === 0) global.lastIndex++;
      }
      const reparsed = parseDocument(`k: ${candidate}\n`, { uniqueKeys: false });
      const direct = (node.type === 'PLAIN' || node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE') && !candidate.includes('\n') && reparsed.errors.length === 0 && reparsed.get('k') === want;
      if (direct) out.push(...splices);
      else out.push({ from: start, to: valueEnd, insert: renderScalar(want, false, node.type) });
    },
  });
  return out;
}
