import { describe, expect, it } from 'vitest';
import { prototypeHead, hiddenFeatures } from '../../../../src/main/engine/eval/protohead.ts';
import { layoutOf } from '../../../../src/main/engine/nn/architecture.ts';
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
    const w = prototypeHead(layout, body, support, 3, 5);
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
    expect(hiddenFeatures(layout, body, xs, 60).length).toBe(60 * 12);
    expect((await predictClasses(layout, w, xs)).length).toBe(60);
  });
});
