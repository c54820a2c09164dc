import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { CancelledError, InputError, NumericError } from '../../../../src/main/engine/errors.ts';
import { layoutOf } from '../../../../src/main/engine/nn/architecture.ts';
import { initParams } from '../../../../src/main/engine/nn/params.ts';
import { accuracy, trainClassifier } from '../../../../src/main/engine/nn/train.ts';
import { Rng } from '../../../../src/main/engine/rng.ts';
import { WeightVae } from '../../../../src/main/engine/vae/model.ts';
import { trainVae } from '../../../../src/main/engine/vae/train.ts';
import { expectNoLeakedTensors } from '../../../helpers/tf.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-vae-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** n vectors of length dim on a 3-d manifold (plus a little noise), with per-dim offsets/scales. */
function lowRankSet(n: number, dim: number, rng: Rng): Float32Array {
  const basis = rng.normalArray(3 * dim);
  const offset = rng.normalArray(dim, 0, 0.5);
  const scale = rng.uniformArray(dim, 0.01, 0.3);
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const u = [rng.normal(), rng.normal(), rng.normal()];
    for (let j = 0; j < dim; j++) {
      const v = u[0] * basis[j] + u[1] * basis[dim + j] + u[2] * basis[2 * dim + j];
      out[i * dim + j] = offset[j] + scale[j] * (v + 0.01 * rng.normal());
    }
  }
  return out;
}

function relError(a: Float32Array, b: Float32Array): number {
  let e = 0;
  let t = 0;
  for (let i = 0; i < a.length; i++) {
    e += (a[i] - b[i]) ** 2;
    t += b[i] ** 2;
  }
  return Math.sqrt(e / t);
}

const small = {
  hidden: [64, 32],
  latentDim: 8,
  epochs: 100,
  batchSize: 8,
  lr: 3e-3,
};

describe('trainVae + WeightVae', () => {
  it('loss falls, reconstruction ends small, and save/load gives identical encode/decode', async () => {
    await expectNoLeakedTensors(async () => {
      const n = 32;
      const dim = 48;
      const vectors = lowRankSet(n, dim, new Rng(1));
      const seen: number[] = [];
      const { vae, history } = await trainVae({
        vectors,
        n,
        dim,
        config: small,
        rng: new Rng(2),
        control: { onProgress: (p) => seen.push(p.value) },
      });
      try {
        expect(history).toHaveLength(100);
        expect(seen[seen.length - 1]).toBe(100);
        expect(history[99].loss).toBeLessThan(history[0].loss * 0.05);
        expect(history[99].recon).toBeLessThan(0.05);
        expect(history.every((h) => Number.isFinite(h.kl) && h.kl >= 0)).toBe(true);
        expect(vae.inputDim).toBe(dim);
        expect(vae.latentDim).toBe(8);

        const mu = await vae.encodeMean(vectors, n);
        expect(mu.length).toBe(n * 8);
        const rec = await vae.decode(mu, n);
        expect(rec.length).toBe(n * dim);
        expect(relError(rec, vectors)).toBeLessThan(0.1);
        // encodeSample is seeded and centred on the mean.
        const z1 = await vae.encodeSample(vectors, n, new Rng(5));
        const z2 = await vae.encodeSample(vectors, n, new Rng(5));
        expect(Array.from(z2)).toEqual(Array.from(z1));

        const dir = path.join(tmp, 'vae');
        await vae.save(dir);
        expect(fs.readdirSync(dir).sort()).toEqual(['vae.json', 'weights.safetensors']);
        const loaded = await WeightVae.load(dir);
        try {
          expect(loaded.inputDim).toBe(dim);
          expect(loaded.config).toEqual(vae.config);
          expect(Array.from(await loaded.encodeMean(vectors, n))).toEqual(Array.from(mu));
          expect(Array.from(await loaded.decode(mu, n))).toEqual(Array.from(rec));
        } finally {
          loaded.dispose();
        }
      } finally {
        vae.dispose();
      }
    });
  });

  it('decoded zoo models keep their accuracy (40 small MLPs from engine/nn)', async () => {
    const layout = layoutOf({
      kind: 'mlp',
      inputDim: 8,
      hidden: [12],
      outputs: 3,
      activation: 'leaky_relu',
    });
    const rng = new Rng(11);
    const vecs: Float32Array[] = [];
    const tests: { x: Float32Array; y: Int32Array }[] = [];
    for (let task = 0; task < 10; task++) {
      const centres = rng.normalArray(3 * 8, 0, 0.6);
      const make = (m: number) => {
        const x = new Float32Array(m * 3 * 8);
        const y = new Int32Array(m * 3);
        for (let i = 0; i < m * 3; i++) {
          y[i] = i % 3;
          for (let j = 0; j < 8; j++) x[i * 8 + j] = centres[y[i] * 8 + j] + rng.normal();
        }
        return { x, y };
      };
      const train = make(20);
      const test = make(40);
      for (let seed = 0; seed < 2; seed++) {
        await trainClassifier({
          layout,
          init: initParams(layout, rng.fork(`init-${task}-${seed}`)),
          xTrain: train.x,
          yTrain: train.y,
          epochs: 10,
          batchSize: 30,
          lr: 1e-2,
          rng: rng.fork(`train-${task}-${seed}`),
          onEpoch: (r) => {
            if (r.epoch > 8) {
              vecs.push(r.params);
              tests.push(test);
            }
          },
        });
      }
    }
    const n = vecs.length;
    const dim = layout.size;
    expect(n).toBe(40);
    const all = new Float32Array(n * dim);
    vecs.forEach((v, i) => all.set(v, i * dim));
    const { vae } = await trainVae({
      vectors: all,
      n,
      dim,
      config: { hidden: [128, 64], latentDim: 16, epochs: 200, batchSize: 10, lr: 3e-3 },
      rng: new Rng(3),
    });
    const rec = await vae.reconstruct(all, n);
    vae.dispose();
    let gap = 0;
    let zooAcc = 0;
    for (let i = 0; i < n; i++) {
      const a0 = await accuracy(layout, vecs[i], tests[i].x, tests[i].y);
      const a1 = await accuracy(
        layout,
        rec.subarray(i * dim, (i + 1) * dim),
        tests[i].x,
        tests[i].y,
      );
      zooAcc += a0 / n;
      gap += Math.abs(a0 - a1) / n;
    }
    expect(zooAcc).toBeGreaterThan(0.5); // the zoo learned something (chance is 1/3)
    expect(gap).toBeLessThan(0.02);
  });

  it('is deterministic, and supports L1, global normalisation, layer norm and conv1d', async () => {
    await expectNoLeakedTensors(async () => {
      const n = 12;
      const dim = 30;
      const vectors = lowRankSet(n, dim, new Rng(4));
      const run = async (config: object) => {
        const r = await trainVae({ vectors, n, dim, config, rng: new Rng(8) });
        const mu = await r.vae.encodeMean(vectors, n);
        const rec = await r.vae.decode(mu, n);
        r.vae.dispose();
        return { losses: r.history.map((h) => h.loss), rec };
      };
      const base = { ...small, epochs: 6 };
      const a = await run(base);
      const b = await run(base);
      expect(b.losses).toEqual(a.losses);
      for (const variant of [
        { recon: 'l1', normalise: 'global', layerNorm: true },
        { arch: 'conv1d', convChannels: [4, 8], convKernel: 4, epochs: 40 },
      ]) {
        const r = await run({ ...base, ...variant });
        expect(r.rec.length).toBe(n * dim);
        expect(r.losses[r.losses.length - 1]).toBeLessThan(r.losses[0]);
      }
    });
  });

  it('stops with NumericError naming the stage and step when training diverges', async () => {
    await expectNoLeakedTensors(async () => {
      const vectors = lowRankSet(8, 16, new Rng(1));
      const err = await trainVae({
        vectors,
        n: 8,
        dim: 16,
        config: { ...small, lr: 1e30, epochs: 20 },
        rng: new Rng(1),
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NumericError);
      const ne = err as NumericError;
      expect(ne.stage).toBe('vae');
      expect(ne.step).toBeGreaterThan(0);
      expect(ne.message).toContain(`step ${ne.step}`);
      // A predictor that returns NaN poisons the loss at the very first step.
      const err2 = await trainVae({
        vectors,
        n: 8,
        dim: 16,
        config: { ...small, predictorWeight: 1 },
        rng: new Rng(1),
        predictor: (w) => tf.mul(tf.sum(w, 1), Number.NaN),
      }).catch((e: unknown) => e);
      expect(err2).toBeInstanceOf(NumericError);
      expect((err2 as NumericError).step).toBe(0);
    });
  });

  it('rejects bad input and honours cancellation', async () => {
    const vectors = lowRankSet(4, 10, new Rng(1));
    const bad = Float32Array.from(vectors);
    bad[13] = Number.POSITIVE_INFINITY;
    await expect(
      trainVae({ vectors: bad, n: 4, dim: 10, config: small, rng: new Rng(1) }),
    ).rejects.toThrow(/row 1, column 3/);
    await expect(
      trainVae({ vectors, n: 5, dim: 10, config: small, rng: new Rng(1) }),
    ).rejects.toThrow(InputError);
    await expect(
      trainVae({ vectors, n: 4, dim: 10, config: { latentDim: 0 }, rng: new Rng(1) }),
    ).rejects.toThrow(/latentDim/);
    await expect(
      trainVae({ vectors, n: 4, dim: 10, config: { predictorWeight: 1 }, rng: new Rng(1) }),
    ).rejects.toThrow(/predictor/);
    const ac = new AbortController();
    ac.abort();
    await expectNoLeakedTensors(async () => {
      await expect(
        trainVae({
          vectors,
          n: 4,
          dim: 10,
          config: small,
          rng: new Rng(1),
          control: { signal: ac.signal },
        }),
      ).rejects.toThrow(CancelledError);
    });
  });

  it('load refuses weights that do not match the descriptor, naming the file', async () => {
    await expectNoLeakedTensors(async () => {
      const vectors = lowRankSet(4, 10, new Rng(1));
      const { vae } = await trainVae({
        vectors,
        n: 4,
        dim: 10,
        config: { ...small, epochs: 1 },
        rng: new Rng(1),
      });
      const dir = path.join(tmp, 'mismatch');
      await vae.save(dir);
      vae.dispose();
      const jsonPath = path.join(dir, 'vae.json');
      const desc = JSON.parse(fs.readFileSync(jsonPath, 'utf8'));
      desc.config.hidden = [64, 16];
      fs.writeFileSync(jsonPath, JSON.stringify(desc));
      await expect(WeightVae.load(dir)).rejects.toThrow(/weights\.safetensors: .*shape/);
      fs.writeFileSync(jsonPath, '{not json');
      await expect(WeightVae.load(dir)).rejects.toThrow(/vae\.json: not valid JSON/);
    });
  });
});
