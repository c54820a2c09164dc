import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ArchitectureSchema } from '../../../../src/shared/schemas/zoo.ts';
import { layoutOf, resolveArchitecture } from '../../../../src/main/engine/nn/architecture.ts';
import { forward } from '../../../../src/main/engine/nn/forward.ts';
import { initParams } from '../../../../src/main/engine/nn/params.ts';
import { Rng } from '../../../../src/main/engine/rng.ts';
import { expectNoLeakedTensors } from '../../../helpers/tf.ts';

describe('forward', () => {
  it('computes an MLP by hand: x·W1+b1 → leaky_relu → ·W2+b2', async () => {
    const layout = layoutOf(
      resolveArchitecture(ArchitectureSchema.parse({ kind: 'mlp', hidden: [2] }), [2], 2),
    );
    // W1 = [[1, -1], [2, 0.5]] (in × out), b1 = [0.5, -1], W2 = [[1, 0], [-1, 2]], b2 = [0.1, 0.2]
    const params = Float32Array.from([1, -1, 2, 0.5, 0.5, -1, 1, 0, -1, 2, 0.1, 0.2]);
    const x = [
      [1, 1],
      [-2, 0],
    ];
    const lrelu = (v: number): number => (v > 0 ? v : 0.01 * v);
    const expected = x.map(([a, b]) => {
      const h = [lrelu(a * 1 + b * 2 + 0.5), lrelu(a * -1 + b * 0.5 - 1)];
      return [h[0] * 1 + h[1] * -1 + 0.1, h[0] * 0 + h[1] * 2 + 0.2];
    });
    const out = await expectNoLeakedTensors(() =>
      tf.tidy(() => forward(layout, tf.tensor1d(params), tf.tensor2d(x)).arraySync()),
    );
    expect(out.length).toBe(2);
    out.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(expected[i][j], 5)));
  });

  it('uses tanh and relu when asked', () => {
    for (const activation of ['tanh', 'relu'] as const) {
      const layout = layoutOf(
        resolveArchitecture(
          ArchitectureSchema.parse({ kind: 'mlp', hidden: [1], activation }),
          [1],
          2,
        ),
      );
      // h = act(-1·x); logits = [h, -h]
      const params = Float32Array.from([-1, 0, 1, -1, 0, 0]);
      const out = tf.tidy(() =>
        forward(layout, tf.tensor1d(params), tf.tensor2d([[2]])).arraySync(),
      );
      const h = activation === 'tanh' ? Math.tanh(-2) : 0;
      expect(out[0][0]).toBeCloseTo(h, 5);
      expect(out[0][1]).toBeCloseTo(-h, 5);
    }
  });

  it('runs the CNN on flat or shaped images and gets gradients for every parameter', async () => {
    const layout = layoutOf(
      resolveArchitecture(
        ArchitectureSchema.parse({ kind: 'cnn', channels: [4, 3] }),
        [8, 8, 1],
        3,
      ),
    );
    const params = initParams(layout, new Rng(2));
    const xs = new Rng(3).uniformArray(2 * 64, 0, 1);
    const [flatOut, shapedOut, gradNonZero] = await expectNoLeakedTensors(() =>
      tf.tidy(() => {
        const p = tf.tensor1d(params);
        const a = forward(layout, p, tf.tensor2d(xs, [2, 64]));
        const b = forward(layout, p, tf.tensor4d(xs, [2, 8, 8, 1]));
        const g = tf.grad((q: tf.Tensor) =>
          tf.sum(forward(layout, q as tf.Tensor1D, tf.tensor2d(xs, [2, 64]))),
        )(p);
        const gv = g.dataSync();
        const nonZero = layout.params.map((s) =>
          gv.subarray(s.offset, s.offset + s.size).some((v) => v !== 0),
        );
        return [a.arraySync(), b.arraySync(), nonZero] as const;
      }),
    );
    expect(flatOut).toEqual(shapedOut);
    expect(flatOut.length).toBe(2);
    expect(flatOut[0].length).toBe(3);
    // Output-bias gradients of sum(logits) are exactly n = 2 each, and flow reaches every tensor.
    expect(gradNonZero.every(Boolean)).toBe(true);
  });

  it('refuses inputs of the wrong width', () => {
    const layout = layoutOf(resolveArchitecture(ArchitectureSchema.parse({ kind: 'mlp' }), [4], 2));
    expect(() => tf.tidy(() => forward(layout, tf.zeros([layout.size]), tf.zeros([2, 5])))).toThrow(
      /4 values per sample/,
    );
  });
});
