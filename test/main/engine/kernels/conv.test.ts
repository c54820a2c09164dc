import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { conv2d } from '../../../../src/main/engine/kernels/conv.ts';
import { Rng } from '../../../../src/main/engine/rng.ts';
import { expectNoLeakedTensors } from '../../../helpers/tf.ts';
import { maxAbsDiff, onBackend } from './helpers.ts';

type Shape4 = [number, number, number, number];
interface Case {
  readonly x: Shape4;
  readonly f: Shape4;
  readonly stride: number;
  readonly pad: 'same' | 'valid';
}

const cases: Case[] = [];
for (const pad of ['same', 'valid'] as const) {
  for (const stride of [1, 2]) {
    cases.push({ x: [3, 28, 28, 1], f: [3, 3, 1, 4], stride, pad });
    cases.push({ x: [2, 9, 7, 3], f: [3, 2, 3, 5], stride, pad });
    cases.push({ x: [2, 10, 10, 2], f: [4, 4, 2, 3], stride, pad });
    // From 4 input channels the input gradient takes the dilated XNNPACK route at any stride.
    cases.push({ x: [2, 9, 7, 4], f: [3, 2, 4, 3], stride, pad });
  }
  // Stride 3 over 7 leaves input rows the forward pass never reads.
  cases.push({ x: [2, 7, 8, 4], f: [1, 1, 4, 3], stride: 3, pad });
  cases.push({ x: [1, 11, 11, 5], f: [5, 5, 5, 2], stride: 3, pad });
}

function forwardAndGrads(c: Case, xs: Float32Array, fs: Float32Array, r: Float32Array) {
  return (): tf.Tensor[] =>
    tf.tidy(() => {
      const x = tf.tensor4d(xs, c.x);
      const f = tf.tensor4d(fs, c.f);
      const y = conv2d(x, f, c.stride, c.pad);
      const loss = (a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(
          tf.mul(
            conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad),
            tf.tensor(r, y.shape),
          ),
        );
      const [dx, df] = tf.grads(loss)([x, f]);
      if (!dx || !df) throw new Error('missing gradient');
      return [y, dx, df];
    });
}

describe('conv2d', () => {
  it('has both gradient kernels registered on wasm', () => {
    expect(tf.getBackend()).toBe('wasm');
    const x = tf.ones([1, 4, 4, 1]) as tf.Tensor4D;
    conv2d(x, tf.ones([2, 2, 1, 1]), 1, 'valid').dispose();
    x.dispose();
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
    expect(tf.getKernel('Conv2DBackpropInput', 'wasm')).toBeDefined();
  });

  for (const c of cases) {
    it(`matches the cpu backend: x ${c.x.join('x')}, filter ${c.f.join('x')}, stride ${c.stride}, ${c.pad}`, async () => {
      const rng = new Rng(7).fork(JSON.stringify(c));
      const xs = rng.uniformArray(
        c.x.reduce((a, b) => a * b),
        -0.5,
        0.5,
      );
      const fs = rng.uniformArray(
        c.f.reduce((a, b) => a * b),
        -0.5,
        0.5,
      );
      const outShape = tf.tidy(() => conv2d(tf.zeros(c.x), tf.zeros(c.f), c.stride, c.pad).shape);
      const r = rng.uniformArray(
        outShape.reduce((a, b) => a * b),
        -0.5,
        0.5,
      );
      const ids = tf.engine().backend.numDataIds();
      const got = await expectNoLeakedTensors(() => {
        const outs = forwardAndGrads(c, xs, fs, r)();
        const values = outs.map((t) => t.dataSync() as Float32Array);
        tf.dispose(outs);
        return values;
      });
      expect(tf.engine().backend.numDataIds(), 'backend buffers leaked').toBe(ids);
      const want = await onBackend('cpu', forwardAndGrads(c, xs, fs, r));
      expect(got.map((g) => g.length)).toEqual([
        outShape.reduce((a, b) => a * b),
        xs.length,
        fs.length,
      ]);
      for (const [i, name] of ['y', 'dL/dx', 'dL/dfilter'].entries()) {
        const g = got[i];
        const w = want[i];
        if (!g || !w) throw new Error(`missing ${name}`);
        expect(maxAbsDiff(g, w), name).toBeLessThan(1e-4);
      }
    });
  }

  it('trains: a few SGD steps on wasm reduce a regression loss', async () => {
    const rng = new Rng(3);
    const x = tf.tensor4d(rng.uniformArray(4 * 8 * 8 * 1, 0, 1), [4, 8, 8, 1]);
    const target = tf.tidy(() =>
      conv2d(x, tf.tensor4d(rng.normalArray(9 * 2, 0, 0.5), [3, 3, 1, 2]), 2, 'same'),
    );
    const w = tf.variable(tf.zeros([3, 3, 1, 2]));
    const opt = tf.train.sgd(0.5);
    const loss = () =>
      tf.mean(
        tf.square(tf.sub(conv2d(x, w as tf.Variable<tf.Rank.R4>, 2, 'same'), target)),
      ) as tf.Scalar;
    const first = tf.tidy(() => loss().dataSync()[0] ?? NaN);
    for (let i = 0; i < 20; i++) opt.minimize(loss)?.dispose();
    const last = tf.tidy(() => loss().dataSync()[0] ?? NaN);
    expect(last).toBeLessThan(first * 0.5);
    tf.dispose([x, target, w]);
    opt.dispose();
  });
});
