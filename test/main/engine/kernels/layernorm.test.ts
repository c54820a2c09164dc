import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';
import { layerNorm } from '../../../../src/main/engine/common/layers.ts';
import { LAYER_NORM, LAYER_NORM_GRAD } from '../../../../src/main/engine/kernels/simd.ts';
import { Rng } from '../../../../src/main/engine/rng.ts';
import { expectNoLeakedTensors } from '../../../helpers/tf.ts';
import { onBackend, scaledDiff, valuesOf } from './helpers.ts';

const envBefore = process.env.D2NWG_WASM_GEMM;
afterEach(() => {
  if (envBefore === undefined) delete process.env.D2NWG_WASM_GEMM;
  else process.env.D2NWG_WASM_GEMM = envBefore;
});

describe('fused layer norm (wasm)', () => {
  for (const [rows, cols] of [
    [7, 13],
    [64, 256],
    [1, 5],
  ] as [number, number][]) {
    it(`gives the values and gradients of the tf formula on cpu, [${rows}, ${cols}]`, async () => {
      const r = new Rng(rows * 100 + cols);
      const xs = r.normalArray(rows * cols, 0.5, 2);
      const gs = r.uniformArray(cols, 0.5, 1.5);
      const bs = r.uniformArray(cols, -0.5, 0.5);
      const ws = r.normalArray(rows * cols);
      const run = (): tf.Tensor[] =>
        tf.tidy(() => {
          const x = tf.tensor2d(xs, [rows, cols]);
          const g = tf.tensor1d(gs);
          const b = tf.tensor1d(bs);
          const weight = tf.tensor2d(ws, [rows, cols]);
          // A loss whose gradient differs per element, so dx is not trivially zero.
          const f = (xi: tf.Tensor, gi: tf.Tensor, bi: tf.Tensor) =>
            tf.sum(tf.mul(layerNorm({ 'ln.g': gi, 'ln.b': bi }, 'ln', xi as tf.Tensor2D), weight));
          const { value, grads } = tf.valueAndGrads(f)([x, g, b]);
          return [value, layerNorm({ 'ln.g': g, 'ln.b': b }, 'ln', x), ...grads];
        });
      const names = (
        await tf.profile(() => {
          tf.dispose(run());
        })
      ).kernels.map((k) => k.name);
      expect(names).toContain(LAYER_NORM);
      expect(names).toContain(LAYER_NORM_GRAD);
      expect(names).not.toContain('Mean');
      const got = await expectNoLeakedTensors(() => valuesOf(run));
      const want = await onBackend('cpu', run);
      expect(got).toHaveLength(5);
      for (let i = 0; i < 5; i++) {
        const [g, w] = [got[i], want[i]];
        if (!g || !w) throw new Error(`output ${i} missing`);
        expect(scaledDiff(g, w), `output ${i}`).toBeLessThan(2e-5);
      }
    });
  }

  it('is off with D2NWG_WASM_GEMM=0 (the tf formula runs)', async () => {
    process.env.D2NWG_WASM_GEMM = '0';
    const x = tf.ones([3, 4]) as tf.Tensor2D;
    const g = tf.ones([4]);
    const b = tf.zeros([4]);
    const names = (
      await tf.profile(() => {
        layerNorm({ 'ln.g': g, 'ln.b': b }, 'ln', x).dispose();
      })
    ).kernels.map((k) => k.name);
    expect(names).not.toContain(LAYER_NORM);
    expect(names).toContain('Mean');
    tf.dispose([x, g, b]);
  });

  it('refuses parameters that do not match the rows, naming the shapes', () => {
    const x = tf.zeros([3, 4]);
    const g = tf.zeros([5]);
    const b = tf.zeros([4]);
    expect(() => tf.engine().runKernel(LAYER_NORM, { x, g, b }, { epsilon: 1e-5 })).toThrow(
      /g must be float32 \[4\], got \[5\]/,
    );
    tf.dispose([x, g, b]);
  });
});
