/**
 * Reverse-process samplers: ancestral DDPM (Ho et al.) over all T steps and DDIM (Song et al.)
 * over a strided subset. Both are written as "one step = mean + std·z" so tests can check that
 * DDIM with η = 1 over all T steps takes exactly DDPM's posterior mean and variance. Noise comes
 * from the seeded Rng, so the same seed gives the same samples.
 */
import * as tf from '@tensorflow/tfjs';
import type { SamplerConfig } from '../../../shared/schemas/diffusion.ts';
import type { Rng } from '../rng.ts';
import type { Schedule } from './schedule.ts';

/** One reverse step: x_prev = mean + std·z. */
export interface StepResult {
  /** Mean of p(x_prev | x_t) (caller disposes). */
  readonly mean: tf.Tensor2D;
  /** Standard deviation of the added noise (0 for deterministic steps). */
  readonly std: number;
}

/** x̂_0 from x_t and predicted ε, optionally clipped; returns [x0, eps] (eps re-derived if clipped). */
function predictX0(
  s: Schedule,
  t: number,
  xt: tf.Tensor2D,
  eps: tf.Tensor2D,
  clipX0: number,
): [tf.Tensor2D, tf.Tensor2D] {
  const sa = s.sqrtAlphasCumprod[t];
  const so = s.sqrtOneMinusAlphasCumprod[t];
  let x0: tf.Tensor2D = tf.div(tf.sub(xt, tf.mul(eps, so)), sa);
  if (clipX0 > 0) {
    x0 = tf.clipByValue(x0, -clipX0, clipX0);
    return [x0, tf.div(tf.sub(xt, tf.mul(x0, sa)), so)];
  }
  return [x0, eps];
}

/** Ancestral DDPM step t → t−1: posterior mean from x̂_0, variance β̃_t. */
export function ddpmStep(
  s: Schedule,
  t: number,
  xt: tf.Tensor2D,
  eps: tf.Tensor2D,
  clipX0 = 0,
): StepResult {
  const mean = tf.tidy(() => {
    const [x0] = predictX0(s, t, xt, eps, clipX0);
    return tf.add<tf.Tensor2D>(
      tf.mul(x0, s.posteriorMeanCoef1[t]),
      tf.mul(xt, s.posteriorMeanCoef2[t]),
    );
  });
  return { mean, std: t > 0 ? Math.sqrt(s.posteriorVariance[t]) : 0 };
}

/** DDIM step t → tPrev (tPrev = −1 means "to x_0"), with stochasticity η. */
export function ddimStep(
  s: Schedule,
  t: number,
  tPrev: number,
  xt: tf.Tensor2D,
  eps: tf.Tensor2D,
  eta: number,
  clipX0 = 0,
): StepResult {
  const a = s.alphasCumprod[t];
  const aPrev = tPrev >= 0 ? s.alphasCumprod[tPrev] : 1;
  const sigma = eta * Math.sqrt(((1 - aPrev) / (1 - a)) * (1 - a / aPrev));
  const dirCoef = Math.sqrt(Math.max(0, 1 - aPrev - sigma * sigma));
  const mean = tf.tidy(() => {
    const [x0, e] = predictX0(s, t, xt, eps, clipX0);
    return tf.add<tf.Tensor2D>(tf.mul(x0, Math.sqrt(aPrev)), tf.mul(e, dirCoef));
  });
  return { mean, std: sigma };
}

/**
 * DDIM timesteps, descending from T−1 to 0: `steps` points spread evenly over [0, T−1] (all of
 * them when steps ≥ T).
 */
export function ddimTimesteps(T: number, steps: number): number[] {
  const k = Math.max(1, Math.min(steps, T));
  if (k === 1) return [T - 1];
  const out: number[] = [];
  for (let i = 0; i < k; i++) {
    const t = Math.round((i * (T - 1)) / (k - 1));
    if (out.length === 0 || out[out.length - 1] !== t) out.push(t);
  }
  return out.reverse();
}

/** What the sampler reports after each step (for tests and progress bars). */
export interface SamplerStepInfo {
  /** Timestep the step started from. */
  readonly t: number;
  /** Timestep it went to (−1 = the final x_0). */
  readonly tPrev: number;
  /** Mean of the step (valid only during the callback). */
  readonly mean: tf.Tensor2D;
  /** Std of the noise added. */
  readonly std: number;
}

export interface RunSamplerArgs {
  /** The noise schedule the model was trained with. */
  readonly schedule: Schedule;
  /** Predicted ε for a batch x_t at integer timestep t; returns a new tensor (disposed here). */
  readonly eps: (xt: tf.Tensor2D, t: number) => tf.Tensor2D;
  /** Rows to sample. */
  readonly n: number;
  /** Row length. */
  readonly dim: number;
  /** Seeds x_T and every step's noise (unused when the draws are given: runSampler's `draws`). */
  readonly rng?: Rng;
  /** Sampler choice and settings. */
  readonly sampler: SamplerConfig;
  /** Called after each step. */
  readonly onStep?: (info: SamplerStepInfo) => void;
}

/** Where a sampling run's Gaussian draws come from (the sampler disposes what they return). */
export interface SamplerDraws {
  /** x_T. */
  initial(): tf.Tensor2D;
  /** The k-th step noise z (k counts the steps with std > 0, from 0). */
  noise(k: number): tf.Tensor2D;
}

/** The (t, tPrev) pairs the sampler visits, in order. */
function samplerPairs(s: Schedule, sampler: SamplerConfig): [number, number][] {
  const pairs: [number, number][] = [];
  if (sampler.sampler === 'ddpm') {
    for (let t = s.T - 1; t >= 0; t--) pairs.push([t, t - 1]);
  } else {
    const ts = ddimTimesteps(s.T, sampler.steps);
    ts.forEach((t, i) => pairs.push([t, i + 1 < ts.length ? ts[i + 1] : -1]));
  }
  return pairs;
}

/** How many step noises a run draws (steps with std > 0), so they can be drawn up front. */
export function samplerNoiseCount(s: Schedule, sampler: SamplerConfig): number {
  let k = 0;
  for (const [t, tPrev] of samplerPairs(s, sampler)) {
    if (sampler.sampler === 'ddpm') {
      if (t > 0) k++;
    } else {
      const a = s.alphasCumprod[t];
      const aPrev = tPrev >= 0 ? s.alphasCumprod[tPrev] : 1;
      if (sampler.eta * Math.sqrt(((1 - aPrev) / (1 - a)) * (1 - a / aPrev)) > 0) k++;
    }
  }
  return k;
}

/** Run the reverse process from x_T ~ N(0, I); returns x_0 [n, dim] (caller disposes). */
export function runSampler(args: RunSamplerArgs, draws?: SamplerDraws): tf.Tensor2D {
  const { schedule: s, n, dim, rng, sampler } = args;
  let source: SamplerDraws;
  if (draws) source = draws;
  else if (rng) {
    source = {
      initial: () => tf.tensor2d(rng.normalArray(n * dim), [n, dim]),
      noise: () => tf.tensor2d(rng.normalArray(n * dim), [n, dim]),
    };
  } else throw new Error('runSampler: an rng or the draws are needed');
  let x = source.initial();
  let drawn = 0;
  try {
    for (const [t, tPrev] of samplerPairs(s, sampler)) {
      const eps = args.eps(x, t);
      let step: StepResult;
      try {
        step =
          sampler.sampler === 'ddpm'
            ? ddpmStep(s, t, x, eps, sampler.clipX0)
            : ddimStep(s, t, tPrev, x, eps, sampler.eta, sampler.clipX0);
      } finally {
        eps.dispose();
      }
      try {
        args.onStep?.({ t, tPrev, mean: step.mean, std: step.std });
      } catch (err) {
        step.mean.dispose();
        throw err;
      }
      let next = step.mean;
      if (step.std > 0) {
        const z = source.noise(drawn++);
        next = tf.tidy(() => tf.add(step.mean, tf.mul(z, step.std)));
        z.dispose();
        step.mean.dispose();
      }
      x.dispose();
      x = next;
    }
  } catch (err) {
    x.dispose();
    throw err;
  }
  return x;
}
