import { existsSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { layoutOf } from '../../../src/main/engine/nn/architecture.ts';
import { Rng } from '../../../src/main/engine/rng.ts';
import type { NodeContext } from '../../../src/main/graph/types.ts';
import { run } from '../../../src/main/nodes/export-weights.ts';
import type { PortValue } from '../../../src/main/nodes/values.ts';
import { confinedPolicy } from '../../../src/main/paths/policy.ts';

const layout = layoutOf({ kind: 'mlp', inputDim: 2, hidden: [], outputs: 2, activation: 'relu' });
const weights: PortValue = {
  type: 'weights',
  layout,
  dataset: 'test',
  method: 'd2nwg',
  perTask: [
    {
      task: {
        id: 't0',
        classes: [0, 1],
        trainIndex: new Int32Array(0),
        testIndex: new Int32Array(0),
        split: 'seen',
      },
      vectors: [new Float32Array(layout.size)],
    },
  ],
};

function ctx(dataDir: string, folder: string): NodeContext {
  return {
    runId: 'r',
    nodeId: 'export',
    config: { folder, format: 'npy', select: 'all' },
    seed: 0,
    rng: new Rng(0),
    signal: new AbortController().signal,
    progress: () => undefined,
    log: () => undefined,
    artifact: () => undefined,
    dataDir,
    paths: confinedPolicy({ dataDir }),
  };
}

describe('export.weights node under the API path policy', () => {
  it('checks its folder at run time: absolute, ../, symlinked-out and the data dir root are refused', async () => {
    const base = mkdtempSync(join(tmpdir(), 'd2nwg-export-node-'));
    const data = join(base, 'data');
    const outside = join(base, 'outside');
    mkdirSync(data);
    mkdirSync(outside);
    symlinkSync(outside, join(data, 'evil-link'));
    for (const folder of [outside, '../escaped', 'evil-link/pwned', '.']) {
      await expect(run(ctx(data, folder), { weights: [weights] }), folder).rejects.toThrow(
        `export folder \`${folder}\``,
      );
    }
    expect(readdirSync(outside)).toEqual([]);
    expect(existsSync(join(base, 'escaped'))).toBe(false);
    expect(readdirSync(data)).toEqual(['evil-link']);

    const ok = await run(ctx(data, '..hidden-but-inside'), { weights: [weights] });
    expect(ok.summary?.folder).toBe(join(data, '..hidden-but-inside', 'r'));
    expect(
      existsSync(join(data, '..hidden-but-inside', 'r', 't0', 'sample-000', 'manifest.json')),
    ).toBe(true);
  });
});
