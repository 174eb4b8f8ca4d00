import { describe, expect, it } from 'vitest';
import type { WorkflowGraphView } from '../api/types';
import { isSeedText, modelFromGraph } from './graphModel';

type GNode = WorkflowGraphView['nodes'][number];
const node = (name: string, label: string, stage: string, line: number, more: Partial<GNode> = {}): GNode => ({
  name,
  label,
  stage,
  finally: false,
  line,
  col: 11,
  image: 'localhost/co-examples/busybox:latest',
  component: null,
  needs: null,
  depends_on: [],
  if: null,
  matrix: null,
  steps: [name],
  with: {},
  inputs: {},
  outputs: {},
  timeout: null,
  retry: { attempts: 1, backoff: '1s' },
  ...more,
});

// What the server answers for a seed-format flow: the compile action's two jobs run one after
// the other, the upload job subscribes to compile's output with a short form (`compile[KEY]`).
const graph: WorkflowGraphView = {
  name: 'e2e-flow',
  revision: 1,
  format: 'seed',
  uri: 'demo/ci/e2e-flow',
  description: 'E2E flow',
  inputs: {},
  triggers: [],
  stages: [
    { name: 'build', finally: false, line: 4, col: 11, actions: ['build.compile.compile', 'build.compile.package'] },
    { name: 'publish', finally: false, line: 14, col: 11, actions: ['publish.upload.upload'] },
  ],
  nodes: [
    node('build.compile.compile', 'compile', 'build', 8, { outputs: { CO_ARTIFACT: { type: 'string', required: false, default: null, description: null } } }),
    node('build.compile.package', 'package', 'build', 11, { depends_on: ['build.compile.compile'], needs: ['build.compile.compile'] }),
    node('publish.upload.upload', 'upload', 'publish', 18, { depends_on: ['build.compile.package'], needs: ['build.compile.package'] }),
  ],
  edges: [
    { from: 'build.compile.compile', to: 'build.compile.package', kind: 'needs' },
    { from: 'build.compile.package', to: 'publish.upload.upload', kind: 'needs' },
  ],
  wires: [{ from: 'build.compile.compile', output: 'CO_ARTIFACT', to: 'publish.upload.upload', input: 'env.ARTIFACT_PATH' }],
};

describe("the server's graph as the model", () => {
  it('tells a seed-format text by its top-level uri', () => {
    expect(isSeedText('# flow\nuri: demo/ci/x\nstages: []\n')).toBe(true);
    expect(isSeedText('name: w\nstages:\n  - name: uri\n')).toBe(false);
  });
  it('shows stages as lanes, each job a node named by its job, subscriptions as wires', () => {
    const m = modelFromGraph(graph, 20);
    expect(m.format).toBe('seed');
    expect(m.name).toBe('demo/ci/e2e-flow');
    expect(m.stages.map((s) => s.name)).toEqual(['build', 'publish']);
    expect(m.actions.map((a) => [a.id, a.name, a.stageIndex, a.index, a.kind])).toEqual([
      ['build.compile.compile', 'compile', 0, 0, 'seed-job'],
      ['build.compile.package', 'package', 0, 1, 'seed-job'],
      ['publish.upload.upload', 'upload', 1, 0, 'seed-job'],
    ]);
    expect(m.actions[2]?.refs).toEqual([{ input: 'env.ARTIFACT_PATH', action: 'build.compile.compile', output: 'CO_ARTIFACT' }]);
    expect(m.waitsFor.get('publish.upload.upload')).toEqual(['build.compile.package']);
    expect(m.actions[0]?.declaredOutputs).toEqual(['CO_ARTIFACT']);
  });
  it('gives each action the lines up to the next one (problems are pinned by line)', () => {
    const m = modelFromGraph(graph, 20);
    expect(m.actions.map((a) => [a.line, a.endLine])).toEqual([
      [8, 10],
      [11, 17],
      [18, 20],
    ]);
  });
});
