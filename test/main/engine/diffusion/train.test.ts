import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LatentDiffusion } from '../../../../src/main/engine/diffusion/model.ts';
import { trainDiffusion } from '../../../../src/main/engine/diffusion/train.ts';
import { CancelledError, InputError, NumericError } from '../../../../src/main/engine/errors.ts';
import { Rng } from '../../../../src/main/engine/rng.ts';
import { expectNoLeakedTensors } from '../../../helpers/tf.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-diffusion-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Two conditions, two well-separated modes in a 4-d latent space (in "VAE units": scale 5). */
const LAT = 4;
const COND = 3;
const MODE_A = [5, 5, -5, 5];
const MODE_B = [-5, -5, 5, -5];
const COND_A = [1, 0, 0.5];
const COND_B = [0, 1, 0.5];

function twoModeData(n: number, rng: Rng): { latents: Float32Array; conds: Float32Array } {
  const latents = new Float32Array(n * LAT);
  const conds = new Float32Array(n * COND);
  for (let i = 0; i < n; i++) {
    const a = i % 2 === 0;
    const mode = a ? MODE_A : MODE_B;
    for (let j = 0; j < LAT; j++) latents[i * LAT + j] = mode[j] + 0.3 * rng.normal();
    conds.set(a ? COND_A : COND_B, i * COND);
  }
  return { latents, conds };
}

// T = 100 with β scaled ×10 keeps ᾱ_{T−1} as small as the default T = 1000 schedule does.
const smallConfig = {
  timesteps: 100,
  linearStart: 0.015,
  linearEnd: 0.155,
  denoiser: { width: 64, depth: 2, timeEmbDim: 32 },
  steps: 300,
  batchSize: 64,
  lr: 2e-3,
  emaDecay: 0.99,
};

function meanRow(x: Float32Array, n: number, dim: number): number[] {
  const m = new Array<number>(dim).fill(0);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) m[j] += x[i * dim + j] / n;
  return m;
}

describe('trainDiffusion + LatentDiffusion', () => {
  it('learns a 2-mode conditional distribution; samples land on the right mode; save/load round trip', async () => {
    await expectNoLeakedTensors(async () => {
      const data = twoModeData(128, new Rng(1));
      const progress: number[] = [];
      const { model, history } = await trainDiffusion({
        ...data,
        n: 128,
        latentDim: LAT,
        condDim: COND,
        config: smallConfig,
        rng: new Rng(2),
        control: { onProgress: (p) => progress.push(p.value) },
      });
      try {
        expect(history.length).toBeGreaterThan(10);
        const first = history.slice(0, 3).reduce((s, h) => s + h.loss, 0) / 3;
        const last = history.slice(-5).reduce((s, h) => s + h.loss, 0) / 5;
        expect(last).toBeLessThan(first * 0.6);
        expect(progress[progress.length - 1]).toBe(300);
        expect(model.latentScale).toBeGreaterThan(0.1);
        expect(model.latentScale).toBeLessThan(0.3);

        for (const sampler of [{ steps: 25 }, { sampler: 'ddpm' as const }]) {
          const sa = await model.sample({
            cond: Float32Array.from(COND_A),
            n: 32,
            rng: new Rng(3),
            sampler,
          });
          const sb = await model.sample({
            cond: Float32Array.from(COND_B),
            n: 32,
            rng: new Rng(3),
            sampler,
          });
          const ma = meanRow(sa, 32, LAT);
          const mb = meanRow(sb, 32, LAT);
          for (let j = 0; j < LAT; j++) {
            expect(Math.abs(ma[j] - MODE_A[j])).toBeLessThan(1.0);
            expect(Math.abs(mb[j] - MODE_B[j])).toBeLessThan(1.0);
          }
        }

        // Per-row conditions: first half A, second half B.
        const rows = new Float32Array(8 * COND);
        for (let i = 0; i < 8; i++) rows.set(i < 4 ? COND_A : COND_B, i * COND);
        const mixed = await model.sample({ cond: rows, n: 8, rng: new Rng(4) });
        for (let i = 0; i < 8; i++) expect(Math.sign(mixed[i * LAT])).toBe(i < 4 ? 1 : -1);

        // Seeded: same rng → same samples; other seed → different.
        const s1 = await model.sample({ cond: Float32Array.from(COND_A), n: 4, rng: new Rng(9) });
        const s2 = await model.sample({ cond: Float32Array.from(COND_A), n: 4, rng: new Rng(9) });
        const s3 = await model.sample({ cond: Float32Array.from(COND_A), n: 4, rng: new Rng(10) });
        expect(Array.from(s2)).toEqual(Array.from(s1));
        expect(Array.from(s3)).not.toEqual(Array.from(s1));

        // Guidance: unconditional (g = 0) and strong guidance (g = 3) both run; guided stays on A.
        const g3 = await model.sample({
          cond: Float32Array.from(COND_A),
          n: 16,
          rng: new Rng(5),
          sampler: { guidance: 3 },
        });
        expect(meanRow(g3, 16, LAT)[0]).toBeGreaterThan(3);
        const g0 = await model.sample({
          cond: Float32Array.from(COND_A),
          n: 64,
          rng: new Rng(5),
          sampler: { guidance: 0 },
        });
        let nA = 0;
        for (let i = 0; i < 64; i++) if (g0[i * LAT] > 0) nA += 1;
        expect(nA).toBeGreaterThan(8);
        expect(nA).toBeLessThan(56);

        const dir = path.join(tmp, 'model');
        await model.save(dir);
        await model.save(dir); // overwrite in place
        expect(fs.readdirSync(tmp).sort()).toEqual(['model']);
        expect(fs.readdirSync(dir).sort()).toEqual(['diffusion.json', 'weights.safetensors']);
        const loaded = await LatentDiffusion.load(dir);
        try {
          expect(loaded.latentDim).toBe(LAT);
          expect(loaded.condDim).toBe(COND);
          expect(loaded.latentScale).toBe(model.latentScale);
          const l1 = await loaded.sample({
            cond: Float32Array.from(COND_A),
            n: 4,
            rng: new Rng(9),
          });
          expect(Array.from(l1)).toEqual(Array.from(s1));
        } finally {
          loaded.dispose();
        }
      } finally {
        model.dispose();
      }
    });
  });

  it('trains a 1-D UNet denoiser: right mode per condition, save/load, dropout, bad lengths', async () => {
    await expectNoLeakedTensors(async () => {
      const data = twoModeData(128, new Rng(1));
      const unet = { kind: 'unet1d' as const, width: 32, timeEmbDim: 16, channels: [8, 16] };
      const { model, history } = await trainDiffusion({
        ...data,
        n: 128,
        latentDim: LAT,
        condDim: COND,
        config: { ...smallConfig, denoiser: unet },
        rng: new Rng(2),
      });
      try {
        const first = history.slice(0, 3).reduce((s, h) => s + h.loss, 0) / 3;
        const last = history.slice(-5).reduce((s, h) => s + h.loss, 0) / 5;
        expect(last).toBeLessThan(first * 0.6);
        const sa = await model.sample({ cond: Float32Array.from(COND_A), n: 32, rng: new Rng(3) });
        const sb = await model.sample({ cond: Float32Array.from(COND_B), n: 32, rng: new Rng(3) });
        const ma = meanRow(sa, 32, LAT);
        const mb = meanRow(sb, 32, LAT);
        for (let j = 0; j < LAT; j++) {
          expect(Math.abs(ma[j] - MODE_A[j])).toBeLessThan(1.0);
          expect(Math.abs(mb[j] - MODE_B[j])).toBeLessThan(1.0);
        }
        const dir = path.join(tmp, 'unet');
        await model.save(dir);
        const loaded = await LatentDiffusion.load(dir);
        try {
          const again = await loaded.sample({
            cond: Float32Array.from(COND_A),
            n: 32,
            rng: new Rng(3),
          });
          expect(Array.from(again)).toEqual(Array.from(sa));
        } finally {
          loaded.dispose();
        }
      } finally {
        model.dispose();
      }
      // Dropout masks follow each block's channel count.
      const dropped = await trainDiffusion({
        ...data,
        n: 128,
        latentDim: LAT,
        condDim: COND,
        config: { ...smallConfig, steps: 5, denoiser: { ...unet, dropout: 0.2 } },
        rng: new Rng(2),
      });
      expect(dropped.history.every((h) => Number.isFinite(h.loss))).toBe(true);
      dropped.model.dispose();
      // Three levels halve a length-4 latent twice: fine; four levels would need 8 | latentDim.
      await expect(
        trainDiffusion({
          ...data,
          n: 128,
          latentDim: LAT,
          condDim: COND,
          config: { ...smallConfig, steps: 2, denoiser: { ...unet, channels: [4, 4, 4, 4] } },
          rng: new Rng(2),
        }),
      ).rejects.toThrow(/latentDim must be divisible by 8; it is 4/);
    });
  });

  it('is deterministic: same seed → same history', async () => {
    await expectNoLeakedTensors(async () => {
      const data = twoModeData(16, new Rng(1));
      const cfg = { ...smallConfig, steps: 20, denoiser: { width: 16, depth: 1, timeEmbDim: 8 } };
      const run = async () => {
        const r = await trainDiffusion({
          ...data,
          n: 16,
          latentDim: LAT,
          condDim: COND,
          config: cfg,
          rng: new Rng(7),
        });
        r.model.dispose();
        return r.history.map((h) => h.loss);
      };
      expect(await run()).toEqual(await run());
    });
  });

  it('stops with NumericError naming the stage and step when training diverges', async () => {
    await expectNoLeakedTensors(async () => {
      const data = twoModeData(16, new Rng(1));
      const err = await trainDiffusion({
        ...data,
        n: 16,
        latentDim: LAT,
        condDim: COND,
        config: { ...smallConfig, steps: 50, lr: 1e30, gradClip: 0 },
        rng: new Rng(1),
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NumericError);
      const ne = err as NumericError;
      expect(ne.stage).toBe('diffusion');
      expect(ne.step).toBeGreaterThan(0);
      expect(ne.message).toContain(`step ${ne.step}`);
    });
  });

  it('rejects bad input and honours cancellation', async () => {
    const data = twoModeData(8, new Rng(1));
    const bad = Float32Array.from(data.latents);
    bad[5] = Number.NaN;
    await expect(
      trainDiffusion({
        latents: bad,
        conds: data.conds,
        n: 8,
        latentDim: LAT,
        condDim: COND,
        config: smallConfig,
        rng: new Rng(1),
      }),
    ).rejects.toThrow(/latents.*row 1, column 1/);
    await expect(
      trainDiffusion({
        ...data,
        n: 8,
        latentDim: LAT,
        condDim: COND,
        config: { steps: -1 },
        rng: new Rng(1),
      }),
    ).rejects.toThrow(InputError);
    const ac = new AbortController();
    ac.abort();
    await expectNoLeakedTensors(async () => {
      await expect(
        trainDiffusion({
          ...data,
          n: 8,
          latentDim: LAT,
          condDim: COND,
          config: smallConfig,
          rng: new Rng(1),
          control: { signal: ac.signal },
        }),
      ).rejects.toThrow(CancelledError);
    });
  });

  it('load refuses a folder with a corrupt descriptor, naming the file', async () => {
    const dir = path.join(tmp, 'broken');
    fs.mkdirSync(dir);
    fs.writeFileSync(
      path.join(dir, 'diffusion.json'),
      '{"format":"d2nwg-latent-diffusion","version":1}',
    );
    await expect(LatentDiffusion.load(dir)).rejects.toThrow(/diffusion\.json: field latentDim/);
  });
});
