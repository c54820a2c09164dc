// Opt-in, as the other webgpu suites (npm run test:webgpu runs it on lavapipe): the dispatch
// caches of kernels/webgpu-dispatch.ts change no number and are really hit.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/main/engine/backend.ts';
import { measureDispatch } from '../../../src/main/engine/bench/dispatch.ts';
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
        uploads: stats.uploadsWritten - before.uploadsWritten,
      };
    };
    try {
      const off = await run(false);
      const on = await run(true);
      expect(off.hits).toBe(0);
      expect(off.uploads).toBe(0);
      // Scalars and small host-side results reach the GPU through pooled buffers.
      expect(on.uploads).toBeGreaterThan(0);
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

  it('uploads host tensors of every dtype through pooled buffers with the same values', async () => {
    const stats = dispatchCacheStats(tf.backend());
    expect(stats).not.toBeNull();
    if (!stats) return;
    const forward = tf.env().getBool('WEBGPU_CPU_FORWARD');
    // Without CPU forwarding every op below runs on the GPU and so uploads its host inputs.
    tf.env().set('WEBGPU_CPU_FORWARD', false);
    const run = async (on: boolean) => {
      stats.enabled = on;
      const before = stats.uploadsWritten;
      const f = tf.tensor1d([1.5, -2, 3.25, 7]);
      const i = tf.tensor1d([3, -1, 4, 1], 'int32');
      const b = tf.tensor1d([true, false, true, true], 'bool');
      const outs = [
        tf.mul(f, 2),
        tf.add(i, tf.scalar(5, 'int32')),
        tf.where(b, f, tf.neg(f)),
        tf.mul(tf.tensor2d([[1, 2, 3]], [1, 3]), tf.scalar(0.5)),
      ];
      const values = await Promise.all(outs.map((t) => t.data()));
      tf.dispose([f, i, b, ...outs]);
      return { values: values.map((v) => Array.from(v)), uploads: stats.uploadsWritten - before };
    };
    try {
      const off = await run(false);
      const on = await run(true);
      expect(off.uploads).toBe(0);
      expect(on.uploads).toBeGreaterThanOrEqual(6);
      expect(on.values).toEqual(off.values);
      expect(on.values).toEqual([
        [3, -4, 6.5, 14],
        [8, 4, 9, 6],
        [1.5, 2, 3.25, 7],
        [0.5, 1, 1.5],
      ]);
    } finally {
      stats.enabled = true;
      tf.env().set('WEBGPU_CPU_FORWARD', forward);
    }
  });

  it('breaks a training step down by call, with the caches counted per step', async () => {
    const before = tf.memory().numTensors;
    const rounds = await measureDispatch({ rounds: 1, chainOps: 20, steps: 2, breakdown: true });
    expect(tf.memory().numTensors).toBe(before);
    expect(rounds.map((r) => r.caches)).toEqual([false, true]);
    for (const r of rounds) {
      const calls = new Map((r.stepBreakdown ?? []).map((b) => [b.call, b]));
      const kernels = calls.get('tfjs engine.runKernel (outermost)');
      const whole = calls.get('whole step (issue only, instrumented)');
      expect(kernels?.calls).toBeGreaterThan(50);
      expect(whole?.calls).toBe(1);
      // Each part is a share of the whole step's issuing time.
      expect(kernels?.usPerOp).toBeLessThanOrEqual(whole?.usPerOp ?? 0);
      expect(calls.has('V8 garbage collection during the issuing')).toBe(true);
    }
    expect(rounds[0].stepCacheCounts?.uploadsWritten).toBe(0);
    expect(rounds[1].stepCacheCounts?.uploadsWritten).toBeGreaterThan(0);
    expect(rounds[1].stepCacheCounts?.uniformHits).toBeGreaterThan(0);
  });
});
