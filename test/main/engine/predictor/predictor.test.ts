import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../../../../src/main/engine/errors.ts';
import { fromF32, writeSafetensors } from '../../../../src/main/engine/formats/safetensors.ts';
import {
  AccuracyPredictor,
  rankByPredictor,
  spearman,
  trainPredictor,
} from '../../../../src/main/engine/predictor/predictor.ts';
import { Rng } from '../../../../src/main/engine/rng.ts';
import { trainVae } from '../../../../src/main/engine/vae/train.ts';
import { expectNoLeakedTensors } from '../../../helpers/tf.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-predictor-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const DIM = 16;

/**
 * A synthetic zoo: 40 tasks × 10 members; each task has its own centre, and accuracy depends on the
 * weights through a fixed direction (a smooth, learnable function the predictor never sees).
 */
function zoo(seed: number) {
  const rng = new Rng(seed);
  const dir = new Rng(99).normalArray(DIM);
  const tasks = 40;
  const per = 10;
  const n = tasks * per;
  const vectors = new Float32Array(n * DIM);
  const accuracies = new Float32Array(n);
  const groups = new Int32Array(n);
  for (let t = 0; t < tasks; t++) {
    const centre = rng.normalArray(DIM, 0, 1);
    for (let m = 0; m < per; m++) {
      const i = t * per + m;
      groups[i] = t;
      let s = 0;
      for (let j = 0; j < DIM; j++) {
        const w = centre[j] + 0.5 * rng.normal();
        vectors[i * DIM + j] = w;
        s += w * dir[j];
      }
      accuracies[i] = 0.6 + 0.3 * Math.tanh(s / Math.sqrt(DIM));
    }
  }
  return { vectors, accuracies, groups, n };
}

const CFG = { hidden: [32, 16], epochs: 60, batchSize: 32, lr: 3e-3, valFraction: 0.25 };

/** g trained on zoo(1) for `epochs` epochs, seed 3 (caller disposes). */
async function trained(epochs: number) {
  const z = zoo(1);
  const r = await trainPredictor({
    vectors: z.vectors,
    n: z.n,
    dim: DIM,
    accuracies: z.accuracies,
    config: { ...CFG, epochs },
    rng: new Rng(3),
  });
  return { z, predictor: r.predictor };
}

describe('spearman', () => {
  it('is 1 for the same order, -1 for the reverse, and averages ties', () => {
    expect(spearman([1, 2, 3, 4], [10, 20, 30, 40])).toBeCloseTo(1, 12);
    expect(spearman([1, 2, 3, 4], [4, 3, 2, 1])).toBeCloseTo(-1, 12);
    // Ranks of [1, 2, 2, 3] are [0, 1.5, 1.5, 3]: rho with [0, 1, 2, 3] is 0.9487.
    expect(spearman([1, 2, 2, 3], [0, 1, 2, 3])).toBeCloseTo(0.9486833, 6);
    expect(spearman([1, 1, 1], [1, 2, 3])).toBeNaN();
  });
});

describe('accuracy predictor', () => {
  it('learns accuracy from weights and ranks tasks it never saw, without leaking tensors', async () => {
    const z = zoo(1);
    await expectNoLeakedTensors(async () => {
      const { predictor, history, validation } = await trainPredictor({
        vectors: z.vectors,
        n: z.n,
        dim: DIM,
        accuracies: z.accuracies,
        groups: z.groups,
        config: CFG,
        rng: new Rng(3),
      });
      try {
        expect(history).toHaveLength(CFG.epochs);
        expect(history[history.length - 1].loss).toBeLessThan(history[0].loss / 5);
        // 10 of 40 tasks held out whole: 100 members.
        expect(validation?.members).toBe(100);
        expect(validation?.spearman).toBeGreaterThan(0.8);
        expect(validation?.mae).toBeLessThan(0.08);
        // Fresh vectors from another draw: the ranking still follows the true accuracy.
        const fresh = zoo(2);
        const pred = await predictor.predict(fresh.vectors, fresh.n);
        expect(pred).toHaveLength(fresh.n);
        for (const p of pred) expect(p >= 0 && p <= 1).toBe(true);
        expect(spearman(pred, fresh.accuracies)).toBeGreaterThan(0.8);
        // g(w) for Eq. 7 has the last hidden width.
        const e = tf.tidy(() =>
          predictor.embed(tf.tensor2d(fresh.vectors.subarray(0, 3 * DIM), [3, DIM])),
        );
        expect(e.shape).toEqual([3, 16]);
        e.dispose();
      } finally {
        predictor.dispose();
      }
    });
  });

  it('is deterministic for a seed, and saves and loads to the same predictions', async () => {
    const z = zoo(1);
    const cfg = { ...CFG, epochs: 10 };
    const args = { vectors: z.vectors, n: z.n, dim: DIM, accuracies: z.accuracies, config: cfg };
    const a = await trainPredictor({ ...args, rng: new Rng(5) });
    const b = await trainPredictor({ ...args, rng: new Rng(5) });
    const c = await trainPredictor({ ...args, rng: new Rng(6) });
    try {
      const pa = await a.predictor.predict(z.vectors, z.n);
      expect(await b.predictor.predict(z.vectors, z.n)).toEqual(pa);
      expect(await c.predictor.predict(z.vectors, z.n)).not.toEqual(pa);
      const file = path.join(tmp, 'g.safetensors');
      await a.predictor.save(file);
      const loaded = await AccuracyPredictor.load(file);
      try {
        expect(loaded.dim).toBe(DIM);
        expect(loaded.embedDim).toBe(16);
        expect(await loaded.predict(z.vectors, z.n)).toEqual(pa);
      } finally {
        loaded.dispose();
      }
      // A truncated file and a file of another kind are refused, naming the file.
      const bytes = fs.readFileSync(file);
      const broken = path.join(tmp, 'broken.safetensors');
      fs.writeFileSync(broken, bytes.subarray(0, bytes.length - 40));
      await expect(AccuracyPredictor.load(broken)).rejects.toThrow(InputError);
      await expect(AccuracyPredictor.load(broken)).rejects.toThrow(/broken\.safetensors/);
      const other = path.join(tmp, 'other.safetensors');
      await writeSafetensors(other, { x: fromF32(new Float32Array(2), [2]) }, { format: 'x/1' });
      await expect(AccuracyPredictor.load(other)).rejects.toThrow(
        /not an accuracy predictor file \(format 'x\/1'\)/,
      );
    } finally {
      a.predictor.dispose();
      b.predictor.dispose();
      c.predictor.dispose();
    }
  });

  it('ranks samples best first by predicted accuracy', async () => {
    const { z, predictor } = await trained(40);
    try {
      const samples = Array.from({ length: 6 }, (_, i) =>
        z.vectors.slice(i * 50 * DIM, (i * 50 + 1) * DIM),
      );
      const { order, predicted } = await rankByPredictor(predictor, samples);
      expect([...order].sort()).toEqual([0, 1, 2, 3, 4, 5]);
      for (let i = 1; i < order.length; i++) {
        expect(predicted[order[i - 1]]).toBeGreaterThanOrEqual(predicted[order[i]]);
      }
      await expect(rankByPredictor(predictor, [new Float32Array(DIM + 1)])).rejects.toThrow(
        /sample 0 has 17 weights, the predictor expects 16/,
      );
      const nan = new Float32Array(DIM);
      nan[3] = Number.NaN;
      await expect(rankByPredictor(predictor, [nan])).rejects.toThrow(
        /non-finite value NaN at row 0, column 3/,
      );
    } finally {
      predictor.dispose();
    }
  });

  it('refuses bad training input with a specific message', async () => {
    const z = zoo(1);
    const base = {
      vectors: z.vectors,
      n: z.n,
      dim: DIM,
      accuracies: z.accuracies,
      config: CFG,
      rng: new Rng(1),
    };
    await expect(trainPredictor({ ...base, accuracies: z.accuracies.slice(1) })).rejects.toThrow(
      /399 accuracies for 400 weight vectors/,
    );
    const acc = z.accuracies.slice();
    acc[7] = Number.NaN;
    await expect(trainPredictor({ ...base, accuracies: acc })).rejects.toThrow(/accuracy 7 is NaN/);
    acc[7] = 87;
    await expect(trainPredictor({ ...base, accuracies: acc })).rejects.toThrow(
      /accuracy 7 is 87, expected a fraction/,
    );
    await expect(trainPredictor({ ...base, config: { epochs: 0 } })).rejects.toThrow(
      /predictor config epochs/,
    );
    await expect(trainPredictor({ ...base, groups: z.groups.slice(2) })).rejects.toThrow(
      /398 task ids/,
    );
    const v = z.vectors.slice();
    v[5] = Number.POSITIVE_INFINITY;
    await expect(trainPredictor({ ...base, vectors: v })).rejects.toThrow(
      /non-finite value Infinity/,
    );
  });

  it('regularises the VAE (Eq. 7) while staying frozen', async () => {
    const { z, predictor } = await trained(20);
    try {
      const before = await Promise.all(predictor.variables().map((v) => v.data()));
      const { vae, history } = await expectNoLeakedTensors(async () => {
        const r = await trainVae({
          vectors: z.vectors,
          n: z.n,
          dim: DIM,
          config: { hidden: [32], latentDim: 8, epochs: 30, predictorWeight: 0.1 },
          rng: new Rng(4),
          predictor: (w) => predictor.embed(w),
        });
        r.vae.dispose();
        return r;
      });
      expect(vae).toBeDefined();
      const first = history[0].predictor ?? NaN;
      const last = history[history.length - 1].predictor ?? NaN;
      expect(first).toBeGreaterThan(0);
      expect(last).toBeLessThan(first);
      const after = await Promise.all(predictor.variables().map((v) => v.data()));
      expect(after).toEqual(before);
    } finally {
      predictor.dispose();
    }
  });
});
