import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { openingView, READABLE_ZOOM, windowIds, windowKey, windowRect } from './viewWindow';

describe('the view window', () => {
  it('covers the viewport with a margin, at any pan and zoom', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -1e5, max: 1e5, noNaN: true }),
        fc.double({ min: -1e5, max: 1e5, noNaN: true }),
        fc.double({ min: 0.05, max: 2, noNaN: true }),
        fc.integer({ min: 1, max: 4000 }),
        fc.integer({ min: 1, max: 3000 }),
        (tx, ty, zoom, w, h) => {
          const r = windowRect(windowKey(tx, ty, zoom, w, h));
          // The view in flow coordinates.
          const vx = -tx / zoom;
          const vy = -ty / zoom;
          const vw = w / zoom;
          const vh = h / zoom;
          // At least a quarter of the view beyond each edge.
          const eps = 1e-6 * (1 + Math.abs(vx) + Math.abs(vy) + vw + vh);
          expect(r.x).toBeLessThanOrEqual(vx - vw / 4 + eps);
          expect(r.y).toBeLessThanOrEqual(vy - vh / 4 + eps);
          expect(r.x + r.width).toBeGreaterThanOrEqual(vx + vw + vw / 4 - eps);
          expect(r.y + r.height).toBeGreaterThanOrEqual(vy + vh + vh / 4 - eps);
          // And at most about 2.2 views wide and high (a quarter-view cell, zoom steps of 2^(1/4)).
          expect(r.width).toBeLessThanOrEqual(vw * (1 + 4 * 0.25 * 2 ** 0.25) + eps);
          expect(r.height).toBeLessThanOrEqual(vh * (1 + 4 * 0.25 * 2 ** 0.25) + eps);
        },
      ),
    );
  });

  it('changes only when the view crosses a cell edge, not on every pan frame', () => {
    const keys = new Set<string>();
    // A pan of 280 px in 1 px steps at zoom 1 in a 1,200 × 800 pane: cells are 300 × 200.
    for (let i = 0; i < 280; i++) keys.add(windowKey(-i - 10, -5, 1, 1200, 800));
    expect(keys.size).toBe(1);
    expect(windowKey(-310, -5, 1, 1200, 800)).not.toBe(windowKey(-290, -5, 1, 1200, 800));
  });

  it('works before the pane is measured', () => {
    const r = windowRect(windowKey(0, 0, 1, 0, 0));
    expect(r.width).toBeGreaterThan(0);
    expect(r.height).toBeGreaterThan(0);
  });

  it('keeps the nodes in the window, both ends of an edge crossing it, and the nodes always wanted', () => {
    const node = (id: string, x: number, y: number) => ({ id, position: { x, y }, width: 100, height: 50 });
    const nodes = [node('in', 10, 10), node('edge-left', -5000, 20), node('edge-right', 5000, 20), node('far', 9000, 9000), node('far2', 9500, 9000), node('dragged', -9000, -9000)];
    const edges = [
      { source: 'edge-left', target: 'edge-right' },
      { source: 'far', target: 'far2' },
      { source: 'in', target: 'gone' },
    ];
    const ids = windowIds(nodes, edges, { x: 0, y: 0, width: 500, height: 500 }, ['dragged']);
    expect([...ids].sort()).toEqual(['dragged', 'edge-left', 'edge-right', 'in']);
  });
  it('opens a graph fitted when that is readable, else readable at its start', () => {
    // two lanes in a wide pane: fitted, centred, never above 1
    const small = openingView({ x: 0, y: 0, width: 600, height: 200 }, 1400, 700);
    expect(small).toEqual({ x: 400, y: 250, zoom: 1, fits: true });
    // a 6-lane pipeline in the editor's half-width pane: fitting needs ~0.45, so it opens at the
    // readable zoom with its left edge 16 px in, centred vertically
    const wide = openingView({ x: 10, y: 0, width: 2100, height: 400 }, 670, 560);
    expect(wide.fits).toBe(false);
    expect(wide.zoom).toBe(READABLE_ZOOM);
    expect(wide.x + 10 * wide.zoom).toBe(16);
    expect(wide.y + 200 * wide.zoom).toBe(280);
    // too tall as well: its top-left corner
    const tall = openingView({ x: 0, y: -50, width: 2100, height: 2000 }, 670, 560);
    expect(tall).toEqual({ x: 16, y: 16 + 50 * READABLE_ZOOM, zoom: READABLE_ZOOM, fits: false });
    // fitted whenever the fit is readable: the whole graph is inside the pane
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 200, max: 3000 }), fc.integer({ min: 200, max: 2000 }), (w, h, pw, ph) => {
        const v = openingView({ x: 0, y: 0, width: w, height: h }, pw, ph);
        expect(v.zoom).toBeGreaterThanOrEqual(READABLE_ZOOM);
        if (v.fits) {
          expect(v.x).toBeGreaterThanOrEqual(-1e-6);
          expect(v.x + w * v.zoom).toBeLessThanOrEqual(pw + 1e-6);
          expect(v.y + h * v.zoom).toBeLessThanOrEqual(ph + 1e-6);
        } else expect(v.x).toBe(16);
      }),
    );
  });
});
