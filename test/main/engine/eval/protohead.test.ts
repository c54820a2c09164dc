import { describe, expect, it } from 'vitest';
import {
  discriminantHead,
  prototypeHead,
  prototypeHeadOf,
  hiddenFeatures,
} from '../../../../src/main/engine/eval/protohead.ts';
import { fitDiscriminant, linearPredict } from '../../../../src/main/engine/eval/discriminant.ts';
import { layoutOf } from '../../../../src/main/engine/nn/architecture.ts';
import { bodyFeatures } from '../../../../src/main/engine/nn/forward.ts';
import { initParams } from '../../../../src/main/engine/nn/params.ts';
import { accuracy, predictClasses } from '../../../../src/main/engine/nn/train.ts';
import { Rng } from '../../../../src/main/engine/rng.ts';
import { expectNoLeakedTensors } from '../../../helpers/tf.ts';

describe('prototype head', () => {
  const layout = layoutOf({
    kind: 'mlp',
    inputDim: 4,
    hidden: [12],
    outputs: 3,
    activation: 'leaky_relu',
  });
  const rng = new Rng(7);
  const centres = [0, 1, 2].map(() => rng.normalArray(4, 0, 3));
  const draw = (c: number, r: Rng) => centres[c].map((v) => v + 0.3 * r.normal());

  it('maps output i to class i of the support set, whatever the body', async () => {
    const body = initParams(layout, new Rng(1));
    const support = new Float32Array(3 * 5 * 4);
    for (let c = 0; c < 3; c++)
      for (let j = 0; j < 5; j++) support.set(draw(c, rng), (c * 5 + j) * 4);
    const w = await prototypeHead(layout, body, support, 3, 5);
    // The body is untouched, only the head changed.
    const headStart = layout.params[2].offset;
    expect(Array.from(w.subarray(0, headStart))).toEqual(Array.from(body.subarray(0, headStart)));
    const xs = new Float32Array(60 * 4);
    const ys = new Int32Array(60);
    for (let i = 0; i < 60; i++) {
      ys[i] = i % 3;
      xs.set(draw(i % 3, rng), i * 4);
    }
    const acc = await expectNoLeakedTensors(() => accuracy(layout, w, xs, ys));
    expect(acc).toBeGreaterThan(0.9);
    // hiddenFeatures agrees with the engine's forward pass up to the head.
    const h = hiddenFeatures(layout, body, xs, 60);
    expect(h.length).toBe(60 * 12);
    const viaForward = await expectNoLeakedTensors(() => bodyFeatures(layout, body, xs));
    viaForward.forEach((v, i) => expect(v).toBeCloseTo(h[i], 5));
    expect((await predictClasses(layout, w, xs)).length).toBe(60);
  });

  it('fits an LDA head in the hidden space that the network then applies', async () => {
    const body = initParams(layout, new Rng(2));
    const n = 90;
    const x = new Float32Array(n * 4);
    const y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      y[i] = i % 3;
      x.set(draw(i % 3, rng), i * 4);
    }
    const w = await discriminantHead(layout, body, x, y, 0.2);
    const headStart = layout.params[2].offset;
    expect(Array.from(w.subarray(0, headStart))).toEqual(Array.from(body.subarray(0, headStart)));
    expect(Array.from(w.subarray(headStart))).not.toEqual(Array.from(body.subarray(headStart)));
    // The network's predictions with the head are the discriminant's on the hidden features.
    const xt = new Float32Array(60 * 4);
    const yt = new Int32Array(60);
    for (let i = 0; i < 60; i++) {
      yt[i] = i % 3;
      xt.set(draw(i % 3, rng), i * 4);
    }
    const lda = fitDiscriminant(hiddenFeatures(layout, body, x, n), y, 3, 12, 0.2);
    const expected = linearPredict(lda, hiddenFeatures(layout, body, xt, 60));
    const got = await expectNoLeakedTensors(() => predictClasses(layout, w, xt));
    expect(Array.from(got)).toEqual(Array.from(expected));
    expect(await accuracy(layout, w, xt, yt)).toBeGreaterThan(0.9);
    await expect(discriminantHead(layout, body, x.subarray(4), y)).rejects.toThrow(
      /356 input values do not hold 90 samples of 4 features/,
    );
  });

  it("fits a CNN's head on its pooled channels, which the network then applies", async () => {
    const cnn = layoutOf({
      kind: 'cnn',
      inputShape: [6, 6, 1],
      channels: [2, 4],
      kernelSize: 3,
      outputs: 3,
      activation: 'relu',
    });
    const params = initParams(cnn, new Rng(3));
    // Images whose brightness and left/right contrast tell the class apart.
    const image = (c: number, r: Rng) =>
      Array.from(
        { length: 36 },
        (_, p) => (c === 0 ? 0 : c === 1 ? 1 : p % 6 < 3 ? 2 : -2) + 0.1 * r.normal(),
      );
    const n = 60;
    const x = new Float32Array(n * 36);
    const y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      y[i] = i % 3;
      x.set(image(i % 3, rng), i * 36);
    }
    const h = await expectNoLeakedTensors(() => bodyFeatures(cnn, params, x));
    expect(h.length).toBe(n * 4);
    const w = await discriminantHead(cnn, params, x, y, 0.2);
    const headStart = cnn.params[cnn.params.length - 2].offset;
    expect(Array.from(w.subarray(0, headStart))).toEqual(Array.from(params.subarray(0, headStart)));
    const lda = fitDiscriminant(h, y, 3, 4, 0.2);
    expect(Array.from(await predictClasses(cnn, w, x))).toEqual(Array.from(linearPredict(lda, h)));
    const p = await prototypeHeadOf(cnn, params, x, y);
    expect(Array.from(p.subarray(0, headStart))).toEqual(Array.from(params.subarray(0, headStart)));
    expect(p.length).toBe(cnn.size);
  });

  it('refuses bad sizes and labels', async () => {
    const body = initParams(layout, new Rng(1));
    const xs = new Float32Array(3 * 4);
    await expect(prototypeHeadOf(layout, body, xs, new Int32Array([0, 1, 1]))).rejects.toThrow(
      /class 2 has no samples/,
    );
    await expect(discriminantHead(layout, body, xs, new Int32Array([0, 1, 3]))).rejects.toThrow(
      /label 3 of sample 2 is not one of the 3 outputs/,
    );
  });
});
