import { describe, expect, it } from 'vitest';
import { fit } from './MiniMap';

describe('the minimap', () => {
  it('fits every node into its box, keeping the aspect ratio', () => {
    const f = fit([{ position: { x: 100, y: 50 }, width: 100, height: 50 }, { position: { x: 900, y: 450 }, width: 100, height: 50 }], 200, 140, 0);
    // 900 × 450 flow px into 200 × 140: the width decides
    expect(f.scale).toBeCloseTo(200 / 900);
    expect(f.x).toBe(100);
    expect(f.y).toBe(50);
    // the far corner lands inside the box
    expect((1000 - f.x) * f.scale).toBeCloseTo(200);
    expect((500 - f.y) * f.scale).toBeLessThanOrEqual(140);
  });
  it('leaves a margin and copes with no nodes', () => {
    const f = fit([{ position: { x: 0, y: 0 }, width: 188, height: 10 }], 200, 140, 6);
    expect(f.scale).toBeCloseTo(1);
    expect(f.x).toBeCloseTo(-6);
    expect(fit([])).toEqual({ x: 0, y: 0, scale: 1 });
  });
});
