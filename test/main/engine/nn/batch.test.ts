import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ArchitectureSchema } from '../../../../src/shared/schemas/zoo.ts';
import {
  layoutOf,
  resolveArchitecture,
  type Layout,
} from '../../../../src/main/engine/nn/architecture.ts';
import { initParams } from '../../../../src/main/engine/nn/params.ts';
import {
  evaluateBatch,
  predictBatch,
  trainBatch,
  type BatchMember,
} from '../../../../src/main/engine/nn/batch.ts';
import { forward } from '../../../../src/main/engine/nn/forward.ts';
import { finetuneCurves } from '../../../../src/main/engine/eval/finetune.ts';
import { nearestCheckpoint } from '../../../../src/main/engine/eval/nearest.ts';
import { evaluateMany, predictClasses } from '../../../../src/main/engine/nn/train.ts';
import { InputError, NumericError } from '../../../../src/main/engine/errors.ts';
import { Rng } from '../../../../src/main/engine/rng.ts';
import { expectNoLeakedTensors } from '../../../helpers/tf.ts';

/** n samples of k Gaussian blobs in d dimensions, centres drawn from `seed`. */
function blobs(
  n: number,
  d: number,
  k: number,
  seed: number,
  draw: string,
): { x: Float32Array; y: Int32Array } {
  const c0 = new Rng(seed);
  const centres = Array.from({ length: k }, () => Array.from({ length: d }, () => 2 * c0.normal()));
  const rng = new Rng(seed).fork(draw);
  const x = new Float32Array(n * d);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % k;
    y[i] = c;
    for (let j = 0; j < d; j++) x[i * d + j] = centres[c][j] + 0.8 * rng.normal();
  }
  return { x, y };
}

function member(layout: Layout, seed: number, n = 60, nTest = 30): BatchMember {
  const d = layout.arch.kind === 'mlp' ? layout.arch.inputDim : 64;
  const k = layout.arch.outputs;
  const tr = blobs(n, d, k, seed, 'train');
  const te = blobs(nTest, d, k, seed, 'test');
  return {
    init: initParams(layout, new Rng(seed).fork('init')),
    xTrain: tr.x,
    yTrain: tr.y,
    xTest: te.x,
    yTest: te.y,
    rng: new Rng(seed).fork('shuffle'),
    name: `task ${seed}`,
  };
}

/** A fresh copy of a member (its rng restarted), so it can be trained twice identically. */
function again(m: BatchMember, seed: number): BatchMember {
  return { ...m, rng: new Rng(seed).fork('shuffle') };
}

const mlp = layoutOf(
  resolveArchitecture(ArchitectureSchema.parse({ kind: 'mlp', hidden: [8] }), [6], 3),
);
const cnn = layoutOf(
  resolveArchitecture(
    ArchitectureSchema.parse({ kind: 'cnn', channels: [3, 4], kernelSize: 3 }),
    [8, 8, 1],
    3,
  ),
);

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Plain single-model reference: flat weights, the engine's forward, tf.train.adam. */
async function referenceTrain(
  layout: Layout,
  mb: BatchMember,
  epochs: number,
  batchSize: number,
  lr: number,
): Promise<Float32Array> {
  const d = mb.xTrain.length / mb.yTrain.length;
  const n = mb.yTrain.length;
  const w = tf.variable(tf.tensor1d(mb.init));
  const opt = tf.train.adam(lr, 0.9, 0.999, 1e-8);
  const x = tf.tensor2d(mb.xTrain, [n, d]);
  const y = tf.tensor1d(mb.yTrain, 'int32');
  for (let e = 0; e < epochs; e++) {
    const order = mb.rng.permutation(n);
    for (let s = 0; s < n; s += batchSize) {
      const idx = tf.tensor1d(order.subarray(s, Math.min(n, s + batchSize)), 'int32');
      opt.minimize(
        () => {
          const logits = forward(layout, w, tf.gather(x, idx));
          const oh = tf.oneHot(tf.gather(y, idx) as tf.Tensor1D, layout.arch.outputs);
          return tf.neg(tf.mean(tf.sum(tf.mul(oh, tf.logSoftmax(logits)), 1))) as tf.Scalar;
        },
        false,
        [w],
      );
      idx.dispose();
    }
  }
  const out = Float32Array.from(await w.data());
  tf.dispose([w, x, y]);
  opt.dispose();
  return out;
}

describe('trainBatch', () => {
  for (const [name, layout] of [
    ['MLP', mlp],
    ['CNN', cnn],
  ] as const) {
    it(`${name}: a batch gives each member the weights, losses and accuracies it gets alone`, async () => {
      const seeds = [1, 2, 3];
      const args = { layout, epochs: 3, batchSize: 16, lr: 1e-2 };
      const together = await expectNoLeakedTensors(() =>
        trainBatch({ ...args, members: seeds.map((s) => member(layout, s)) }),
      );
      for (const [i, s] of seeds.entries()) {
        const alone = await trainBatch({ ...args, members: [again(member(layout, s), s)] });
        expect(maxAbsDiff(together.params[i], alone.params[0])).toBeLessThan(1e-5);
        together.history[i].forEach((rec, e) => {
          const a = alone.history[0][e];
          expect(rec.trainLoss).toBeCloseTo(a.trainLoss, 5);
          expect(rec.trainAcc).toBe(a.trainAcc);
          expect(rec.testAcc).toBe(a.testAcc);
          expect(rec.testLoss ?? NaN).toBeCloseTo(a.testLoss ?? NaN, 5);
        });
        // ...and what an independent single-model trainer (tf.train.adam) gives.
        const ref = await referenceTrain(layout, again(member(layout, s), s), 3, 16, 1e-2);
        expect(maxAbsDiff(together.params[i], ref)).toBeLessThan(1e-4);
        // Training moved the weights and learned something.
        expect(maxAbsDiff(together.params[i], member(layout, s).init)).toBeGreaterThan(1e-3);
      }
      expect(together.history[0]).toHaveLength(3);
    });
  }

  it('learns: every member of an MLP batch beats chance on its own task', async () => {
    const res = await trainBatch({
      layout: mlp,
      members: [4, 5, 6, 7].map((s) => member(mlp, s, 90, 60)),
      epochs: 10,
      batchSize: 16,
      lr: 1e-2,
    });
    for (const h of res.history) expect(h[h.length - 1].testAcc ?? 0).toBeGreaterThan(0.7);
  });

  it('hands out checkpoints per epoch and leaks nothing across epochs', async () => {
    const kept: number[][] = [];
    await expectNoLeakedTensors(() =>
      trainBatch({
        layout: mlp,
        members: [1, 2].map((s) => member(mlp, s)),
        epochs: 4,
        batchSize: 16,
        lr: 1e-2,
        onEpoch: async (epoch, records, params) => {
          expect(records).toHaveLength(2);
          expect(records[0].epoch).toBe(epoch);
          const p = await params();
          expect(p).toHaveLength(2);
          expect(p[1]).toHaveLength(mlp.size);
          kept.push([epoch, p[0][0]]);
        },
      }),
    );
    expect(kept.map((k) => k[0])).toEqual([1, 2, 3, 4]);
  });

  it('names the member whose loss is NaN and stops', async () => {
    const members = [1, 2, 3].map((s) => member(mlp, s));
    const bad = { ...members[2], init: Float32Array.from(members[2].init) };
    bad.init[0] = NaN;
    const seen: number[] = [];
    const err = await trainBatch({
      layout: mlp,
      members: [members[0], members[1], bad],
      epochs: 2,
      batchSize: 16,
      lr: 1e-2,
      onEpoch: (e) => {
        seen.push(e);
      },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NumericError);
    expect((err as NumericError).step).toBe(1);
    expect(String((err as Error).message)).toContain('member 2 (task 3)');
    expect(seen).toEqual([]);
  });

  it('refuses members whose data disagree', async () => {
    const a = member(mlp, 1);
    const short = member(mlp, 2, 45);
    await expect(
      trainBatch({ layout: mlp, members: [a, short], epochs: 1, batchSize: 8, lr: 1e-2 }),
    ).rejects.toThrow(/member 1 \(task 2\) has 45 training samples, member 0 has 60/);
    const wrong = { ...member(mlp, 3), xTrain: new Float32Array(60 * 5) };
    await expect(
      trainBatch({ layout: mlp, members: [a, wrong], epochs: 1, batchSize: 8, lr: 1e-2 }),
    ).rejects.toThrow(InputError);
    const otherArch = { ...member(mlp, 4), init: new Float32Array(mlp.size + 1) };
    await expect(
      trainBatch({ layout: mlp, members: [a, otherArch], epochs: 1, batchSize: 8, lr: 1e-2 }),
    ).rejects.toThrow(/weight vector has \d+ values, the architecture needs/);
    await expect(
      trainBatch({ layout: mlp, members: [], epochs: 1, batchSize: 8, lr: 1e-2 }),
    ).rejects.toThrow(/at least one model/);
  });
});

describe('evaluateBatch', () => {
  for (const [name, layout] of [
    ['MLP', mlp],
    ['CNN', cnn],
  ] as const) {
    it(`${name}: matches the single-model forward pass, model by model`, async () => {
      const m = member(layout, 3);
      const vectors = [1, 2, 3, 4].map((s) => initParams(layout, new Rng(s)));
      const res = await expectNoLeakedTensors(() =>
        evaluateBatch(
          layout,
          vectors,
          m.xTest ?? new Float32Array(0),
          m.yTest ?? new Int32Array(0),
          3,
        ),
      );
      expect(res).toHaveLength(4);
      const n = m.yTest?.length ?? 0;
      for (const [i, v] of vectors.entries()) {
        const { loss, correct } = tf.tidy(() => {
          const logits = forward(
            layout,
            tf.tensor1d(v),
            tf.tensor2d(m.xTest ?? new Float32Array(0), [n, m.xTrain.length / m.yTrain.length]),
          );
          const y = tf.tensor1d(m.yTest ?? new Int32Array(0), 'int32');
          const l = tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(y, 3), tf.logSoftmax(logits)), 1)));
          const c = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), y), 'float32'));
          return { loss: l.dataSync()[0], correct: c.dataSync()[0] };
        });
        expect(res[i].accuracy).toBe(correct / n);
        expect(res[i].loss).toBeCloseTo(loss, 5);
      }
    });
  }
});

describe('predictBatch', () => {
  for (const [name, layout] of [
    ['MLP', mlp],
    ['CNN', cnn],
  ] as const) {
    it(`${name}: each model's classes are the single-model forward pass's arg-max`, async () => {
      const m = member(layout, 5);
      const x = m.xTest ?? new Float32Array(0);
      const vectors = [1, 2, 3, 4, 5].map((s) => initParams(layout, new Rng(10 + s)));
      const res = await expectNoLeakedTensors(() => predictBatch(layout, vectors, x));
      expect(res).toHaveLength(5);
      for (const [i, v] of vectors.entries()) {
        expect(Array.from(res[i])).toEqual(Array.from(await predictClasses(layout, v, x)));
      }
      // Different weights, different predictions somewhere.
      expect(Array.from(res[0])).not.toEqual(Array.from(res[1]));
      await expect(predictBatch(layout, [new Float32Array(3)], x)).rejects.toThrow(/weights\[0\]/);
      expect(await predictBatch(layout, [], x)).toEqual([]);
    });
  }
});

describe('evaluateBatch groups', () => {
  it('CNN: every model gets the same evaluation whatever group it is scored in', async () => {
    const m = member(cnn, 5);
    const vectors = [1, 2, 3, 4, 5].map((s) => initParams(cnn, new Rng(s)));
    const x = m.xTest ?? new Float32Array(0);
    const y = m.yTest ?? new Int32Array(0);
    const [one, two, all] = await expectNoLeakedTensors(() =>
      Promise.all([1, 2, 5].map((g) => evaluateBatch(cnn, vectors, x, y, g))),
    );
    expect(two).toEqual(one);
    expect(all).toEqual(one);
    // Different models, different scores: the groups did not mix models up.
    expect(new Set(one.map((e) => e.loss)).size).toBe(5);
  });
});

describe('finetuneCurves', () => {
  it('gives every job the curve it gets alone, across tasks and inits', async () => {
    const tasks = [1, 2].map((s) => member(mlp, s));
    const inits = [3, 4, 5].map((s) => initParams(mlp, new Rng(s)));
    const jobs = tasks.flatMap((t, ti) =>
      inits.map((init) => ({
        init,
        task: {
          xTrain: t.xTrain,
          yTrain: t.yTrain,
          xTest: t.xTest ?? new Float32Array(0),
          yTest: t.yTest ?? new Int32Array(0),
        },
        rng: new Rng(100 + ti),
      })),
    );
    const args = { layout: mlp, maxEpoch: 2, lr: 1e-2, batchSize: 16 };
    const together = await expectNoLeakedTensors(() => finetuneCurves({ ...args, jobs }));
    expect(together).toHaveLength(6);
    for (const [i, job] of jobs.entries()) {
      const [alone] = await finetuneCurves({
        ...args,
        jobs: [{ ...job, rng: new Rng(100 + Math.floor(i / 3)) }],
      });
      expect(together[i].accuracy).toEqual(alone.accuracy);
      expect(together[i].accuracy).toHaveLength(3);
      together[i].loss.forEach((l, e) => expect(l).toBeCloseTo(alone.loss[e], 5));
      expect(Number.isNaN(together[i].trainLoss[0])).toBe(true);
    }
  });

  it('Rng.clone draws the same stream as the original from where it stands', () => {
    const a = new Rng(7);
    a.next();
    const b = a.clone();
    expect(Array.from({ length: 5 }, () => a.next())).toEqual(
      Array.from({ length: 5 }, () => b.next()),
    );
  });
});

describe('nearestCheckpoint', () => {
  it('picks the checkpoint that fits the training samples best, and its task rows', async () => {
    const m = member(mlp, 9, 90, 30);
    const trained = await trainBatch({
      layout: mlp,
      members: [m],
      epochs: 8,
      batchSize: 16,
      lr: 1e-2,
    });
    const noise = [1, 2, 3].map((s) => initParams(mlp, new Rng(s)));
    const vectors = new Float32Array(4 * mlp.size);
    [noise[0], noise[1], trained.params[0], noise[2]].forEach((v, i) =>
      vectors.set(v, i * mlp.size),
    );
    const near = await nearestCheckpoint(
      mlp,
      { vectors, taskIds: ['a', 'b', 'c', 'c'] },
      m.xTrain,
      m.yTrain,
    );
    expect(near.index).toBe(2);
    expect(near.taskRows).toEqual([2, 3]);
    expect(near.accuracy).toBeGreaterThan(0.7);
    // Scored once per zoo and samples: copies of the same samples get the same result object;
    // other samples are scored anew.
    const zoo = { vectors, taskIds: ['a', 'b', 'c', 'c'] };
    const again = await nearestCheckpoint(mlp, zoo, m.xTrain.slice(), m.yTrain.slice());
    expect(again).toBe(near);
    const other = member(mlp, 10, 90, 30);
    const fresh = await nearestCheckpoint(mlp, zoo, other.xTrain, other.yTrain);
    expect(fresh).not.toBe(near);
    expect(fresh.accuracy).toBe(
      Math.max(
        ...(
          await evaluateMany(
            mlp,
            [0, 1, 2, 3].map((i) => vectors.subarray(i * mlp.size, (i + 1) * mlp.size)),
            other.xTrain,
            other.yTrain,
          )
        ).map((e) => e.accuracy),
      ),
    );
  });
});
