// Generated workflow texts for the property tests: valid YAML with the variety people write —
// comments (own-line and trailing), blank lines, plain/single/double quoting, flow and block
// collections, block literals, anchors and aliases.
import fc from 'fast-check';

const ident = fc.stringMatching(/^[a-z][a-z0-9-]{0,7}$/);
const words = fc.constantFrom('hello', 'world', 'x y', 'a:b', '1.5', 'true-ish', 'ünïcode', 'path/to/file', '');

type Style = 'plain' | 'single' | 'double';

function quote(s: string, style: Style): string {
  const plainOk = /^[a-z][a-z0-9/ .-]*$/.test(s) && !s.endsWith(' ') && !/^(true|false|null|yes|no)$/.test(s);
  if (style === 'plain' && plainOk) return s;
  if (style === 'single') return `'${s.replace(/'/g, "''")}'`;
  return JSON.stringify(s);
}

const style = fc.constantFrom<Style>('plain', 'single', 'double');
const comment = fc.option(fc.constantFrom('# a comment', '#tight', '# ${{ not.an.expression }}', '#  spaced  '), { nil: null });
const blank = fc.boolean();

interface GenAction {
  name: string;
  image: [string, Style];
  flowWith: boolean;
  with: [string, string, Style][];
  command: null | 'flow' | 'block' | 'literal';
  retry: boolean;
  trailing: string | null;
  before: string | null;
  blankAfter: boolean;
  alias: boolean;
}

const action: fc.Arbitrary<GenAction> = fc.record({
  name: ident,
  image: fc.tuple(fc.constantFrom('localhost/co-examples/busybox:latest', 'alpine', 'x y'), style),
  flowWith: fc.boolean(),
  with: fc.array(fc.tuple(ident, words, style), { maxLength: 3 }),
  command: fc.constantFrom(null, 'flow', 'block', 'literal'),
  retry: fc.boolean(),
  trailing: comment,
  before: comment,
  blankAfter: blank,
  alias: fc.boolean(),
});

function uniq<T extends { name: string }>(xs: T[]): T[] {
  const seen = new Set<string>();
  return xs.filter((x) => (seen.has(x.name) ? false : (seen.add(x.name), true)));
}

function renderAction(a: GenAction, i: number, prev: string[], anchors: boolean): string {
  const pad = '      ';
  const inner = '        ';
  let s = '';
  if (a.before) s += `${pad}${a.before}\n`;
  s += `${pad}- name: ${a.name}${a.trailing ? `   ${a.trailing}` : ''}\n`;
  s += `${inner}image: ${quote(a.image[0], a.image[1])}\n`;
  if (a.command === 'flow') s += `${inner}command: ["sh", "-c", "echo hi"]\n`;
  if (a.command === 'block') s += `${inner}command:\n${inner}  - sh\n${inner}  - -c\n${inner}  - echo "[COUT] x = 1"\n`;
  if (a.command === 'literal') s += `${inner}command:\n${inner}  - sh\n${inner}  - -c\n${inner}  - |\n${inner}    echo one\n\n${inner}    echo two\n`;
  const withs = uniq(a.with.map(([k, v, st]) => ({ name: k, v, st })));
  const ref = prev.length > 0 ? prev[i % prev.length] : undefined;
  if (withs.length > 0 || ref !== undefined) {
    const entries = withs.map((w) => `${w.name}: ${quote(w.v, w.st)}`);
    if (ref !== undefined && !withs.some((w) => w.name === 'from')) entries.push(`from: "\${{ actions.${ref}.outputs.out }}"`);
    if (a.flowWith) s += `${inner}with: { ${entries.join(', ')} }\n`;
    else s += `${inner}with:\n${entries.map((e) => `${inner}  ${e}\n`).join('')}`;
  }
  if (a.retry) s += `${inner}retry: { attempts: 2, backoff: 1s }\n`;
  if (a.alias && anchors) s += `${inner}resources: *limits\n`;
  if (a.blankAfter) s += '\n';
  return s;
}

export const genWorkflowText: fc.Arbitrary<string> = fc
  .record({
    name: ident,
    header: comment,
    description: fc.option(fc.tuple(words, style), { nil: null }),
    anchors: fc.boolean(),
    inputsFlow: fc.boolean(),
    stages: fc.array(fc.record({ name: ident, comment, blank, actions: fc.array(action, { minLength: 1, maxLength: 3 }) }), {
      minLength: 1,
      maxLength: 4,
    }),
    finally: fc.boolean(),
    noFinalNewline: fc.boolean(),
  })
  .map((w) => {
    let s = '';
    if (w.header) s += `${w.header}\n`;
    s += `name: ${w.name}\n`;
    if (w.description) s += `description: ${quote(w.description[0], w.description[1])}\n`;
    if (w.anchors) s += 'x-limits: &limits { memory: 64Mi, cpu: 0.5 }\n';
    s += w.inputsFlow ? 'inputs:\n  who: { type: string, default: world }\n' : 'inputs:\n  who:\n    type: string\n    default: world\n';
    s += '\nstages:\n';
    const seen = new Set<string>();
    const prev: string[] = [];
    for (const st of uniq(w.stages)) {
      s += `  - name: ${st.name}${st.comment ? ` ${st.comment}` : ''}\n    actions:\n`;
      const names: string[] = [];
      st.actions.forEach((a, i) => {
        let name = a.name;
        while (seen.has(name)) name = `${name}x`;
        seen.add(name);
        s += renderAction({ ...a, name }, i, prev, w.anchors);
        names.push(name);
      });
      prev.push(...names);
      if (st.blank) s += '\n';
    }
    if (w.finally) s += 'finally:\n  - name: report-final\n    image: alpine\n    with: { status: "${{ run.status }}" }\n';
    return w.noFinalNewline ? s.replace(/\n+$/, '') : s;
  });
