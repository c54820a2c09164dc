import { describe, expect, it } from 'vitest';
import { validateWithRegistry } from '../../../src/main/api/create.ts';
import { frameStats, gridPipeline, profileHotspots } from '../../../src/main/server/bench-ui.ts';

describe('bench ui helpers', () => {
  it('summarises frame intervals by nearest rank', () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1).reverse();
    expect(frameStats(xs)).toEqual({ p50: 50, p95: 95, max: 100, count: 100 });
    expect(frameStats([16.66, 33.34])).toEqual({ p50: 16.7, p95: 33.3, max: 33.3, count: 2 });
    expect(frameStats([])).toEqual({ p50: 0, p95: 0, max: 0, count: 0 });
  });

  it('generates a valid pipeline with exactly the requested number of nodes', () => {
    for (const n of [30, 7]) {
      const p = gridPipeline(n);
      expect(p.nodes).toHaveLength(n);
      expect(new Set(p.nodes.map((x) => x.id)).size).toBe(n);
      expect(validateWithRegistry(p)).toEqual({ ok: true, issues: [] });
    }
  });

  it('sums the self time of a CPU profile per function, largest first', () => {
    const frame = (functionName: string, url = '', lineNumber = 0) => ({
      functionName,
      url,
      lineNumber,
    });
    const profile = {
      nodes: [
        { id: 1, callFrame: frame('(root)') },
        { id: 2, callFrame: frame('render', 'http://x/assets/index.js', 41) },
        { id: 3, callFrame: frame('', 'http://x/assets/index.js', 9) },
        { id: 4, callFrame: frame('render', 'http://x/assets/index.js', 41) },
      ],
      samples: [2, 3, 4, 2, 1],
      timeDeltas: [1000, 500, 2000, 1000, 250],
    };
    expect(profileHotspots(profile, 2)).toEqual([
      { where: 'render (index.js:42)', selfMs: 4 },
      { where: '(anonymous) (index.js:10)', selfMs: 0.5 },
    ]);
  });
});
