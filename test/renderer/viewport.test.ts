// The first view of an opened pipeline: fits small graphs, keeps large ones readable.
import { describe, expect, it } from 'vitest';
import {
  NODE_TEXT_PX,
  READABLE_TEXT_PX,
  READABLE_ZOOM,
  readableViewport,
} from '../../src/renderer/src/canvas/viewport.ts';

const screen = { width: 1000, height: 600 };

describe('readable first view', () => {
  it('centres a small graph at 1:1, never magnified', () => {
    const v = readableViewport({ x: 0, y: 0, width: 400, height: 200 }, screen);
    expect(v).toEqual({ x: 300, y: 200, zoom: 1 });
  });

  it('fits a graph that fits between the readable zoom and 1:1', () => {
    const v = readableViewport({ x: 100, y: 50, width: 1000, height: 300 }, screen);
    expect(v.zoom).toBeCloseTo(0.92, 5);
    expect(v.zoom * NODE_TEXT_PX).toBeGreaterThanOrEqual(READABLE_TEXT_PX);
    // Centred: the graph's left edge lands at the padding, its middle at the screen's middle.
    expect(v.x + 100 * v.zoom).toBeCloseTo(40, 5);
    expect(v.y + (50 + 150) * v.zoom).toBeCloseTo(300, 5);
  });

  it('shows the start of a large graph at a readable zoom instead of shrinking it', () => {
    const v = readableViewport({ x: -200, y: 10, width: 5000, height: 3000 }, screen);
    expect(v.zoom).toBe(READABLE_ZOOM);
    expect(v.zoom * NODE_TEXT_PX).toBeCloseTo(READABLE_TEXT_PX, 10);
    // Its top-left corner sits at the padding; the rest is scrolled to.
    expect(v.x + -200 * v.zoom).toBeCloseTo(40, 5);
    expect(v.y + 10 * v.zoom).toBeCloseTo(40, 5);
  });

  it('centres a wide-but-short graph vertically while aligning it left', () => {
    const v = readableViewport({ x: 0, y: 0, width: 5000, height: 100 }, screen);
    expect(v.zoom).toBe(READABLE_ZOOM);
    expect(v.x).toBeCloseTo(40, 5);
    expect(v.y).toBeCloseTo((600 - 100 * READABLE_ZOOM) / 2, 5);
  });
});
