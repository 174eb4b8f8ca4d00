import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { StepView } from '../api/types';
import { readModel } from '../yaml/model';
import { buildGraph, elkInput, navigationGrid, neighbour, type ActionNodeData } from './graphData';
import { foldStatus, runStates } from './runState';

const ci = readFileSync(join(__dirname, '..', '..', '..', 'examples', 'ci-pipeline', 'workflow.yaml'), 'utf8');
const model = (() => {
  const m = readModel(ci).model;
  if (!m) throw new Error('no model');
  return m;
})();

function step(key: string, status: StepView['status'], stage = 'test'): StepView {
  return { stage, action: key, key, status, attempts: 1, outputs: {}, attempts_detail: [], error: null, exit_code: null, started_at: null, finished_at: null };
}

describe('the graph', () => {
  it('has one node per action and one lane per stage, deterministically', () => {
    const g = buildGraph(model);
    expect(g.nodes.filter((n) => n.type === 'lane').map((n) => n.id)).toEqual(['lane:0', 'lane:1', 'lane:2', 'lane:3', 'lane:4', 'lane:5']);
    expect(g.nodes.filter((n) => n.type === 'action').map((n) => n.id)).toEqual(['clone', 'compile', 'unit-tests', 'smoke', 'tarball', 'checksum', 'summary']);
    expect(buildGraph(model)).toEqual(g);
    expect(elkInput(model, g)).toEqual(elkInput(model, buildGraph(model)));
  });
  it('draws data edges from the output port to the input port', () => {
    const g = buildGraph(model);
    expect(g.edges.find((e) => e.target === 'checksum')).toMatchObject({ source: 'tarball', sourceHandle: 'out:artifact', targetHandle: 'in:file', kind: 'data' });
    const tarball = g.nodes.find((n) => n.id === 'tarball')?.data as ActionNodeData;
    expect(tarball.inputs.map((p) => p.name)).toEqual(['binary', 'version']);
  });
  it('moves between nodes with the arrow keys, lane by lane', () => {
    const grid = navigationGrid(buildGraph(model));
    expect(neighbour(grid, 'clone', 'ArrowRight')).toBe('compile');
    expect(neighbour(grid, 'compile', 'ArrowRight')).toBe('unit-tests');
    expect(neighbour(grid, 'unit-tests', 'ArrowDown')).toBe('smoke');
    expect(neighbour(grid, 'smoke', 'ArrowLeft')).toBe('compile');
    expect(neighbour(grid, 'clone', 'ArrowUp')).toBeNull();
  });
  it('folds matrix copies into one node with counts', () => {
    const s = runStates(model, [step('unit-tests[os=a]', 'succeeded'), step('unit-tests[os=b]', 'running'), step('smoke', 'pending')]);
    expect(s.get('unit-tests')).toMatchObject({ status: 'running', copies: 2, counts: { succeeded: 1, running: 1 } });
    expect(s.get('smoke')?.status).toBe('pending');
    expect(foldStatus({ succeeded: 3, failed: 1 })).toBe('failed');
    expect(foldStatus({ succeeded: 2, pending: 1 })).toBe('running');
  });
});
