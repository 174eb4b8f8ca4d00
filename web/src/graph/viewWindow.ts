// The part of a big graph React Flow is given: the nodes near the viewport, not all of them.
// React Flow re-indexes every node it has whenever its node array changes (each mouse move of a
// drag, each status poll), and runs per-node selectors on each store update; with 1,000 actions
// that cost more than a frame. The window is the viewport plus a margin, snapped to a grid of
// quarter-viewport cells, so it changes only when the view crosses a cell edge, not on every frame.

import { getViewportForBounds } from '@xyflow/react';

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Cells per view width (and height). */
const CELLS = 4;

/** The pane size assumed before React Flow has measured it. */
const UNMEASURED = 2000;

/**
 * The window for a viewport, as a key that changes only when the window does (React re-renders
 * on a change of the key, not on every pan frame). `tx, ty, zoom`: React Flow's transform;
 * `width, height`: the pane in screen pixels.
 */
export function windowKey(tx: number, ty: number, zoom: number, width: number, height: number): string {
  const w = width > 0 ? width : UNMEASURED;
  const h = height > 0 ? height : UNMEASURED;
  const z = zoom > 0 ? zoom : 1;
  // Zoom in steps of 2^(1/4), rounded down: a cell is at least a quarter of the view each way.
  const step = Math.floor(Math.log2(z) * 4);
  const zq = 2 ** (step / 4);
  const cw = w / zq / CELLS;
  const ch = h / zq / CELLS;
  const x0 = -tx / z;
  const y0 = -ty / z;
  // The cells the view touches, and one more on every side.
  const i0 = Math.floor(x0 / cw) - 1;
  const j0 = Math.floor(y0 / ch) - 1;
  const i1 = Math.floor((x0 + w / z) / cw) + 1;
  const j1 = Math.floor((y0 + h / z) / ch) + 1;
  return `${step}:${i0}:${j0}:${i1}:${j1}:${w}:${h}`;
}

/** The flow-coordinate rectangle of a `windowKey`. */
export function windowRect(key: string): Rect {
  const [step, i0, j0, i1, j1, w, h] = key.split(':').map(Number) as [number, number, number, number, number, number, number];
  const zq = 2 ** (step / 4);
  const cw = w / zq / CELLS;
  const ch = h / zq / CELLS;
  return { x: i0 * cw, y: j0 * ch, width: (i1 - i0 + 1) * cw, height: (j1 - j0 + 1) * ch };
}

interface Placed {
  id: string;
  position: { x: number; y: number };
  width?: number;
  height?: number;
}

function overlaps(r: Rect, x0: number, y0: number, x1: number, y1: number): boolean {
  return x1 >= r.x && x0 <= r.x + r.width && y1 >= r.y && y0 <= r.y + r.height;
}

/**
 * The ids of the nodes React Flow needs for the window `r`: every node overlapping it, both ends
 * of every edge whose span (the box around its two nodes) overlaps it — so an edge crossing the
 * view is drawn even when its nodes are far outside — and the `always` ids (nodes being dragged).
 */
export function windowIds(nodes: readonly Placed[], edges: readonly { source: string; target: string }[], r: Rect, always: Iterable<string> = []): Set<string> {
  const ids = new Set<string>(always);
  const at = new Map<string, Placed>();
  for (const n of nodes) {
    at.set(n.id, n);
    if (overlaps(r, n.position.x, n.position.y, n.position.x + (n.width ?? 0), n.position.y + (n.height ?? 0))) ids.add(n.id);
  }
  for (const e of edges) {
    if (ids.has(e.source) && ids.has(e.target)) continue;
    const a = at.get(e.source);
    const b = at.get(e.target);
    if (!a || !b) continue;
    const x0 = Math.min(a.position.x, b.position.x);
    const y0 = Math.min(a.position.y, b.position.y);
    const x1 = Math.max(a.position.x + (a.width ?? 0), b.position.x + (b.width ?? 0));
    const y1 = Math.max(a.position.y + (a.height ?? 0), b.position.y + (b.height ?? 0));
    if (overlaps(r, x0, y0, x1, y1)) {
      ids.add(e.source);
      ids.add(e.target);
    }
  }
  return ids;
}

/** The box around all nodes (null: no nodes). */
export function bounds(nodes: readonly Omit<Placed, 'id'>[]): Rect | null {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const n of nodes) {
    x0 = Math.min(x0, n.position.x);
    y0 = Math.min(y0, n.position.y);
    x1 = Math.max(x1, n.position.x + (n.width ?? 0));
    y1 = Math.max(y1, n.position.y + (n.height ?? 0));
  }
  return Number.isFinite(x0) ? { x: x0, y: y0, width: x1 - x0, height: y1 - y0 } : null;
}

/** The zoom below which node names and ports are hard to read: a graph opens at least this close. */
export const READABLE_ZOOM = 0.75;
/** Margin in screen px left of (and above) a graph that opens at its start. */
const START_MARGIN = 16;

/**
 * The view a small or medium graph opens at, for content `b` in a pane of `width`×`height` px:
 * fitted whole and centred (React Flow's fitView, at most `maxZoom`) when that is readable; else
 * at READABLE_ZOOM showing the start of the graph (its first lanes, centred vertically when its
 * height fits), and `fits` false: the reader pans, uses the minimap or zooms out.
 */
export function openingView(b: Rect, width: number, height: number, padding = 0.1, maxZoom = 1): { x: number; y: number; zoom: number; fits: boolean } {
  const fit = getViewportForBounds(b, width, height, 0.05, maxZoom, padding);
  if (fit.zoom >= READABLE_ZOOM) return { ...fit, fits: true };
  const zoom = READABLE_ZOOM;
  const x = START_MARGIN - b.x * zoom;
  const y = b.height * zoom <= height - 2 * START_MARGIN ? height / 2 - (b.y + b.height / 2) * zoom : START_MARGIN - b.y * zoom;
  return { x, y, zoom, fits: false };
}
