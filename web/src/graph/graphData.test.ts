import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { StepView } from '../api/types';
import { readModel } from '../yaml/model';
import { buildGraph, elkInput, handleBoxes, stackLanes, navigationGrid, neighbour, nodeHeight, PORTS_TOP, RUN_NODE_H, type ActionNodeData } from './graphData';
import { foldStatus, runStates } from './runState';

const ci = readFileSync(join(__dirname, '..', '..', '..', 'examples', 'ci-pipeline', 'workflow.yaml'), 'utf8');
const model = (() => {
  const m = readModel(ci).model;
  if (!m) throw new Error('no model');
  return m;
})();

function step(key: string, status: StepView['status'], stage = 'test'): StepView {
  return { stage, action: key, key, status, attempts: 1, outputs: {}, inputs: {}, attempts_detail: [], error: null, exit_code: null, started_at: null, finished_at: null };
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
  it('knows where every handle of a node is without drawing it', () => {
    const h = nodeHeight(2, 1);
    const rows = handleBoxes(230, h, ['a', 'b'], ['out'], true);
    expect(rows.map((x) => x.id)).toEqual([null, null, 'in:a', 'in:b', 'out:out']);
    // port handles: centred on their rows, on the node's edges
    expect(rows.find((x) => x.id === 'in:b')).toMatchObject({ type: 'target', side: 'left', y: PORTS_TOP + 20 + 5, width: 10 });
    expect(rows.find((x) => x.id === 'out:out')).toMatchObject({ type: 'source', side: 'right', x: 230, y: PORTS_TOP + 5 });
    // without port rows (run pages) they sit on the edges, half-way down
    const hidden = handleBoxes(230, h, ['a'], ['out'], false);
    expect(hidden.every((x) => x.y === h / 2 - 2.5)).toBe(true);
    expect(hidden.find((x) => x.id === 'out:out')?.x).toBe(227.5);
  });
  it('stacks an action below the one of its lane it waits for', () => {
    const m = readModel('name: w\nstages:\n  - name: s\n    actions:\n      - { name: late, image: i, needs: [early] }\n      - { name: early, image: i }\n').model;
    if (!m) throw new Error('no model');
    const elkSaysLateFirst = new Map([['late', { x: 0, y: 0 }], ['early', { x: 0, y: 100 }]]);
    const p = stackLanes(m, buildGraph(m), elkSaysLateFirst);
    expect((p.get('early')?.y ?? 0) < (p.get('late')?.y ?? 0)).toBe(true);
  });
  it('draws run pages with compact nodes of one height', () => {
    const g = buildGraph(model, { compact: true });
    expect(new Set(g.nodes.filter((n) => n.type === 'action').map((n) => n.height))).toEqual(new Set([RUN_NODE_H]));
  });
});
