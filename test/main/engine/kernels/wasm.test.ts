import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import {
  installWasmKernels,
  wasmKernelsInstalled,
} from '../../../../src/main/engine/kernels/wasm.ts';
import { Rng } from '../../../../src/main/engine/rng.ts';
import { expectNoLeakedTensors } from '../../../helpers/tf.ts';
import { maxAbsDiff, onBackend, valuesOf } from './helpers.ts';

const rng = new Rng(11);
const rand = (shape: number[]) =>
  tf.tensor(
    rng.uniformArray(
      shape.reduce((a, b) => a * b, 1),
      -1,
      1,
    ),
    shape,
  );

/** Data ids the backend holds: catches intermediates a kernel forgot to free. */
const backendIds = () => tf.engine().backend.numDataIds();

describe('wasm matmul kernels', () => {
  it('are installed by initBackend and installing again changes nothing', () => {
    expect(tf.getBackend()).toBe('wasm');
    expect(wasmKernelsInstalled()).toBe(true);
    const before = tf.getKernel('BatchMatMul', 'wasm').kernelFunc;
    installWasmKernels();
    expect(tf.getKernel('BatchMatMul', 'wasm').kernelFunc).toBe(before);
  });

  const combos = [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ] as const;
  for (const [ta, tb] of combos) {
    it(`gives A·B for transposeA=${ta} transposeB=${tb}, 2-D and batched 3-D, without leaks`, async () => {
      for (const batch of [[], [3]]) {
        const a = rand([...batch, 5, 7]);
        const b = rand([...batch, 7, 4]);
        const ids = backendIds();
        const got = await expectNoLeakedTensors(() =>
          tf.tidy(() => {
            const aIn = ta ? tf.transpose(a, batch.length ? [0, 2, 1] : [1, 0]) : a;
            const bIn = tb ? tf.transpose(b, batch.length ? [0, 2, 1] : [1, 0]) : b;
            return tf.matMul(aIn, bIn, ta, tb).arraySync();
          }),
        );
        expect(backendIds()).toBe(ids);
        const want = tf.tidy(() => tf.matMul(a, b).arraySync());
        const gotFlat = new Float32Array((got as number[][]).flat(2));
        const wantFlat = new Float32Array((want as number[][]).flat(2));
        expect(gotFlat.length).toBe((batch[0] ?? 1) * 5 * 4);
        expect(maxAbsDiff(gotFlat, wantFlat)).toBeLessThan(1e-5);
        tf.dispose([a, b]);
      }
    });
  }

  it('clones by reference: no new buffer, values survive disposing the original, none leak', () => {
    const ids = backendIds();
    const a = tf.tensor2d([1, 2, 3, 4], [2, 2]);
    const c = tf.clone(a);
    // One buffer for both: the clone holds a reference, not a copy.
    expect(backendIds()).toBe(ids + 1);
    a.dispose();
    expect(Array.from(c.dataSync())).toEqual([1, 2, 3, 4]);
    // A kernel on the clone writes a new buffer and leaves the clone alone.
    const d = tf.add(c, 1);
    expect(Array.from(c.dataSync())).toEqual([1, 2, 3, 4]);
    expect(Array.from(d.dataSync())).toEqual([2, 3, 4, 5]);
    tf.dispose([c, d]);
    expect(backendIds()).toBe(ids);
  });

  it('slices in the heap: every slice of ranks 1-5 equals the cpu backend, float32 and int32, no leaks', async () => {
    const cases: { shape: number[]; begin: number[]; size: number[] }[] = [
      { shape: [7], begin: [2], size: [4] },
      { shape: [4, 5], begin: [1, 0], size: [2, 5] }, // contiguous rows
      { shape: [4, 5], begin: [1, 2], size: [3, 2] }, // strided
      { shape: [6, 3, 4], begin: [2, 0, 0], size: [1, 3, 4] }, // one model of a batch
      { shape: [3, 8, 2], begin: [0, 3, 0], size: [3, 4, 2] }, // a row chunk of every model
      { shape: [2, 3, 4, 5], begin: [1, 1, 2, 1], size: [1, 2, 2, 3] },
      { shape: [2, 2, 3, 2, 3], begin: [0, 1, 1, 0, 1], size: [2, 1, 2, 2, 2] },
      { shape: [3, 4], begin: [1, 1], size: [0, 2] }, // empty
    ];
    const ids = backendIds();
    for (const c of cases) {
      const count = c.shape.reduce((a, b) => a * b, 1);
      const data = rng.uniformArray(count, -1, 1);
      const ints = Int32Array.from(data, (v) => Math.round(v * 1000));
      const run = () =>
        tf.tidy(() => [
          tf.slice(tf.tensor(data, c.shape), c.begin, c.size),
          tf.slice(tf.tensor(ints, c.shape, 'int32'), c.begin, c.size),
        ]);
      const [want, wantInt] = await onBackend('cpu', run);
      const got = valuesOf(run);
      expect(Array.from(got[0]), JSON.stringify(c)).toEqual(Array.from(want));
      expect(Array.from(got[1]), JSON.stringify(c)).toEqual(Array.from(wantInt));
    }
    // -1 sizes and the gradient (a pad) go through the same kernel.
    const x = tf.tensor3d(
      Float32Array.from({ length: 24 }, (_, i) => i),
      [2, 3, 4],
    );
    const rest = tf.slice(x, [1, 1, 0], [-1, -1, 2]);
    expect(Array.from(rest.dataSync())).toEqual([16, 17, 20, 21]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.slice(t, [0, 1, 1], [1, 1, 2])))(x);
    expect(Array.from(g.dataSync()).reduce((a, b) => a + b, 0)).toBe(2);
    tf.dispose([x, g, rest]);
    expect(backendIds()).toBe(ids);
  });

  it('broadcasts a batch of one against a batch of three when transposed', () => {
    const a = rand([1, 6, 5]);
    const b = rand([3, 4, 6]);
    const got = tf.tidy(() => tf.matMul(a, b, true, true).dataSync());
    const want = tf.tidy(() =>
      tf.matMul(tf.transpose(a, [0, 2, 1]), tf.transpose(b, [0, 2, 1])).dataSync(),
    );
    expect(got.length).toBe(3 * 5 * 4);
    expect(maxAbsDiff(got as Float32Array, want as Float32Array)).toBeLessThan(1e-5);
    tf.dispose([a, b]);
  });

  it('handles fused matmul with bias and relu when transposed', () => {
    const a = rand([6, 5]);
    const b = rand([4, 6]);
    const bias = rand([4]);
    const got = tf.tidy(() =>
      tf.fused
        .matMul({ a, b, transposeA: true, transposeB: true, bias, activation: 'relu' })
        .dataSync(),
    );
    const want = tf.tidy(() =>
      tf.relu(tf.add(tf.matMul(tf.transpose(a), tf.transpose(b)), bias)).dataSync(),
    );
    expect(maxAbsDiff(got as Float32Array, want as Float32Array)).toBeLessThan(1e-5);
    tf.dispose([a, b, bias]);
  });

  it('gives dense-layer gradients equal to the cpu backend', async () => {
    const r = new Rng(5);
    const xs = r.uniformArray(8 * 12, -1, 1);
    const w1s = r.uniformArray(12 * 16, -0.5, 0.5);
    const w2s = r.uniformArray(16 * 3, -0.5, 0.5);
    const bs = r.uniformArray(16, -0.1, 0.1);
    const run = (): tf.Tensor[] =>
      tf.tidy(() => {
        const x = tf.tensor2d(xs, [8, 12]);
        const params = [tf.tensor2d(w1s, [12, 16]), tf.tensor1d(bs), tf.tensor2d(w2s, [16, 3])];
        const loss = (w1: tf.Tensor, b: tf.Tensor, w2: tf.Tensor) =>
          tf.mean(tf.square(tf.matMul(tf.tanh(tf.add(tf.matMul(x, w1), b)), w2)));
        const { value, grads } = tf.valueAndGrads(loss)(params);
        return [value, ...grads];
      });
    const got = await expectNoLeakedTensors(() => valuesOf(run));
    const want = await onBackend('cpu', run);
    expect(got).toHaveLength(4);
    for (let i = 0; i < 4; i++) {
      const g = got[i];
      const w = want[i];
      if (!g || !w) throw new Error('missing output');
      expect(maxAbsDiff(g, w), `output ${i}`).toBeLessThan(1e-5);
    }
  });
});
