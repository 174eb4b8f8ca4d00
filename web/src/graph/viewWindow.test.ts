import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { windowIds, windowKey, windowRect } from './viewWindow';

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
});
