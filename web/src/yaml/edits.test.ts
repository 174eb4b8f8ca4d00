import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { addAction, deleteAction, emptyWorkflow, EditError, renameAction, setActionField, setInput, uniqueName, wire, wiringProblem } from './edits';
import { readModel } from './model';

const ci = readFileSync(join(__dirname, '..', '..', '..', 'examples', 'ci-pipeline', 'workflow.yaml'), 'utf8');

function model(text: string) {
  const { model: m } = readModel(text);
  if (!m) throw new Error('no model');
  return m;
}

/** Lines of `b` that differ from `a` (same line count assumed). */
function changedLines(a: string, b: string): string[] {
  const al = a.split('\n');
  return b.split('\n').filter((l, i) => al[i] !== l);
}

describe('workflow edits', () => {
  it('reads the ci-pipeline example', () => {
    const m = model(ci);
    expect(m.actions.map((a) => a.name)).toEqual(['clone', 'compile', 'unit-tests', 'smoke', 'tarball', 'checksum', 'summary']);
    expect(m.waitsFor.get('tarball')).toEqual(['unit-tests', 'smoke']);
    expect(m.actions.find((a) => a.name === 'tarball')?.refs).toEqual([
      { input: 'binary', action: 'compile', output: 'binary' },
      { input: 'version', action: 'clone', output: 'short-commit' },
    ]);
  });

  it('renames an action and its references, touching only those spans', () => {
    const out = renameAction(ci, 'compile', 'build-c');
    expect(out.length).toBe(ci.length + 3 * ('build-c'.length - 'compile'.length));
    expect(changedLines(ci, out)).toEqual([
      '      - name: build-c',
      '        with: { binary: "${{ actions.build-c.outputs.binary }}" }',
      '          binary: "${{ actions.build-c.outputs.binary }}"',
    ]);
    expect(out.replaceAll('build-c', 'compile')).toBe(ci);
  });

  it('refuses a rename to a taken or malformed name', () => {
    expect(() => renameAction(ci, 'compile', 'clone')).toThrow(EditError);
    expect(() => renameAction(ci, 'compile', 'Bad Name')).toThrow(/lower-case/);
  });

  it('adds a retry as one new line', () => {
    const out = setActionField(ci, 'checksum', 'retry', { attempts: 3, backoff: '2s' });
    expect(out).toBe(ci.replace('with: { file: "${{ actions.tarball.outputs.artifact }}" }\n', 'with: { file: "${{ actions.tarball.outputs.artifact }}" }\n        retry: { attempts: 3, backoff: 2s }\n'));
  });

  it('rewires an input inside a flow map without touching its neighbours', () => {
    const out = wire(ci, { action: 'clone', name: 'commit', type: null }, { action: 'checksum', name: 'file', type: null });
    expect(out).toBe(ci.replace('file: "${{ actions.tarball.outputs.artifact }}"', 'file: "${{ actions.clone.outputs.commit }}"'));
  });

  it('adds needs: when the stage order does not imply the wait', () => {
    const text = 'name: w\nstages:\n  - name: s\n    actions:\n      - name: a\n        image: x\n      - name: b\n        image: x\n';
    const out = wire(text, { action: 'a', name: 'out', type: 'string' }, { action: 'b', name: 'in', type: 'string' });
    expect(model(out).waitsFor.get('b')).toEqual(['a']);
    expect(out).toContain('      - name: b\n        image: x\n        with: { in: "${{ actions.a.outputs.out }}" }\n        needs: [a]\n');
  });

  it('refuses cycles and type mismatches with the reason', () => {
    const m = model(ci);
    expect(wiringProblem(m, { action: 'checksum', name: 'sha256', type: 'string' }, { action: 'clone', name: 'ref', type: 'string' })).toMatch(/later stage|cycle/);
    expect(wiringProblem(m, { action: 'compile', name: 'binary', type: 'string' }, { action: 'compile', name: 'path', type: 'string' })).toMatch(/own input/);
    expect(wiringProblem(m, { action: 'compile', name: 'binary', type: 'string' }, { action: 'tarball', name: 'n', type: 'int' })).toMatch(/type mismatch/);
    expect(wiringProblem(m, { action: 'compile', name: 'binary', type: 'string' }, { action: 'tarball', name: 'binary', type: 'string' })).toBeNull();
    const text = 'name: w\nstages:\n  - name: s\n    actions:\n      - name: a\n        image: x\n        needs: [b]\n      - name: b\n        image: x\n';
    expect(wiringProblem(model(text), { action: 'a', name: 'o', type: null }, { action: 'b', name: 'i', type: null })).toMatch(/cycle: a already waits for b/);
  });

  it('draws a workflow from an empty one', () => {
    let t = emptyWorkflow('two-step');
    const first = addAction(t, null, { name: 'greet', component: 'greet@1.0.0' });
    t = first.text;
    const second = addAction(t, null, { name: 'shout', component: 'shout@1.0.0' });
    t = second.text;
    t = wire(t, { action: 'greet', name: 'greeting', type: 'string' }, { action: 'shout', name: 'text', type: 'string' });
    t = setInput(t, 'greet', 'who', 'team');
    expect(t).toBe(
      'name: two-step\nstages:\n  - name: greet\n    actions:\n      - name: greet\n        component: greet@1.0.0\n        with: { who: team }\n  - name: shout\n    actions:\n      - name: shout\n        component: shout@1.0.0\n        with: { text: "${{ actions.greet.outputs.greeting }}" }\n',
    );
    expect(uniqueName(model(t), 'greet')).toBe('greet-2');
  });

  it('deletes an action (and its stage when it was the last)', () => {
    const out = deleteAction(ci, 'checksum');
    expect(out).toBe(ci.replace('  - name: report\n    actions:\n      - name: checksum\n        component: ./components/checksum\n        with: { file: "${{ actions.tarball.outputs.artifact }}" }\n', ''));
  });

  it('leaves a seed-format flow to the server (only its uri and title are read here)', () => {
    const m = model('uri: demo/ci/build-flow   # a seed-format flow\ntitle: Build flow\nstages: []\n');
    expect(m).toMatchObject({ format: 'seed', name: 'demo/ci/build-flow', description: 'Build flow', actions: [] });
  });
});
