import { describe, expect, it } from 'vitest';
import type { ArchitectureConfig } from '../../../../src/shared/schemas/zoo.ts';
import type { LabelledData } from '../../../../src/main/engine/data/types.ts';
import { InputError } from '../../../../src/main/engine/errors.ts';
import { trainSourceModel } from '../../../../src/main/engine/eval/pretrained.ts';
import { layoutOf } from '../../../../src/main/engine/nn/architecture.ts';
import { initParams } from '../../../../src/main/engine/nn/params.ts';
import { accuracy } from '../../../../src/main/engine/nn/train.ts';
import { Rng } from '../../../../src/main/engine/rng.ts';
import { expectNoLeakedTensors } from '../../../helpers/tf.ts';

/** 4 well separated Gaussian classes in 4-D, 20 samples each; the first 15 of a class are pool. */
function dataset(): { feat: LabelledData; trainPool: Int32Array; testPool: Int32Array } {
  const rng = new Rng(3);
  const d = 4;
  const perClass = 20;
  const n = 4 * perClass;
  const x = new Float32Array(n * d);
  const labels = new Int32Array(n);
  const pool: number[] = [];
  const test: number[] = [];
  for (let c = 0; c < 4; c++) {
    for (let j = 0; j < perClass; j++) {
      const i = c * perClass + j;
      labels[i] = c;
      for (let k = 0; k < d; k++) x[i * d + k] = (k === c ? 4 : 0) + 0.3 * rng.normal();
      (j < 15 ? pool : test).push(i);
    }
  }
  const feat: LabelledData = {
    x,
    sampleShape: [d],
    labels,
    classNames: ['a', 'b', 'c', 'd'],
    source: 'synthetic',
  };
  return { feat, trainPool: Int32Array.from(pool), testPool: Int32Array.from(test) };
}

const architecture: ArchitectureConfig = { kind: 'mlp', hidden: [8], activation: 'leaky_relu' };
const train = { epochs: 15, batchSize: 8, lr: 0.03 };

describe('trainSourceModel', () => {
  const { feat, trainPool, testPool } = dataset();
  const heldOut = [2];
  const trainOnce = (seed: number) =>
    expectNoLeakedTensors(() =>
      trainSourceModel({ feat, trainPool, heldOut, architecture, train, rng: new Rng(seed) }),
    );

  it('trains only on the pool samples of the known classes, and learns them', async () => {
    const source = await trainOnce(1);
    expect(source.classes).toBe(3);
    expect(source.count).toBe(3 * 15);
    expect(source.layout.arch.outputs).toBe(3);
    expect(source.params.length).toBe(source.layout.size);
    // Known classes 0, 1, 3 become outputs 0, 1, 2; the test pool of those is classified well.
    const known = Array.from(testPool).filter((i) => feat.labels[i] !== 2);
    const xs = new Float32Array(known.length * 4);
    const ys = new Int32Array(known.length);
    known.forEach((s, j) => {
      xs.set(feat.x.subarray(s * 4, s * 4 + 4), j * 4);
      ys[j] = [0, 1, -1, 2][feat.labels[s]];
    });
    const acc = await expectNoLeakedTensors(() => accuracy(source.layout, source.params, xs, ys));
    expect(acc).toBeGreaterThan(0.9);
  });

  it('transfers the trained body and a fresh head of the task size', async () => {
    const source = await trainOnce(1);
    const task = layoutOf({
      kind: 'mlp',
      inputDim: 4,
      hidden: [8],
      outputs: 2,
      activation: 'leaky_relu',
    });
    const headStart = task.params[task.params.length - 2].offset;
    expect(headStart).toBe(source.layout.params[source.layout.params.length - 2].offset);
    const w = source.transfer(task, new Rng(9));
    expect(w.length).toBe(task.size);
    expect(w.length).not.toBe(source.layout.size);
    expect(Buffer.from(w.buffer, w.byteOffset, headStart * 4)).toEqual(
      Buffer.from(source.params.buffer, source.params.byteOffset, headStart * 4),
    );
    const fresh = initParams(task, new Rng(9));
    expect(Array.from(w.subarray(headStart))).toEqual(Array.from(fresh.subarray(headStart)));
    // Another head rng, another head; the body stays.
    const w2 = source.transfer(task, new Rng(10));
    expect(Array.from(w2.subarray(0, headStart))).toEqual(Array.from(w.subarray(0, headStart)));
    expect(Array.from(w2.subarray(headStart))).not.toEqual(Array.from(w.subarray(headStart)));
  });

  it('gives the same model for the same rng and another for another', async () => {
    const a = await trainOnce(5);
    const b = await trainOnce(5);
    const c = await trainOnce(6);
    expect(Array.from(b.params)).toEqual(Array.from(a.params));
    expect(Array.from(c.params)).not.toEqual(Array.from(a.params));
  });

  it('refuses a task architecture whose body differs, and too few known classes', async () => {
    const source = await trainOnce(1);
    const other = layoutOf({
      kind: 'mlp',
      inputDim: 4,
      hidden: [6],
      outputs: 3,
      activation: 'leaky_relu',
    });
    expect(() => source.transfer(other, new Rng(0))).toThrow(InputError);
    await expect(
      trainSourceModel({
        feat,
        trainPool,
        heldOut: [0, 1, 2],
        architecture,
        train,
        rng: new Rng(0),
      }),
    ).rejects.toThrow(/only 1 classes are not held out/);
  });
});
