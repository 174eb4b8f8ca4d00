// The overview of a big graph: every node as a small rectangle (coloured by its step's status on a
// run page) on one canvas, the visible part as a frame; click or drag in it to move the view
// there. One canvas instead of one SVG element per node (React Flow's own minimap), so panning a
// 1,000-action graph does not update a thousand components each frame; nodes being dragged are
// drawn on a second canvas, so a drag redraws those alone.
import { Panel, useReactFlow, useStore, type Node, type ReactFlowState } from '@xyflow/react';
import { useEffect, useMemo, useRef, type PointerEvent } from 'react';
import type { ActionNodeData } from './graphData';
import { bounds } from './viewWindow';

const W = 200;
const H = 140;
const PAD = 6;

const COLOURS: Record<string, string> = {
  succeeded: '#4ac26b',
  reused: '#4ac26b',
  failed: '#ff8182',
  running: '#54aeff',
  cancelled: '#d4a72c',
};

/** Flow coordinates of the nodes' bounding box, and the scale that fits it into the minimap. */
export function fit(nodes: readonly { position: { x: number; y: number }; width?: number; height?: number }[], w = W, h = H, pad = PAD): { x: number; y: number; scale: number } {
  const b = bounds(nodes);
  if (!b) return { x: 0, y: 0, scale: 1 };
  const scale = Math.min((w - 2 * pad) / Math.max(1, b.width), (h - 2 * pad) / Math.max(1, b.height));
  return { x: b.x - pad / scale, y: b.y - pad / scale, scale };
}

const viewSelector = (s: ReactFlowState) => `${s.transform[0]},${s.transform[1]},${s.transform[2]},${s.width},${s.height}`;

function paint(ctx: CanvasRenderingContext2D, box: { x: number; y: number; scale: number }, n: Node, at: { x: number; y: number }) {
  const x = (at.x - box.x) * box.scale;
  const y = (at.y - box.y) * box.scale;
  const w = Math.max(1, (n.width ?? 0) * box.scale);
  const h = Math.max(1, (n.height ?? 0) * box.scale);
  if (n.type === 'lane') {
    ctx.fillStyle = 'rgba(47, 111, 235, 0.07)';
  } else {
    const status = (n.data as ActionNodeData).run?.status ?? '';
    ctx.fillStyle = COLOURS[status] ?? '#8c959f';
  }
  ctx.fillRect(x, y, w, h);
}

/** `nodes` where the layout put them; `moved`: the ones dragged in this view, where they are now. */
export function CanvasMiniMap({ nodes, moved }: { nodes: Node[]; moved: ReadonlyMap<string, { x: number; y: number }> }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const overlay = useRef<HTMLCanvasElement>(null);
  const flow = useReactFlow();
  const view = useStore(viewSelector);
  const box = useMemo(() => fit(nodes), [nodes]);
  const movedIds = useMemo(() => [...moved.keys()].join('\n'), [moved]);

  useEffect(() => {
    const ctx = canvas.current?.getContext('2d');
    if (!ctx) return;
    ctx.clearRect(0, 0, W, H);
    const skip = new Set(movedIds === '' ? [] : movedIds.split('\n'));
    for (const n of nodes) if (!skip.has(n.id)) paint(ctx, box, n, n.position);
  }, [nodes, box, movedIds]);

  useEffect(() => {
    const ctx = overlay.current?.getContext('2d');
    if (!ctx) return;
    ctx.clearRect(0, 0, W, H);
    if (moved.size === 0) return;
    for (const n of nodes) {
      const at = moved.get(n.id);
      if (at) paint(ctx, box, n, at);
    }
  }, [nodes, box, moved]);

  const [tx, ty, zoom, width, height] = view.split(',').map(Number) as [number, number, number, number, number];
  const frame = { left: (-tx / zoom - box.x) * box.scale, top: (-ty / zoom - box.y) * box.scale, width: (width / zoom) * box.scale, height: (height / zoom) * box.scale };

  const moveTo = (e: PointerEvent<HTMLDivElement>) => {
    const r = e.currentTarget.getBoundingClientRect();
    void flow.setCenter((e.clientX - r.left) / box.scale + box.x, (e.clientY - r.top) / box.scale + box.y, { zoom: flow.getZoom(), duration: 0 });
  };
  return (
    <Panel position="bottom-right" className="minimap">
      <div
        className="minimap-box"
        role="img"
        aria-label="minimap"
        title="Click or drag to move the view"
        onPointerDown={(e) => {
          e.currentTarget.setPointerCapture(e.pointerId);
          moveTo(e);
        }}
        onPointerMove={(e) => {
          if (e.currentTarget.hasPointerCapture(e.pointerId)) moveTo(e);
        }}
      >
        <canvas ref={canvas} width={W} height={H} />
        <canvas ref={overlay} width={W} height={H} className="minimap-moved" />
        <div className="minimap-frame" style={frame} />
      </div>
    </Panel>
  );
}
