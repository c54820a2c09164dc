import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ArchitectureSchema } from '../../../../src/shared/schemas/zoo.ts';
import { layoutOf, resolveArchitecture } from '../../../../src/main/engine/nn/architecture.ts';
import { initParams } from '../../../../src/main/engine/nn/params.ts';
import {
  accuracy,
  evaluateEnsemble,
  evaluateMany,
  lossAndAccuracy,
  predictClasses,
  trainClassifier,
  type EpochCheckpoint,
} from '../../../../src/main/engine/nn/train.ts';
import { CancelledError, InputError, NumericError } from '../../../../src/main/engine/errors.ts';
import { Rng } from '../../../../src/main/engine/rng.ts';
import { expectNoLeakedTensors } from '../../../helpers/tf.ts';
import { forward } from '../../../../src/main/engine/nn/forward.ts';

/** Three well-separated Gaussian blobs in 4-D. */
function blobs(n: number, seed: number): { x: Float32Array; y: Int32Array } {
  const rng = new Rng(seed);
  const centres = [
    [3, 0, 0, 0],
    [0, 3, 0, 0],
    [0, 0, 3, 3],
  ];
  const x = new Float32Array(n * 4);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    y[i] = c;
    for (let j = 0; j < 4; j++) x[i * 4 + j] = centres[c][j] + 0.7 * rng.normal();
  }
  return { x, y };
}

const layout = layoutOf(
  resolveArchitecture(ArchitectureSchema.parse({ kind: 'mlp', hidden: [8] }), [4], 3),
);
const train = blobs(150, 1);
const test = blobs(90, 2);

describe('trainClassifier', () => {
  it('learns a separable task, reports every epoch and leaks nothing', async () => {
    const seen: EpochCheckpoint[] = [];
    const init = initParams(layout, new Rng(5));
    const before = await accuracy(layout, init, test.x, test.y);
    const res = await expectNoLeakedTensors(() =>
      trainClassifier({
        layout,
        init,
        xTrain: train.x,
        yTrain: train.y,
        xTest: test.x,
        yTest: test.y,
        epochs: 15,
        batchSize: 16,
        lr: 1e-2,
        rng: new Rng(9),
        onEpoch: (r) => {
          seen.push(r);
        },
      }),
    );
    expect(res.history.map((h) => h.epoch)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    expect(seen.length).toBe(15);
    expect(seen[14].params).toEqual(res.params);
    const last = res.history[14];
    expect(last.testAcc).toBeGreaterThan(0.95);
    expect(last.trainAcc).toBeGreaterThan(0.95);
    expect(last.trainLoss).toBeLessThan(res.history[0].trainLoss);
    // The evaluation helpers agree with the recorded metrics.
    const ev = await expectNoLeakedTensors(() =>
      lossAndAccuracy(layout, res.params, test.x, test.y),
    );
    expect(ev.accuracy).toBeCloseTo(last.testAcc ?? NaN, 6);
    expect(ev.loss).toBeCloseTo(last.testLoss ?? NaN, 5);
    expect(before).toBeLessThan(ev.accuracy);
    const pred = await predictClasses(layout, res.params, test.x);
    const agree = pred.reduce((s, p, i) => s + (p === test.y[i] ? 1 : 0), 0) / pred.length;
    expect(agree).toBeCloseTo(ev.accuracy, 6);
    const many = await evaluateMany(layout, [init, res.params], test.x, test.y);
    expect(many[1].accuracy).toBeCloseTo(ev.accuracy, 6);
    expect(many[0].accuracy).toBeCloseTo(before, 6);
    // init is not modified
    expect(init).toEqual(initParams(layout, new Rng(5)));
  });

  it('is deterministic: same init and seed give identical weights', async () => {
    const run = async (seed: number): Promise<Float32Array> =>
      (
        await trainClassifier({
          layout,
          init: initParams(layout, new Rng(1)),
          xTrain: train.x,
          yTrain: train.y,
          epochs: 2,
          batchSize: 32,
          lr: 1e-2,
          rng: new Rng(seed),
        })
      ).params;
    const a = await run(4);
    expect(await run(4)).toEqual(a);
    expect(await run(5)).not.toEqual(a);
  });

  it('throws NumericError naming the stage and step on a NaN loss', async () => {
    const init = initParams(layout, new Rng(1));
    init[0] = NaN;
    const err = await trainClassifier({
      layout,
      init,
      xTrain: train.x,
      yTrain: train.y,
      epochs: 1,
      batchSize: 50,
      lr: 1e-2,
      rng: new Rng(1),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NumericError);
    expect((err as NumericError).stage).toBe('classifier');
    expect((err as NumericError).step).toBe(1);
    expect(tf.memory().numTensors).toBeLessThan(50);
  });

  it('stops with CancelledError when aborted, leaking nothing', async () => {
    const ac = new AbortController();
    await expectNoLeakedTensors(async () => {
      const p = trainClassifier({
        layout,
        init: initParams(layout, new Rng(1)),
        xTrain: train.x,
        yTrain: train.y,
        epochs: 50,
        batchSize: 8,
        lr: 1e-2,
        rng: new Rng(1),
        control: {
          signal: ac.signal,
          onProgress: (p) => {
            if (p.value === 2) ac.abort();
          },
        },
      });
      await expect(p).rejects.toBeInstanceOf(CancelledError);
    });
  });

  it('refuses bad labels and mismatched data', async () => {
    const y = Int32Array.from(train.y);
    y[3] = 7;
    const base = {
      layout,
      init: initParams(layout, new Rng(1)),
      epochs: 1,
      batchSize: 8,
      lr: 1e-2,
      rng: new Rng(1),
    };
    await expect(trainClassifier({ ...base, xTrain: train.x, yTrain: y })).rejects.toThrow(
      /label 7 at sample 3 is outside 0..2/,
    );
    await expect(
      trainClassifier({ ...base, xTrain: train.x.subarray(1), yTrain: train.y }),
    ).rejects.toBeInstanceOf(InputError);
  });

  it('trains the CNN on images (left-bright vs right-bright 8×8)', async () => {
    const rng = new Rng(3);
    const n = 64;
    const x = new Float32Array(n * 64);
    const y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      y[i] = i % 2;
      for (let r = 0; r < 8; r++) {
        for (let c = 0; c < 8; c++) {
          const bright = c < 4 === (y[i] === 0);
          x[i * 64 + r * 8 + c] = (bright ? 0.8 : 0.1) + 0.1 * rng.next();
        }
      }
    }
    const cnn = layoutOf(
      resolveArchitecture(
        ArchitectureSchema.parse({ kind: 'cnn', channels: [4, 4] }),
        [8, 8, 1],
        2,
      ),
    );
    const res = await expectNoLeakedTensors(() =>
      trainClassifier({
        layout: cnn,
        init: initParams(cnn, new Rng(1)),
        xTrain: x,
        yTrain: y,
        xTest: x,
        yTest: y,
        epochs: 25,
        batchSize: 16,
        lr: 2e-2,
        rng: new Rng(2),
      }),
    );
    expect(res.history[24].testAcc).toBeGreaterThan(0.9);
  });
});

describe('evaluateEnsemble', () => {
  /** Softmax probabilities of one member, computed directly, as a reference. */
  const probsOf = (params: Float32Array, x: Float32Array): number[][] =>
    tf
      .tidy(() =>
        tf.softmax(forward(layout, tf.tensor1d(params), tf.tensor2d(x, [x.length / 4, 4]))),
      )
      .arraySync();

  it("averages the members' probabilities, then takes the arg-max", async () => {
    const members = [1, 2, 3].map((s) => initParams(layout, new Rng(s)));
    // Scale one member up so it dominates unless probabilities (not logits) are averaged.
    members[0] = members[0].map((v) => v * 3);
    const ev = await expectNoLeakedTensors(() => evaluateEnsemble(layout, members, test.x, test.y));
    const per = members.map((m) => probsOf(m, test.x));
    let correct = 0;
    let loss = 0;
    for (let i = 0; i < test.y.length; i++) {
      const mean = per[0][i].map((_, c) => per.reduce((s, p) => s + p[i][c], 0) / per.length);
      const arg = mean.indexOf(Math.max(...mean));
      if (arg === test.y[i]) correct++;
      loss -= Math.log(mean[test.y[i]]);
    }
    expect(ev.accuracy).toBeCloseTo(correct / test.y.length, 6);
    expect(ev.loss).toBeCloseTo(loss / test.y.length, 4);
    // Not just one member's accuracy: the members disagree with the ensemble somewhere.
    const single = await evaluateMany(layout, members, test.x, test.y);
    expect(single.some((e) => Math.abs(e.accuracy - ev.accuracy) > 1e-9)).toBe(true);
  });

  it('reduces to the member for one member or identical copies', async () => {
    const w = initParams(layout, new Rng(7));
    const one = await lossAndAccuracy(layout, w, test.x, test.y);
    for (const list of [[w], [w, w, w]]) {
      const ev = await evaluateEnsemble(layout, list, test.x, test.y);
      expect(ev.accuracy).toBeCloseTo(one.accuracy, 6);
      expect(ev.loss).toBeCloseTo(one.loss, 4);
    }
  });

  it('rejects an empty ensemble and a member of the wrong size', async () => {
    await expect(evaluateEnsemble(layout, [], test.x, test.y)).rejects.toThrow(
      /at least one member/,
    );
    await expect(
      evaluateEnsemble(
        layout,
        [initParams(layout, new Rng(1)), new Float32Array(3)],
        test.x,
        test.y,
      ),
    ).rejects.toThrow(InputError);
  });
});
