// Opt-in: needs the `webgpu` and `@tensorflow/tfjs-backend-webgpu@4.22.0` packages (in the project
// or in $D2NWG_WEBGPU_PATH) and an adapter. Without a GPU, Dawn's GLES backend on Mesa works:
//   D2NWG_WEBGPU_TESTS=1 D2NWG_WEBGPU_PATH=/tmp/gpu EGL_PLATFORM=surfaceless \
//   D2NWG_WEBGPU_FLAGS=backend=opengles D2NWG_WEBGPU_FEATURE_LEVEL=compatibility \
//   npx vitest run test/main/engine/backend-webgpu.test.ts
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/main/engine/backend.ts';
import { measureMatmulAsync } from '../../../src/main/engine/bench/matmul.ts';
import { conv2d } from '../../../src/main/engine/kernels/conv.ts';
import { Rng } from '../../../src/main/engine/rng.ts';
import { maxAbsDiff } from './kernels/helpers.ts';

/** Run `fn` on `backend` and read its outputs asynchronously (webgpu has no sync readback). */
async function on(backend: string, fn: () => tf.Tensor[]): Promise<Float32Array[]> {
  if (!(await tf.setBackend(backend))) throw new Error(`cannot switch to ${backend}`);
  const outs = fn();
  const values = await Promise.all(outs.map(async (t) => (await t.data()) as Float32Array));
  tf.dispose(outs);
  return values;
}

describe.skipIf(process.env.D2NWG_WEBGPU_TESTS !== '1')('webgpu backend', () => {
  beforeAll(async () => {
    const info = await initBackend({ backend: 'webgpu', quiet: true });
    expect(info.name).toBe('webgpu');
    expect(info.gpu?.maxStorageBufferBindingSize).toBeGreaterThan(0);
  });
  afterAll(async () => {
    await initBackend({ backend: 'wasm', quiet: true });
  });

  it('fails the next readback, naming the error, when the GPU refused work', async () => {
    if (!(await tf.setBackend('webgpu'))) throw new Error('cannot switch to webgpu');
    const device = (
      tf.backend() as unknown as {
        device: { createBuffer(d: { size: number; usage: number }): unknown };
      }
    ).device;
    // An invalid request: Dawn reports it as an uncaptured validation error, nothing throws here.
    device.createBuffer({ size: 4, usage: 0 });
    const t = tf.add(tf.ones([4]), 1);
    await expect(t.data()).rejects.toThrow(
      /the GPU refused work, so results would be wrong: Buffer usages must not be 0/,
    );
    // Reported once: the next readback works.
    expect(Array.from(await t.data())).toEqual([2, 2, 2, 2]);
    t.dispose();
  });

  it('matches cpu on a dense network: loss and gradients through transposed matmuls', async () => {
    const r = new Rng(9);
    const xs = r.uniformArray(16 * 24, -1, 1);
    const w1 = r.uniformArray(24 * 32, -0.3, 0.3);
    const w2 = r.uniformArray(32 * 4, -0.3, 0.3);
    const run = (): tf.Tensor[] =>
      tf.tidy(() => {
        const x = tf.tensor2d(xs, [16, 24]);
        const loss = (a: tf.Tensor, b: tf.Tensor) =>
          tf.mean(tf.square(tf.matMul(tf.relu(tf.matMul(x, a)), b)));
        const { value, grads } = tf.valueAndGrads(loss)([
          tf.tensor2d(w1, [24, 32]),
          tf.tensor2d(w2, [32, 4]),
        ]);
        return [value, ...grads];
      });
    const got = await on('webgpu', run);
    const want = await on('cpu', run);
    await tf.setBackend('webgpu');
    for (let i = 0; i < want.length; i++) {
      const g = got[i];
      const w = want[i];
      if (!g || !w) throw new Error('missing output');
      expect(maxAbsDiff(g, w)).toBeLessThan(1e-4);
    }
  });

  it('matches cpu on conv2d forward and gradients', async () => {
    const r = new Rng(10);
    const xs = r.uniformArray(2 * 12 * 12 * 3, -0.5, 0.5);
    const fs = r.uniformArray(3 * 3 * 3 * 4, -0.5, 0.5);
    const run = (): tf.Tensor[] =>
      tf.tidy(() => {
        const x = tf.tensor4d(xs, [2, 12, 12, 3]);
        const f = tf.tensor4d(fs, [3, 3, 3, 4]);
        const loss = (a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.square(conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same')));
        const [dx, df] = tf.grads(loss)([x, f]);
        if (!dx || !df) throw new Error('missing gradient');
        return [conv2d(x, f, 2, 'same'), dx, df];
      });
    const got = await on('webgpu', run);
    const want = await on('cpu', run);
    await tf.setBackend('webgpu');
    for (let i = 0; i < want.length; i++) {
      const g = got[i];
      const w = want[i];
      if (!g || !w) throw new Error('missing output');
      expect(maxAbsDiff(g, w)).toBeLessThan(1e-4);
    }
  });

  it('measures matmul throughput with asynchronous readback', async () => {
    const g = await measureMatmulAsync({ size: 64, reps: 1 });
    expect(g.plain).toBeGreaterThan(0);
    expect(g.transposeA).toBeGreaterThan(0);
    expect(g.transposeB).toBeGreaterThan(0);
  });
});
