import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isAlias, isMap, isScalar, isSeq, parseDocument, type Node } from 'yaml';
import { apply, applySplices, find, parse, plan, planReplaceInScalars, type Json, type Path, type PathSeg } from './patch';
import { genWorkflowText } from './testgen';

const examplesDir = join(__dirname, '..', '..', '..', 'examples');
const examples: [string, string][] = readdirSync(examplesDir, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .flatMap((d) => {
    try {
      return [[d.name, readFileSync(join(examplesDir, d.name, 'workflow.yaml'), 'utf8')] as [string, string]];
    } catch {
      return [];
    }
  });

function toJS(text: string): unknown {
  const doc = parseDocument(text);
  expect(doc.errors).toEqual([]);
  return doc.toJS({ maxAliasCount: -1 });
}

/** Every path in the document with its node (keys that are scalars only). */
function allPaths(text: string): { path: PathSeg[]; node: Node }[] {
  const doc = parse(text);
  const out: { path: PathSeg[]; node: Node }[] = [];
  const walk = (n: unknown, path: PathSeg[]) => {
    if (isMap(n)) {
      for (const p of n.items) {
        if (!isScalar(p.key)) continue;
        const child = [...path, String(p.key.value)];
        if (p.value) out.push({ path: child, node: p.value as Node });
        walk(p.value, child);
      }
    } else if (isSeq(n)) {
      n.items.forEach((item, i) => {
        out.push({ path: [...path, i], node: item as Node });
        walk(item, [...path, i]);
      });
    }
  };
  walk(doc.contents, []);
  // Aliases are refused on purpose (edit the anchor): leave them out.
  // Anchored values are edited like any other, but then their aliases change too, which the
  // oracle below does not model: leave them out of the random picks as well.
  return out.filter(({ node }) => !isAlias(node) && !(node as { anchor?: string }).anchor);
}

function setIn(obj: unknown, path: Path, value: unknown): unknown {
  const clone: unknown = structuredClone(obj);
  let cur = clone as Record<string | number, unknown>;
  path.forEach((seg, i) => {
    if (i === path.length - 1) cur[seg] = value;
    else {
      cur[seg] ??= {};
      cur = cur[seg] as Record<string | number, unknown>;
    }
  });
  return clone;
}

function deleteIn(obj: unknown, path: Path): unknown {
  const clone: unknown = structuredClone(obj);
  let cur = clone as Record<string | number, unknown>;
  path.forEach((seg, i) => {
    if (i === path.length - 1) {
      if (Array.isArray(cur)) cur.splice(seg as number, 1);
      else Reflect.deleteProperty(cur, seg);
    } else cur = cur[seg] as Record<string | number, unknown>;
  });
  return clone;
}

/** The changed region of `after` against `before`: [prefix, before.length - suffix]. */
function changedRegion(before: string, after: string): [number, number] {
  let p = 0;
  while (p < before.length && p < after.length && before[p] === after[p]) p++;
  let s = 0;
  while (s < before.length - p && s < after.length - p && before[before.length - 1 - s] === after[after.length - 1 - s]) s++;
  return [p, before.length - s];
}

const scalarValue = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom('hello world', '${{ inputs.repo }}', 'a: b', '# not a comment', 'yes', '1.0', 'x, y', '-dash', "it's", 'line1\nline2', 'tail\n'),
  fc.integer({ min: -1000, max: 1000 }),
  fc.boolean(),
  fc.constant(null),
);

const jsonValue: fc.Arbitrary<Json> = fc.oneof(
  { weight: 3, arbitrary: scalarValue },
  { weight: 1, arbitrary: fc.array(fc.oneof(fc.string({ maxLength: 6 }), fc.integer()), { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9_-]{0,6}$/), scalarValue, { maxKeys: 3 }) },
  {
    weight: 1,
    arbitrary: fc.record({
      name: fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/),
      image: fc.constant('localhost/co-examples/busybox:latest'),
      command: fc.constant<Json>(['sh', '-c', 'echo hi']),
      with: fc.dictionary(fc.stringMatching(/^[a-z]{1,5}$/), fc.string({ maxLength: 20 }), { maxKeys: 3 }),
    }),
  },
);

const corpus = fc.oneof(
  fc.constantFrom(...examples.map(([, t]) => t)),
  genWorkflowText,
);

describe('the YAML patch layer', { timeout: 120_000 }, () => {
  it('finds the example workflows', () => {
    expect(examples.map(([n]) => n).sort()).toEqual(expect.arrayContaining(['ci-pipeline', 'hello']));
  });

  it('a no-op edit is byte-identical (every path of every document)', () => {
    fc.assert(
      fc.property(corpus, (text) => {
        const js = toJS(text);
        for (const { path } of allPaths(text)) {
          let v: unknown = js;
          for (const seg of path) v = (v as Record<PathSeg, unknown>)[seg];
          expect(plan(text, { op: 'set', path, value: v as Json })).toEqual([]);
        }
      }),
      { numRuns: 30 },
    );
  });

  it('setting a value changes only that value’s span and means exactly that', () => {
    fc.assert(
      fc.property(corpus, fc.nat(), jsonValue, (text, pick, value) => {
        const paths = allPaths(text);
        const target = paths[pick % paths.length];
        if (!target) return;
        const out = apply(text, { op: 'set', path: target.path, value });
        expect(toJS(out)).toEqual(setIn(toJS(text), target.path, value));
        const f = find(parse(text), target.path);
        const r = f?.pair ? f.pair.key as Node : target.node;
        const start = (r.range ?? [0])[0];
        const end = (target.node.range ?? [0, 0, 0])[2];
        const [a, b] = changedRegion(text, out);
        if (a < b || out !== text) {
          expect(a).toBeGreaterThanOrEqual(start);
          expect(b).toBeLessThanOrEqual(Math.max(end, text.indexOf('\n', end - 1) + 1));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('adding a key or a list item inserts text and removes none', () => {
    fc.assert(
      fc.property(corpus, fc.nat(), fc.stringMatching(/^[a-z][a-z0-9_]{0,8}$/), jsonValue, (text, pick, key, value) => {
        const colls = [{ path: [] as PathSeg[], node: parse(text).contents as Node }, ...allPaths(text)].filter(
          ({ node }) => isMap(node) || isSeq(node),
        );
        const target = colls[pick % colls.length];
        if (!target) return;
        const before = toJS(text);
        let out: string;
        let want: unknown;
        if (isMap(target.node)) {
          const path = [...target.path, `new_${key}`];
          out = apply(text, { op: 'set', path, value });
          want = setIn(before, path, value);
        } else {
          out = apply(text, { op: 'insert', path: target.path, value });
          let arr: unknown = before;
          for (const seg of target.path) arr = (arr as Record<PathSeg, unknown>)[seg];
          want = setIn(before, target.path, [...(arr as unknown[]), value]);
        }
        expect(toJS(out)).toEqual(want);
        const [a, b] = changedRegion(text, out);
        // Pure insertion: nothing of the original text was removed or rewritten.
        expect(b - a).toBeLessThanOrEqual(0);
      }),
      { numRuns: 300 },
    );
  });

  it('deleting a key or item removes only its own lines', () => {
    fc.assert(
      fc.property(corpus, fc.nat(), (text, pick) => {
        const paths = allPaths(text).filter(({ path }) => path.length > 1);
        const target = paths[pick % paths.length];
        if (!target) return;
        const out = apply(text, { op: 'delete', path: target.path });
        const got = toJS(out);
        // The parent may go too when it would be left empty.
        const want = deleteIn(toJS(text), target.path);
        const wantUp = deleteIn(toJS(text), target.path.slice(0, -1));
        expect([JSON.stringify(want), JSON.stringify(wantUp)]).toContain(JSON.stringify(got));
        const [a, b] = changedRegion(text, out);
        // The output is the input with one contiguous region removed.
        expect(out.length).toBe(text.length - (b - a));
      }),
      { numRuns: 300 },
    );
  });

  it('keeps comments, anchors, quoting and blank lines outside the edit', () => {
    const text = `# top comment
name: demo   # trailing
defaults: &defaults { memory: 64Mi }

stages:
  - name: one   # first
    actions:
      - name: a
        image: 'single'   # kept
        resources: *defaults

      - name: b
        image: "double"
        with: { x: "\${{ actions.a.outputs.y }}" }
`;
    const out = apply(text, { op: 'set', path: ['stages', 0, 'actions', 1, 'retry'], value: { attempts: 3, backoff: '1s' } });
    expect(out).toBe(text.replace('"${{ actions.a.outputs.y }}" }\n', '"${{ actions.a.outputs.y }}" }\n        retry: { attempts: 3, backoff: 1s }\n'));
    const renamed = apply(text, { op: 'set', path: ['stages', 0, 'actions', 0, 'image'], value: 'other' });
    expect(renamed).toBe(text.replace("'single'", "'other'"));
    const dq = apply(text, { op: 'set', path: ['stages', 0, 'actions', 1, 'image'], value: 'x y' });
    expect(dq).toBe(text.replace('"double"', '"x y"'));
  });

  it('appends an action to a block list in the style of its neighbours', () => {
    const text = 'stages:\n  - name: s\n    actions:\n      - name: a\n        image: x\n# end\n';
    const out = apply(text, {
      op: 'insert',
      path: ['stages', 0, 'actions'],
      value: { name: 'b', image: 'localhost/co-examples/busybox:latest', with: { who: '${{ inputs.who }}' } },
    });
    expect(out).toBe(
      'stages:\n  - name: s\n    actions:\n      - name: a\n        image: x\n      - name: b\n        image: localhost/co-examples/busybox:latest\n        with: { who: "${{ inputs.who }}" }\n# end\n',
    );
  });

  it('renames references inside strings touching only the name', () => {
    const text = 'a: "v-${{ actions.old.outputs.x }}"  # c\nb: ${{ actions.old.status }}\nc: "${{ actions.older.outputs.x }}"\n';
    const splices = planReplaceInScalars(text, /(?<=actions\.)old(?=\.)/, 'new-name');
    const out = applySplices(text, splices);
    expect(out).toBe('a: "v-${{ actions.new-name.outputs.x }}"  # c\nb: ${{ actions.new-name.status }}\nc: "${{ actions.older.outputs.x }}"\n');
  });

  it('keeps a trailing comment on its line when a value becomes multi-line', () => {
    const text = 'a: x # keep me\nb: 1\n';
    expect(apply(text, { op: 'set', path: ['a'], value: 'tail\n' })).toBe('a: "tail\\n" # keep me\nb: 1\n');
  });

  it('edits a block literal in place', () => {
    const text = 'cmd: |\n  echo one\n  echo two\nnext: 1\n';
    const out = apply(text, { op: 'set', path: ['cmd'], value: 'echo one\necho three\n' });
    expect(out).toBe('cmd: |\n  echo one\n  echo three\nnext: 1\n');
  });

  it('refuses to edit through an alias', () => {
    const text = 'a: &x { b: 1 }\nc: *x\n';
    expect(() => plan(text, { op: 'set', path: ['c', 'b'], value: 2 })).toThrow(/alias/);
  });
});
