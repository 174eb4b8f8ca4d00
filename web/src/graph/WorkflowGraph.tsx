// The workflow graph, used by every page that shows one (view, editor, run, diff). Stages are
// lanes, actions are nodes with typed ports; layout from ELK in a worker, never stored.
import {
  Background,
  ControlButton,
  Controls,
  Handle,
  Position,
  ReactFlow,
  ReactFlowProvider,
  useReactFlow,
  useStore,
  type Connection,
  type Edge,
  type Node,
  type NodeChange,
  type NodeHandle,
  type NodeProps,
  type ReactFlowState,
} from '@xyflow/react';
import { memo, useCallback, useEffect, useMemo, useRef, useState, type DragEvent, type KeyboardEvent } from 'react';
import type { WorkflowModel } from '../yaml/model';
import { buildGraph, elkInput, handleBoxes, navigationGrid, neighbour, showsPorts, stackLanes, withLanes, type ActionNodeData, type BuildOptions, type GNode, type LaneNodeData, type PortInfo, type RunState } from './graphData';
import { layoutInWorker } from './layout';
import { CanvasMiniMap } from './MiniMap';
import { duration } from './runState';
import { bounds, openingView, windowIds, windowKey, windowRect } from './viewWindow';

export interface WiringEnd {
  action: string;
  port: string;
}

export interface GraphProps extends BuildOptions {
  model: WorkflowModel;
  mode: 'view' | 'edit' | 'run';
  selected?: string | null;
  onSelect?: (id: string | null) => void;
  /** Edit mode: why a connection is refused (null: allowed). */
  checkConnection?: (from: WiringEnd, to: WiringEnd) => string | null;
  onConnect?: (from: WiringEnd, to: WiringEnd) => void;
  /** Edit mode: a palette item dropped into a lane (stage index) or beside them (null: a new stage). */
  onDropItem?: (payload: string, stageIndex: number | null) => void;
  label?: string;
}

export const DRAG_TYPE = 'application/x-containerops-palette';

const STATUS_WORDS = new Set(['pending', 'waiting', 'running', 'succeeded', 'failed', 'skipped', 'cancelled', 'reused']);

function typeBadge(p: PortInfo): string {
  return p.type ?? '';
}

function Port({ p, side, mode }: { p: PortInfo; side: 'in' | 'out'; mode: GraphProps['mode'] }) {
  return (
    <div className={`port port-${side}${p.wired ? ' wired' : ''}`} title={`${p.name}${p.type ? `: ${p.type}` : ''}${p.required ? ' (required)' : ''}`}>
      <Handle
        type={side === 'in' ? 'target' : 'source'}
        position={side === 'in' ? Position.Left : Position.Right}
        id={`${side}:${p.name}`}
        isConnectable={mode === 'edit'}
        className={`handle handle-${side}`}
        aria-label={`${side === 'in' ? 'input' : 'output'} ${p.name}`}
      />
      <span className="port-name">
        {p.name}
        {p.required ? <span className="req">*</span> : null}
      </span>
      <span className="port-type">{typeBadge(p)}</span>
    </div>
  );
}

/** The duration of a step; ticks every second while it runs (only visible running nodes tick). */
function Duration({ start, end }: { start: string | null; end: string | null }) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!start || end) return;
    const t = window.setInterval(() => { setNow(Date.now()); }, 1000);
    return () => { window.clearInterval(t); };
  }, [start, end]);
  return <>{duration(start, end, now)}</>;
}

function ActionNodeView({ data, selected }: NodeProps<Node<ActionNodeData>>) {
  const { action, inputs, outputs, run, problems, diff, subtitle } = data;
  const mode = (data.mode as GraphProps['mode'] | undefined) ?? 'view';
  const status = run?.status ?? (mode === 'run' ? 'pending' : undefined);
  const statusWord = status && STATUS_WORDS.has(status) ? status : status ?? '';
  const counts = run && run.copies > 1 ? Object.entries(run.counts).map(([s, n]) => `${n} ${s}`).join(' · ') : null;
  return (
    <div
      className={`action-node${selected ? ' selected' : ''}${status ? ` st-${status}` : ''}${problems.length ? ' has-problems' : ''}${diff ? ` diff-${diff}` : ''}`}
      role="button"
      tabIndex={0}
      aria-label={`action ${action.name}`}
      aria-pressed={selected}
      data-action-id={action.id}
      {...(mode === 'run' ? { 'data-status': statusWord } : {})}
    >
      <Handle type="target" position={Position.Left} id={null} className="handle handle-node" isConnectable={false} />
      <Handle type="source" position={Position.Right} id={null} className="handle handle-node" isConnectable={false} />
      <div className="an-head">
        <span className="an-name">{action.name}</span>
        {action.matrixCount > 1 ? <span className="an-badge" title="matrix copies">×{action.matrixCount}</span> : null}
        {action.retry ? <span className="an-badge" title="retry">↻{typeof action.retry.attempts === 'number' ? action.retry.attempts : ''}</span> : null}
        {problems.length ? (
          <span className="an-badge an-problems" title={problems.join('\n')} aria-label={`${problems.length} problem${problems.length > 1 ? 's' : ''}`}>
            ⚠ {problems.length}
          </span>
        ) : null}
        {status ? <span className={`an-status st-${status}`}>{status}</span> : null}
      </div>
      <div className="an-sub" title={subtitle}>
        {subtitle}
      </div>
      {mode === 'run' && run ? (
        <div className="an-run">
          <Duration start={run.startedAt} end={run.finishedAt} />
          {run.attempts > 1 ? ` · ${run.attempts} attempts` : ''}
          {counts ? ` · ${counts}` : ''}
        </div>
      ) : null}
      {showsPorts(mode, inputs.length, outputs.length) ? (
        <div className="an-ports">
          <div className="ports-in">
            {inputs.map((p) => (
              <Port key={p.name} p={p} side="in" mode={mode} />
            ))}
          </div>
          <div className="ports-out">
            {outputs.map((p) => (
              <Port key={p.name} p={p} side="out" mode={mode} />
            ))}
          </div>
        </div>
      ) : (
        <div className="hidden-ports">
          {inputs.map((p) => (
            <Handle key={`i${p.name}`} type="target" position={Position.Left} id={`in:${p.name}`} className="handle handle-hidden" isConnectable={false} />
          ))}
          {outputs.map((p) => (
            <Handle key={`o${p.name}`} type="source" position={Position.Right} id={`out:${p.name}`} className="handle handle-hidden" isConnectable={false} />
          ))}
        </div>
      )}
    </div>
  );
}

function LaneNodeView({ data }: NodeProps<Node<LaneNodeData>>) {
  return (
    <div className={`lane${data.finally ? ' lane-finally' : ''}`} aria-label={`stage ${data.name}`} role="group">
      <div className="lane-title">{data.name}</div>
    </div>
  );
}

/** Ctrl+K: type part of an action's name, Enter goes to it (centred, selected, focused). */
function GoToAction({ actions, onGo }: { actions: { id: string; name: string; stage: string }[]; onGo: (id: string) => void }) {
  const [open, setOpen] = useState(false);
  const [q, setQ] = useState('');
  const [i, setI] = useState(0);
  useEffect(() => {
    const onKey = (e: globalThis.KeyboardEvent) => {
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'k') {
        e.preventDefault();
        setOpen(true);
        setQ('');
        setI(0);
      }
    };
    window.addEventListener('keydown', onKey);
    return () => { window.removeEventListener('keydown', onKey); };
  }, []);
  if (!open) return null;
  const found = actions.filter((a) => a.name.includes(q.trim())).slice(0, 12);
  return (
    <div className="goto" role="dialog" aria-label="Go to action">
      <input
        autoFocus
        aria-label="Go to action"
        placeholder="Go to action…"
        value={q}
        onChange={(e) => { setQ(e.target.value); setI(0); }}
        onKeyDown={(e) => {
          if (e.key === 'Escape') setOpen(false);
          else if (e.key === 'ArrowDown') { e.preventDefault(); setI((x) => Math.min(found.length - 1, x + 1)); }
          else if (e.key === 'ArrowUp') { e.preventDefault(); setI((x) => Math.max(0, x - 1)); }
          else if (e.key === 'Enter') {
            const a = found[i];
            if (a) { setOpen(false); onGo(a.id); }
          }
        }}
        onBlur={() => { setOpen(false); }}
      />
      <ul>
        {found.map((a, k) => (
          <li key={a.id} className={k === i ? 'current' : ''}>
            {a.name} <span className="muted small">{a.stage}</span>
          </li>
        ))}
      </ul>
    </div>
  );
}

const nodeTypes = { action: memo(ActionNodeView), lane: memo(LaneNodeView) };
const PRO = { hideAttribution: true };

/** The two ends of a wire between typed ports (null: not between an output and an input). */
function ends(c: Connection | Edge): [WiringEnd, WiringEnd] | null {
  if (!c.sourceHandle?.startsWith('out:') || !c.targetHandle?.startsWith('in:')) return null;
  return [
    { action: c.source, port: c.sourceHandle.slice(4) },
    { action: c.target, port: c.targetHandle.slice(3) },
  ];
}

/** Above this many actions the graph opens zoomed on its start instead of fitted whole, and
 * React Flow is given only the nodes near the view (`viewWindow.ts`). */
const BIG = 60;

const windowSelector = (s: ReactFlowState) => windowKey(s.transform[0], s.transform[1], s.transform[2], s.width, s.height);
const noWindow = () => '';

/** React Flow's own fit-view icon (its Controls do not export it). */
function FitViewIcon() {
  return (
    <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 30">
      <path d="M3.692 4.63c0-.53.4-.938.939-.938h5.215V0H4.708C2.13 0 0 2.054 0 4.63v5.216h3.692V4.631zM27.354 0h-5.2v3.692h5.17c.53 0 .984.4.984.939v5.215H32V4.631A4.624 4.624 0 0027.354 0zm.954 24.83c0 .532-.4.94-.939.94h-5.215v3.768h5.215c2.577 0 4.631-2.13 4.631-4.707v-5.139h-3.692v5.139zm-23.677.94c-.531 0-.939-.4-.939-.94v-5.138H0v5.139c0 2.577 2.13 4.707 4.708 4.707h5.138V25.77H4.631z" />
    </svg>
  );
}

function runSig(r: RunState | null): string {
  if (!r) return '';
  return `${r.status}:${JSON.stringify(r.counts)}:${r.attempts}:${r.startedAt ?? ''}:${r.finishedAt ?? ''}:${r.error ?? ''}`;
}

function portSig(d: ActionNodeData): string {
  return `${d.inputs.map((p) => `${p.name}=${p.type ?? ''}${p.wired ? '*' : ''}`).join(',')}/${d.outputs.map((p) => `${p.name}=${p.type ?? ''}`).join(',')}`;
}

function shapeKey(nodes: GNode[], edgeKey: string): string {
  return `${nodes.map((n) => `${n.id}:${n.height}`).join('|')}#${edgeKey}`;
}

/** React Flow's handles of an action node (see `handleBoxes`). */
function flowHandles(n: GNode, d: ActionNodeData, mode: GraphProps['mode']): NodeHandle[] {
  const ports = showsPorts(mode, d.inputs.length, d.outputs.length);
  return handleBoxes(n.width, n.height, d.inputs.map((p) => p.name), d.outputs.map((p) => p.name), ports).map((h) => ({
    id: h.id,
    type: h.type,
    position: h.side === 'left' ? Position.Left : Position.Right,
    x: h.x,
    y: h.y,
    width: h.width,
    height: h.height,
  }));
}

/** `next` if any element differs from `prev`, else `prev` (React Flow then has nothing to adopt). */
function sameOr<T>(prev: T[], next: T[]): T[] {
  return prev.length === next.length && next.every((x, i) => x === prev[i]) ? prev : next;
}

function GraphInner(props: GraphProps) {
  const { model, mode, selected, onSelect, checkConnection, onConnect, onDropItem, contracts, run, problems, diff } = props;
  // The structure (nodes, ports, edges) does not depend on run states: a status poll on a run
  // page only changes the nodes whose step changed.
  const compact = mode === 'run';
  const base = useMemo(() => buildGraph(model, { contracts, problems, diff, compact }), [model, contracts, problems, diff, compact]);
  const key = useMemo(() => shapeKey(base.nodes.filter((n) => n.type === 'action'), base.edges.map((e) => e.id).join(',')), [base]);
  const [layout, setLayout] = useState<{ key: string; positions: Map<string, { x: number; y: number }> } | null>(null);
  const [refusal, setRefusal] = useState<string | null>(null);
  const flow = useReactFlow();
  const wrapper = useRef<HTMLDivElement>(null);

  useEffect(() => {
    let stale = false;
    layoutInWorker(elkInput(model, base))
      .then((positions) => {
        if (!stale) setLayout({ key, positions });
      })
      .catch(() => undefined); // the lane layout stays
    return () => {
      stale = true;
    };
    // Layout only when the shape changes, not on status updates.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);

  const graph = useMemo(() => (layout && layout.key === key ? withLanes(model, base, stackLanes(model, base, layout.positions)) : base), [layout, key, model, base]);

  // One React Flow node object per action, reused while nothing it shows changed, so a status
  // update of one step re-renders one node (a 1,000-step run page stays responsive). Every node
  // carries its size and handles: React Flow then never has to draw an off-screen node just to
  // measure it, so only the visible ones are ever in the DOM.
  const cache = useRef(new Map<string, { sig: string; node: Node }>());
  const placed = useRef<Node[]>([]);
  const [dragged, setDragged] = useState<Map<string, { x: number; y: number }>>(new Map());
  useEffect(() => {
    setDragged(new Map());
  }, [layout, key]);
  const laidOut = useMemo<Node[]>(() => {
    const next = new Map<string, { sig: string; node: Node }>();
    const out = graph.nodes.map((n) => {
      const d = n.data as ActionNodeData;
      const state = n.type === 'action' ? (run?.get(n.id) ?? null) : null;
      const sig =
        n.type === 'action'
          ? `${n.position.x},${n.position.y},${n.height},${n.id === selected},${mode},${runSig(state)},${d.problems.join('|')},${d.diff ?? ''},${portSig(d)},${d.subtitle},${d.action.matrixCount},${JSON.stringify(d.action.retry)}`
          : `${n.position.x},${n.position.y},${n.width},${n.height},${(n.data as LaneNodeData).name}`;
      const old = cache.current.get(n.id);
      if (old && old.sig === sig) {
        next.set(n.id, old);
        return old.node;
      }
      const node: Node = {
        id: n.id,
        type: n.type,
        position: n.position,
        width: n.width,
        height: n.height,
        measured: { width: n.width, height: n.height },
        data: n.type === 'action' ? { ...d, run: state, mode } : n.data,
        selectable: n.type === 'action',
        draggable: n.type === 'action',
        focusable: false,
        selected: n.id === selected,
        zIndex: n.type === 'lane' ? -1 : 1,
        ...(n.type === 'lane' ? { style: { width: n.width, height: n.height }, handles: [] } : { handles: flowHandles(n, d, mode) }),
      };
      next.set(n.id, { sig, node });
      return node;
    });
    cache.current = next;
    placed.current = sameOr(placed.current, out);
    return placed.current;
  }, [graph, mode, selected, run]);
  const onNodesChange = useCallback((changes: NodeChange[]) => {
    const moves = changes.filter((c) => c.type === 'position' && c.position);
    if (moves.length === 0) return;
    setDragged((m) => {
      const n = new Map(m);
      for (const c of moves) if (c.type === 'position' && c.position) n.set(c.id, c.position);
      return n;
    });
  }, []);

  // Edge objects are reused too: only the ones whose animation flag changes are new. Big graphs
  // do not animate the edges into running steps: React Flow re-indexes every edge when one
  // changes, and a 1,000-step run changes some every second.
  const big = model.actions.length > BIG;
  const animate = mode === 'run' && !big;
  const edgeCache = useRef(new Map<string, { sig: string; edge: Edge }>());
  const edgesRef = useRef<Edge[]>([]);
  const edges = useMemo<Edge[]>(() => {
    const next = new Map<string, { sig: string; edge: Edge }>();
    const out = graph.edges.map((e) => {
      const animated = animate && run?.get(e.target)?.status === 'running';
      const sig = `${e.sourceHandle ?? ''}>${e.targetHandle ?? ''}:${animated}:${mode}`;
      const old = edgeCache.current.get(e.id);
      if (old && old.sig === sig) {
        next.set(e.id, old);
        return old.edge;
      }
      const edge: Edge = {
        id: e.id,
        source: e.source,
        target: e.target,
        sourceHandle: e.sourceHandle,
        targetHandle: e.targetHandle,
        type: 'smoothstep',
        className: `edge-${e.kind}`,
        // Run pages hide the ports, big graphs name them on the nodes only (React Flow measures
        // each label it draws with a forced layout).
        label: mode === 'run' || big ? undefined : e.label ?? undefined,
        animated,
        focusable: false,
      };
      next.set(e.id, { sig, edge });
      return edge;
    });
    edgeCache.current = next;
    edgesRef.current = sameOr(edgesRef.current, out);
    return edgesRef.current;
  }, [graph, mode, run, animate, big]);

  // Big graphs: React Flow is given only the nodes near the view and the edges between them
  // (it re-indexes all it has on each change: every mouse move of a drag, every status poll).
  // The minimap, fit-view and keyboard navigation use the whole graph.
  const win = useStore(big ? windowSelector : noWindow);
  const draggedIds = useMemo(() => [...dragged.keys()].join('\n'), [dragged]);
  const inWindow = useMemo(
    () => (win === '' ? null : windowIds(graph.nodes, graph.edges, windowRect(win), draggedIds === '' ? [] : draggedIds.split('\n'))),
    [win, graph, draggedIds],
  );
  const windowRef = useRef<Node[]>([]);
  const windowNodes = useMemo(() => {
    if (!inWindow) return laidOut;
    windowRef.current = sameOr(windowRef.current, laidOut.filter((n) => inWindow.has(n.id)));
    return windowRef.current;
  }, [laidOut, inWindow]);
  // Nodes dragged in this view (never written to the file): only their objects change.
  const shownNodes = useMemo<Node[]>(
    () =>
      dragged.size === 0
        ? windowNodes
        : windowNodes.map((n) => {
            const p = dragged.get(n.id);
            return p ? { ...n, position: p } : n;
          }),
    [windowNodes, dragged],
  );
  const shownEdgesRef = useRef<Edge[]>([]);
  const shownEdges = useMemo(() => {
    if (!inWindow) return edges;
    shownEdgesRef.current = sameOr(shownEdgesRef.current, edges.filter((e) => inWindow.has(e.source) && inWindow.has(e.target)));
    return shownEdgesRef.current;
  }, [edges, inWindow]);

  // Small graphs are fitted into view when that leaves them readable; wider ones (and big ones
  // always) open at a readable zoom on their first lanes (fitting 1,000 nodes would put every one
  // of them on screen and defeat virtualisation). A graph shown at its start is not moved again
  // on later edits: the reader may have panned to the part being edited.
  const fitted = useRef(false);
  const startShown = useRef(false);
  // The shape whose final (ELK) layout is on screen and fitted: `data-layout="ready"` tells
  // tests and screenshots that nodes and ports stay where they are until the next change.
  const [readyKey, setReadyKey] = useState<string | null>(null);
  useEffect(() => {
    if (laidOut.length === 0) return;
    const done = layout?.key === key ? key : null;
    let stale = false;
    const landed = () => {
      if (!stale) setReadyKey(done);
    };
    const pane = wrapper.current;
    const b = bounds(laidOut);
    if (big) {
      if (!fitted.current) void flow.setViewport({ x: 16, y: 16, zoom: 0.8 }).then(landed);
      else landed();
    } else if (pane && b && pane.clientWidth > 0 && pane.clientHeight > 0) {
      const v = openingView(b, pane.clientWidth, pane.clientHeight);
      if (v.fits || !startShown.current) void flow.setViewport({ x: v.x, y: v.y, zoom: v.zoom }).then(landed);
      else landed();
      // (the first, lane-only layout is replaced by ELK's: the start is shown again then)
      startShown.current = !v.fits && (startShown.current || done !== null);
    } else void flow.fitView({ padding: 0.1, maxZoom: 1, minZoom: 0.05 }).then(landed);
    fitted.current = true;
    return () => {
      stale = true;
    };
    // Re-fit when the layout lands or the shape changes, not on every status update.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [layout, key, flow]);

  const isValidConnection = useCallback(
    (c: Connection | Edge) => {
      const e = ends(c);
      if (!e) return false;
      const problem = checkConnection ? checkConnection(e[0], e[1]) : 'read-only';
      setRefusal(problem ? `Refused: ${problem}` : null);
      return problem === null;
    },
    [checkConnection],
  );

  // Fit view: React Flow's would fit only the nodes it was given (the window of a big graph).
  const fitAll = useCallback(() => {
    const b = bounds(graph.nodes);
    if (b) void flow.fitBounds(b, { padding: 0.1 });
  }, [graph, flow]);

  /** Focuses an action node once it is drawn (after a move of the view it may take a frame or two). */
  const focusNode = useCallback((id: string) => {
    let tries = 0;
    const attempt = () => {
      const el = wrapper.current?.querySelector<HTMLElement>(`[data-action-id="${CSS.escape(id)}"]`);
      if (el) el.focus();
      else if (++tries < 30) requestAnimationFrame(attempt);
    };
    requestAnimationFrame(attempt);
  }, []);

  const grid = useMemo(() => navigationGrid(graph), [graph]);
  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    const target = e.target as HTMLElement;
    const id = target.getAttribute('data-action-id');
    if (!id) return;
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      onSelect?.(id);
      return;
    }
    if (e.key === 'ArrowUp' || e.key === 'ArrowDown' || e.key === 'ArrowLeft' || e.key === 'ArrowRight') {
      e.preventDefault();
      const to = neighbour(grid, id, e.key);
      if (!to) return;
      const n = graph.nodes.find((x) => x.id === to);
      if (n) void flow.setCenter(n.position.x + n.width / 2, n.position.y + n.height / 2, { zoom: flow.getZoom(), duration: 0 });
      focusNode(to);
    }
  };

  const onDragOver = (e: DragEvent) => {
    if (mode !== 'edit') return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'copy';
  };
  const onDrop = (e: DragEvent) => {
    if (mode !== 'edit' || !onDropItem) return;
    const payload = e.dataTransfer.getData(DRAG_TYPE);
    if (!payload) return;
    e.preventDefault();
    const p = flow.screenToFlowPosition({ x: e.clientX, y: e.clientY });
    const lane = graph.nodes.find((n) => n.type === 'lane' && p.x >= n.position.x && p.x <= n.position.x + n.width && p.y >= n.position.y && p.y <= n.position.y + n.height);
    const si = lane ? Number(lane.id.slice('lane:'.length)) : null;
    const stage = si === null ? undefined : model.stages[si];
    onDropItem(payload, stage && !stage.finally ? si : null);
  };

  const goTo = useCallback(
    (id: string) => {
      const n = graph.nodes.find((x) => x.id === id);
      if (n) void flow.setCenter(n.position.x + n.width / 2, n.position.y + n.height / 2, { zoom: Math.max(flow.getZoom(), 0.8), duration: 0 });
      onSelect?.(id);
      focusNode(id);
    },
    [graph, flow, onSelect, focusNode],
  );

  // Stable callbacks: React Flow copies each prop it is given into its store, and every store
  // update runs the selectors of every drawn node and edge (a drag re-renders this component on
  // each mouse move).
  const onNodeClick = useCallback(
    (_: unknown, n: Node) => {
      if (n.type === 'action') onSelect?.(n.id);
    },
    [onSelect],
  );
  const onPaneClick = useCallback(() => onSelect?.(null), [onSelect]);
  const onConnectStart = useCallback(() => {
    setRefusal(null);
  }, []);
  const onConnectEnds = useCallback(
    (c: Connection) => {
      const e = ends(c);
      if (e) onConnect?.(e[0], e[1]);
    },
    [onConnect],
  );
  const gotoList = useMemo(() => model.actions.map((a) => ({ id: a.id, name: a.name, stage: a.stage })), [model]);

  return (
    <div
      className="graph"
      ref={wrapper}
      onKeyDown={onKeyDown}
      onDragOver={onDragOver}
      onDrop={onDrop}
      aria-label={props.label ?? 'workflow graph'}
      role="region"
      data-layout={readyKey === key && layout?.key === key ? 'ready' : 'pending'}
    >
      <ReactFlow
        nodes={shownNodes}
        edges={shownEdges}
        nodeTypes={nodeTypes}
        onNodesChange={onNodesChange}
        onNodeClick={onNodeClick}
        onPaneClick={onPaneClick}
        onConnectStart={onConnectStart}
        isValidConnection={isValidConnection}
        onConnect={onConnectEnds}
        nodesConnectable={mode === 'edit'}
        onlyRenderVisibleElements
        disableKeyboardA11y
        minZoom={0.05}
        maxZoom={2}
        proOptions={PRO}
        deleteKeyCode={null}
      >
        <Background gap={24} />
        <Controls showInteractive={false} showFitView={!big}>
          {big ? (
            <ControlButton className="react-flow__controls-fitview" onClick={fitAll} title="Fit View" aria-label="Fit View">
              <FitViewIcon />
            </ControlButton>
          ) : null}
        </Controls>
        {model.actions.length > 40 ? <CanvasMiniMap nodes={laidOut} moved={dragged} /> : null}
      </ReactFlow>
      <GoToAction actions={gotoList} onGo={goTo} />
      {refusal ? (
        <div className="refusal" role="status">
          {refusal}
        </div>
      ) : null}
    </div>
  );
}

export const WorkflowGraph = memo(function WorkflowGraph(props: GraphProps) {
  return (
    <ReactFlowProvider>
      <GraphInner {...props} />
    </ReactFlowProvider>
  );
});
