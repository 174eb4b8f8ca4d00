// From a workflow model (and, on run pages, step states) to the graph the canvas draws. Pure and
// deterministic: the same text always gives the same nodes, edges and positions. Layout is
// computed here and in the ELK worker, never written into the file.
import type { ActionModel, WorkflowModel } from '../yaml/model';

export const NODE_W = 230;
export const HEADER_H = 48;
export const PORT_H = 20;
export const LANE_GAP = 90;
export const ROW_GAP = 28;
export const LANE_PAD = 24;
export const LANE_HEADER = 34;

export interface PortInfo {
  name: string;
  type: string | null;
  required?: boolean;
  secret?: boolean;
  /** The value written in `with:` (inputs), if any. */
  value?: unknown;
  wired?: boolean;
}

/** Step states of one action (matrix copies counted together). */
export interface RunState {
  status: string;
  counts: Record<string, number>;
  copies: number;
  attempts: number;
  startedAt: string | null;
  finishedAt: string | null;
  error: string | null;
}

export interface ActionNodeData extends Record<string, unknown> {
  action: ActionModel;
  inputs: PortInfo[];
  outputs: PortInfo[];
  run: RunState | null;
  problems: string[];
  diff: 'added' | 'changed' | null;
  subtitle: string;
}

export interface LaneNodeData extends Record<string, unknown> {
  name: string;
  finally: boolean;
  width: number;
  height: number;
}

export interface GNode {
  id: string;
  type: 'action' | 'lane';
  position: { x: number; y: number };
  width: number;
  height: number;
  data: ActionNodeData | LaneNodeData;
}

export interface GEdge {
  id: string;
  source: string;
  target: string;
  sourceHandle: string | null;
  targetHandle: string | null;
  kind: 'data' | 'needs';
  label: string | null;
}

/** What the UI knows about a component's contract (from the catalog). */
export interface Contract {
  inputs: Record<string, { type: string; required: boolean; default: unknown; description?: string | null }>;
  outputs: Record<string, { type: string; required: boolean; description?: string | null }>;
}

export type ContractLookup = (component: string) => Contract | undefined;

export function nodeHeight(inputs: number, outputs: number): number {
  return HEADER_H + Math.max(inputs, outputs, 0) * PORT_H + 10;
}

/**
 * Height of a node on a run page (no port rows): borders 2 + `.an-head` 22 + `.an-sub` 18 +
 * `.an-run` 20, so its edges meet the card half-way down.
 */
export const RUN_NODE_H = 62;

/**
 * Where the first port row starts inside a node (the CSS of `.action-node` fixes it): top border
 * 1 + `.an-head` 22 + `.an-sub` 18 + the ports' top border 1 and padding 3.
 */
export const PORTS_TOP = 45;
/** Port handles are 10 px squares centred on the node's edge, 6 px outside the port row. */
const PORT_HANDLE = 10;
/** Node-level and hidden handles: 5 px squares centred on the left/right edge, half-way down. */
const EDGE_HANDLE = 5;

/** One handle's box relative to its node, as React Flow measures it from the DOM. */
export interface HandleBox {
  id: string | null;
  type: 'source' | 'target';
  side: 'left' | 'right';
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Whether a node draws its port rows (else its port handles sit hidden on its edges). */
export function showsPorts(mode: 'view' | 'edit' | 'run', inputs: number, outputs: number): boolean {
  return mode !== 'run' && Math.max(inputs, outputs) > 0;
}

/**
 * The handles of an action node, computed from its ports, so React Flow places edges of nodes it
 * has never drawn without rendering them off screen to measure them (a 1,000-action graph would
 * mount every node once). Equal to what the DOM gives for the CSS in styles/app.css (the e2e
 * tests compare them).
 */
export function handleBoxes(width: number, height: number, inputs: readonly string[], outputs: readonly string[], ports: boolean): HandleBox[] {
  const mid = height / 2 - EDGE_HANDLE / 2;
  const edge = (id: string | null, type: HandleBox['type']): HandleBox =>
    type === 'target'
      ? { id, type, side: 'left', x: -EDGE_HANDLE / 2, y: mid, width: EDGE_HANDLE, height: EDGE_HANDLE }
      : { id, type, side: 'right', x: width - EDGE_HANDLE / 2, y: mid, width: EDGE_HANDLE, height: EDGE_HANDLE };
  const out: HandleBox[] = [edge(null, 'target'), edge(null, 'source')];
  const row = (i: number) => PORTS_TOP + i * PORT_H + (PORT_H - PORT_HANDLE) / 2;
  inputs.forEach((name, i) => {
    out.push(ports ? { id: `in:${name}`, type: 'target', side: 'left', x: 4 - 6 - PORT_HANDLE / 2, y: row(i), width: PORT_HANDLE, height: PORT_HANDLE } : edge(`in:${name}`, 'target'));
  });
  outputs.forEach((name, i) => {
    out.push(ports ? { id: `out:${name}`, type: 'source', side: 'right', x: width - 1 + 6 + PORT_HANDLE / 2 - PORT_HANDLE, y: row(i), width: PORT_HANDLE, height: PORT_HANDLE } : edge(`out:${name}`, 'source'));
  });
  return out;
}

function portsOf(usedOutputs: Map<string, string[]>, a: ActionModel, contract: Contract | undefined): { inputs: PortInfo[]; outputs: PortInfo[] } {
  const inputs: PortInfo[] = [];
  const seen = new Set<string>();
  const wiredInputs = new Set(a.refs.map((r) => r.input));
  if (contract) {
    for (const [name, p] of Object.entries(contract.inputs)) {
      seen.add(name);
      inputs.push({ name, type: p.type, required: p.required, secret: p.type === 'secret', value: a.with[name], wired: wiredInputs.has(name) });
    }
  }
  for (const [name, value] of Object.entries(a.with)) {
    if (seen.has(name)) continue;
    inputs.push({ name, type: null, value, wired: wiredInputs.has(name) });
  }
  if (a.kind === 'seed-job') {
    for (const r of a.refs) inputs.push({ name: r.input, type: null, wired: true });
  }
  const outputs: PortInfo[] = [];
  const outSeen = new Set<string>();
  if (contract) {
    for (const [name, p] of Object.entries(contract.outputs)) {
      outSeen.add(name);
      outputs.push({ name, type: p.type, required: p.required });
    }
  }
  for (const name of a.declaredOutputs) {
    if (!outSeen.has(name)) {
      outSeen.add(name);
      outputs.push({ name, type: null });
    }
  }
  // Outputs that other actions use (plain image steps declare none).
  for (const name of usedOutputs.get(a.id) ?? []) {
    if (!outSeen.has(name)) {
      outSeen.add(name);
      outputs.push({ name, type: null });
    }
  }
  return { inputs, outputs };
}

function subtitle(a: ActionModel): string {
  if (a.component) return `component ${a.component}`;
  if (a.image) return a.kind === 'seed-job' ? `endpoint ${a.image}` : `image ${a.image}`;
  return 'no image';
}

export interface BuildOptions {
  contracts?: ContractLookup;
  run?: Map<string, RunState>;
  problems?: Map<string, string[]>;
  diff?: Map<string, 'added' | 'changed'>;
  /** Nodes without port rows (run pages): all of the same, smaller height. */
  compact?: boolean;
}

export interface Graph {
  nodes: GNode[];
  edges: GEdge[];
}

/** Nodes and edges with a first, deterministic lane layout (ELK refines it in a worker). */
export function buildGraph(model: WorkflowModel, opts: BuildOptions = {}): Graph {
  const nodes: GNode[] = [];
  const edges: GEdge[] = [];
  const ids = new Set(model.actions.map((a) => a.id));
  const usedOutputs = new Map<string, string[]>();
  for (const a of model.actions) {
    for (const r of a.refs) {
      const l = usedOutputs.get(r.action);
      if (l) l.push(r.output);
      else usedOutputs.set(r.action, [r.output]);
    }
  }
  for (const a of model.actions) {
    const contract = a.component ? opts.contracts?.(a.component) : undefined;
    const { inputs, outputs } = portsOf(usedOutputs, a, contract);
    nodes.push({
      id: a.id,
      type: 'action',
      position: { x: 0, y: 0 },
      width: NODE_W,
      height: opts.compact ? RUN_NODE_H : nodeHeight(inputs.length, outputs.length),
      data: {
        action: a,
        inputs,
        outputs,
        run: opts.run?.get(a.id) ?? null,
        problems: opts.problems?.get(a.id) ?? [],
        diff: opts.diff?.get(a.id) ?? null,
        subtitle: subtitle(a),
      },
    });
    const dataFrom = new Set<string>();
    for (const r of a.refs) {
      if (!ids.has(r.action)) continue;
      dataFrom.add(r.action);
      edges.push({
        id: `d:${r.action}:${r.output}->${a.id}:${r.input}`,
        source: r.action,
        target: a.id,
        sourceHandle: `out:${r.output}`,
        targetHandle: a.kind === 'seed-job' || a.with[r.input] !== undefined || r.input.startsWith('env.') ? `in:${r.input}` : null,
        kind: 'data',
        label: r.output,
      });
    }
    for (const n of a.needs ?? []) {
      if (!ids.has(n) || dataFrom.has(n)) continue;
      edges.push({ id: `n:${n}->${a.id}`, source: n, target: a.id, sourceHandle: null, targetHandle: null, kind: 'needs', label: null });
    }
  }
  for (const e of edges) if (e.targetHandle?.startsWith('in:env.')) e.targetHandle = null;
  return laneLayout(model, { nodes, edges });
}

/** Stages as columns, actions stacked in document order (the first paint, before ELK answers). */
export function laneLayout(model: WorkflowModel, g: Graph): Graph {
  return withLanes(model, g, stackLanes(model, g, null));
}

/**
 * Positions with stages as columns and each stage's actions stacked top to bottom: below the ones
 * of their lane they wait for, else in the order ELK chose to reduce crossings (`order`: ELK's
 * positions), else in document order.
 */
export function stackLanes(model: WorkflowModel, g: Graph, order: Map<string, { x: number; y: number }> | null): Map<string, { x: number; y: number }> {
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  const positions = new Map<string, { x: number; y: number }>();
  // An action that waits for another of its own lane (a seed-format flow's jobs in sequence, a
  // `needs:` inside a stage) goes below it.
  const stageOf = new Map(model.actions.map((a) => [a.id, a.stageIndex]));
  const depth = new Map<string, number>();
  const depthOf = (id: string, seen: Set<string>): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    if (seen.has(id)) return 0;
    seen.add(id);
    let d = 0;
    for (const w of model.waitsFor.get(id) ?? []) if (stageOf.get(w) === stageOf.get(id)) d = Math.max(d, depthOf(w, seen) + 1);
    depth.set(id, d);
    return d;
  };
  model.stages.forEach((s, si) => {
    const members = model.actions.filter((a) => a.stageIndex === s.index).map((a, i) => ({ id: a.id, i, d: depthOf(a.id, new Set()), y: order?.get(a.id)?.y ?? i }));
    members.sort((a, b) => a.d - b.d || a.y - b.y || a.i - b.i);
    let y = LANE_HEADER + LANE_PAD;
    for (const m of members) {
      const n = byId.get(m.id);
      if (!n) continue;
      positions.set(m.id, { x: si * (NODE_W + LANE_GAP + 2 * LANE_PAD) + LANE_PAD, y });
      y += n.height + ROW_GAP;
    }
  });
  return positions;
}

/** Places action nodes at `positions` and adds one lane node behind each stage. */
export function withLanes(model: WorkflowModel, g: Graph, positions: Map<string, { x: number; y: number }>): Graph {
  const actionNodes = g.nodes
    .filter((n) => n.type === 'action')
    .map((n) => ({ ...n, position: positions.get(n.id) ?? n.position }));
  const lanes: GNode[] = [];
  let top = Infinity;
  let bottom = -Infinity;
  for (const n of actionNodes) {
    top = Math.min(top, n.position.y);
    bottom = Math.max(bottom, n.position.y + n.height);
  }
  if (!Number.isFinite(top)) {
    top = LANE_HEADER + LANE_PAD;
    bottom = top + 80;
  }
  const byStage = new Map<number, GNode[]>();
  for (const n of actionNodes) {
    const si = (n.data as ActionNodeData).action.stageIndex;
    const l = byStage.get(si);
    if (l) l.push(n);
    else byStage.set(si, [n]);
  }
  model.stages.forEach((s, si) => {
    const members = byStage.get(s.index) ?? [];
    const minX = members.length ? Math.min(...members.map((n) => n.position.x)) : si * (NODE_W + LANE_GAP + 2 * LANE_PAD) + LANE_PAD;
    const maxX = members.length ? Math.max(...members.map((n) => n.position.x + n.width)) : minX + NODE_W;
    const width = maxX - minX + 2 * LANE_PAD;
    const height = bottom - top + 2 * LANE_PAD + LANE_HEADER;
    lanes.push({
      id: `lane:${si}`,
      type: 'lane',
      position: { x: minX - LANE_PAD, y: top - LANE_PAD - LANE_HEADER },
      width,
      height,
      data: { name: s.name, finally: s.finally, width, height },
    });
  });
  return { nodes: [...lanes, ...actionNodes], edges: g.edges };
}

/** The graph ELK lays out: stages are ordered partitions, edges as drawn. */
export interface ElkInput {
  id: string;
  layoutOptions: Record<string, string>;
  children: { id: string; width: number; height: number; layoutOptions: Record<string, string> }[];
  edges: { id: string; sources: string[]; targets: string[] }[];
}

export function elkInput(model: WorkflowModel, g: Graph): ElkInput {
  const actionNodes = g.nodes.filter((n) => n.type === 'action');
  const stageOf = new Map(model.actions.map((a) => [a.id, a.stageIndex]));
  const seen = new Set<string>();
  const edges: ElkInput['edges'] = [];
  for (const e of g.edges) {
    const key = `${e.source}->${e.target}`;
    if (seen.has(key)) continue;
    seen.add(key);
    edges.push({ id: `e${edges.length}`, sources: [e.source], targets: [e.target] });
  }
  // Stage order as edges too (first action of a stage → first of the next), so ELK keeps lanes in order.
  return {
    id: 'root',
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': 'RIGHT',
      'elk.partitioning.activate': 'true',
      'elk.layered.spacing.nodeNodeBetweenLayers': String(LANE_GAP + 2 * LANE_PAD),
      'elk.spacing.nodeNode': String(ROW_GAP),
      'elk.layered.crossingMinimization.strategy': 'LAYER_SWEEP',
      'elk.layered.nodePlacement.strategy': 'BRANDES_KOEPF',
      'elk.layered.considerModelOrder.strategy': 'NODES_AND_EDGES',
      'elk.randomSeed': '1',
    },
    children: actionNodes.map((n) => ({
      id: n.id,
      width: n.width,
      height: n.height,
      layoutOptions: { 'elk.partitioning.partition': String(stageOf.get(n.id) ?? 0) },
    })),
    edges,
  };
}

/** Actions per lane, top to bottom, for keyboard navigation. */
export function navigationGrid(g: Graph): string[][] {
  const lanes = new Map<number, GNode[]>();
  for (const n of g.nodes) {
    if (n.type !== 'action') continue;
    const s = (n.data as ActionNodeData).action.stageIndex;
    const l = lanes.get(s) ?? [];
    l.push(n);
    lanes.set(s, l);
  }
  return [...lanes.entries()].sort((a, b) => a[0] - b[0]).map(([, ns]) => ns.sort((a, b) => a.position.y - b.position.y).map((n) => n.id));
}

/** The node to focus after pressing an arrow key on `from`. */
export function neighbour(grid: string[][], from: string, key: 'ArrowUp' | 'ArrowDown' | 'ArrowLeft' | 'ArrowRight'): string | null {
  const li = grid.findIndex((l) => l.includes(from));
  if (li < 0) return grid[0]?.[0] ?? null;
  const lane = grid[li] ?? [];
  const ri = lane.indexOf(from);
  if (key === 'ArrowUp') return lane[ri - 1] ?? null;
  if (key === 'ArrowDown') return lane[ri + 1] ?? null;
  const step = key === 'ArrowRight' ? 1 : -1;
  for (let l = li + step; l >= 0 && l < grid.length; l += step) {
    const other = grid[l];
    if (other && other.length > 0) return other[Math.min(ri, other.length - 1)] ?? null;
  }
  return null;
}
