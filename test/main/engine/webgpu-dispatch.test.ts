// Opt-in, as the other webgpu suites (npm run test:webgpu runs it on lavapipe): the dispatch
// caches of kernels/webgpu-dispatch.ts change no number and are really hit.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/main/engine/backend.ts';
import { dispatchCacheStats } from '../../../src/main/engine/kernels/webgpu-dispatch.ts';
import { trainBatch } from '../../../src/main/engine/nn/batch.ts';
import { tinyBatchLayout, tinyBatchMembers } from '../../helpers/tiny-batch.ts';

describe.skipIf(process.env.D2NWG_WEBGPU_TESTS !== '1')('webgpu dispatch caches', () => {
  beforeAll(async () => {
    const info = await initBackend({ backend: 'webgpu', quiet: true });
    expect(info.name).toBe('webgpu');
  });
  afterAll(async () => {
    await initBackend({ backend: 'wasm', quiet: true });
  });

  it('train a model batch to the same weights with the caches off and on, and are hit', async () => {
    const stats = dispatchCacheStats(tf.backend());
    expect(stats).not.toBeNull();
    if (!stats) return;
    const layout = tinyBatchLayout;
    const members = tinyBatchMembers;
    const run = async (on: boolean) => {
      stats.enabled = on;
      const before = { ...stats };
      const r = await trainBatch({ layout, members: members(), epochs: 3, batchSize: 8, lr: 1e-2 });
      return {
        weights: r.params,
        losses: r.history.map((h) => h.map((e) => e.trainLoss)),
        hits: stats.bindGroupHits - before.bindGroupHits + stats.uniformHits - before.uniformHits,
      };
    };
    try {
      const off = await run(false);
      const on = await run(true);
      expect(off.hits).toBe(0);
      // Later epochs repeat the first epoch's ops on pooled buffers: most dispatches hit.
      expect(on.hits).toBeGreaterThan(50);
      expect(on.losses).toEqual(off.losses);
      for (let m = 0; m < off.weights.length; m++) {
        expect(Array.from(on.weights[m])).toEqual(Array.from(off.weights[m]));
      }
    } finally {
      stats.enabled = true;
    }
  });
});
