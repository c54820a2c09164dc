import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import {
  ddimStep,
  ddimTimesteps,
  ddpmStep,
  runSampler,
} from '../../../../src/main/engine/diffusion/sampler.ts';
import { makeSchedule } from '../../../../src/main/engine/diffusion/schedule.ts';
import { Rng } from '../../../../src/main/engine/rng.ts';
import { SamplerConfig } from '../../../../src/shared/schemas/diffusion.ts';
import { expectNoLeakedTensors } from '../../../helpers/tf.ts';

const T = 200;
const sched = makeSchedule(T, 'linear');
/** A fixed, non-learned ε(x, t): depends on both so every step differs. */
const fixedEps = (x: tf.Tensor2D, t: number): tf.Tensor2D =>
  tf.tidy(() => tf.add(tf.mul(x, 0.3), Math.sin(t / 17)));

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('samplers', () => {
  it('DDIM over all T steps with eta = 1 takes DDPM posterior mean and variance at every step', async () => {
    await expectNoLeakedTensors(() => {
      const rng = new Rng(3);
      for (let t = T - 1; t >= 0; t--) {
        tf.tidy(() => {
          const xt = tf.tensor2d(rng.normalArray(4 * 3), [4, 3]);
          const eps = fixedEps(xt, t);
          const a = ddpmStep(sched, t, xt, eps);
          const b = ddimStep(sched, t, t - 1, xt, eps, 1);
          expect(maxAbsDiff(a.mean.dataSync(), b.mean.dataSync())).toBeLessThan(1e-5);
          expect(b.std).toBeCloseTo(a.std, 10);
          if (t > 0) expect(a.std).toBeCloseTo(Math.sqrt(sched.posteriorVariance[t]), 12);
          else expect(a.std).toBe(0);
        });
      }
    });
  });

  it('full DDIM(eta=1) trajectory follows the DDPM mean path with the same seed', async () => {
    await expectNoLeakedTensors(() => {
      const ddpmMeans: Float32Array[] = [];
      const ddimMeans: Float32Array[] = [];
      const a = runSampler({
        schedule: sched,
        eps: fixedEps,
        n: 5,
        dim: 3,
        rng: new Rng(11),
        sampler: SamplerConfig.parse({ sampler: 'ddpm' }),
        onStep: (s) => ddpmMeans.push(Float32Array.from(s.mean.dataSync())),
      });
      const b = runSampler({
        schedule: sched,
        eps: fixedEps,
        n: 5,
        dim: 3,
        rng: new Rng(11),
        sampler: SamplerConfig.parse({ sampler: 'ddim', steps: T, eta: 1 }),
        onStep: (s) => ddimMeans.push(Float32Array.from(s.mean.dataSync())),
      });
      expect(ddpmMeans.length).toBe(T);
      expect(ddimMeans.length).toBe(T);
      for (let i = 0; i < T; i++) {
        const scale = Math.max(1, ...Array.from(ddpmMeans[i], Math.abs));
        expect(maxAbsDiff(ddpmMeans[i], ddimMeans[i]) / scale).toBeLessThan(1e-4);
      }
      expect(maxAbsDiff(a.dataSync(), b.dataSync())).toBeLessThan(1e-3);
      tf.dispose([a, b]);
    });
  });

  it('DDIM with eta = 0 is deterministic given x_T and adds no noise', () => {
    const stds: number[] = [];
    const run = (seed: number) => {
      const x = runSampler({
        schedule: sched,
        eps: fixedEps,
        n: 3,
        dim: 2,
        rng: new Rng(seed),
        sampler: SamplerConfig.parse({ sampler: 'ddim', steps: 10, eta: 0 }),
        onStep: (s) => stds.push(s.std),
      });
      const v = Float32Array.from(x.dataSync());
      x.dispose();
      return v;
    };
    const a = run(5);
    const b = run(5);
    expect(Array.from(b)).toEqual(Array.from(a));
    expect(stds.every((s) => s === 0)).toBe(true);
    expect(stds.length).toBe(20);
    // A different x_T gives a different result.
    expect(maxAbsDiff(run(6), a)).toBeGreaterThan(1e-3);
  });

  it('DDIM timesteps are strided, descending and end at 0', () => {
    expect(ddimTimesteps(1000, 5)).toEqual([999, 749, 500, 250, 0]);
    expect(ddimTimesteps(10, 50)).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    expect(ddimTimesteps(10, 1)).toEqual([9]);
  });

  it('with a perfect ε for a point mass, DDIM recovers the point', () => {
    // x_0 = c exactly: ε(x_t, t) = (x_t − √ᾱ_t c) / √(1−ᾱ_t).
    const c = tf.tensor2d([[1.5, -0.5]]);
    const eps = (x: tf.Tensor2D, t: number): tf.Tensor2D =>
      tf.tidy(() =>
        tf.div(
          tf.sub(x, tf.mul(c, sched.sqrtAlphasCumprod[t])),
          sched.sqrtOneMinusAlphasCumprod[t],
        ),
      );
    const x = runSampler({
      schedule: sched,
      eps,
      n: 4,
      dim: 2,
      rng: new Rng(1),
      sampler: SamplerConfig.parse({ steps: 8 }),
    });
    const v = x.dataSync();
    for (let i = 0; i < 4; i++) {
      expect(v[2 * i]).toBeCloseTo(1.5, 4);
      expect(v[2 * i + 1]).toBeCloseTo(-0.5, 4);
    }
    tf.dispose([x, c]);
  });
});
