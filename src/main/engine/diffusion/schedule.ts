/**
 * Noise schedules of the forward diffusion process and every derived coefficient, in float64 on
 * the CPU: the samplers take per-step scalars from here, so the tensors only ever see
 * well-rounded float32 constants.
 */
import { InputError } from '../errors.ts';

/** β schedule kinds: latent-diffusion "linear" (linear in √β) or improved-DDPM cosine. */
export type ScheduleKind = 'linear' | 'cosine';

export interface ScheduleOptions {
  /** β_0 of the linear schedule (default 0.0015, latent diffusion). */
  readonly linearStart?: number;
  /** β_{T−1} of the linear schedule (default 0.0155). */
  readonly linearEnd?: number;
  /** Offset s of the cosine schedule (default 0.008). */
  readonly cosineS?: number;
}

/** A diffusion schedule with T steps, indexed t = 0..T−1 (t = 0 is the least noisy). */
export interface Schedule {
  readonly T: number;
  readonly kind: ScheduleKind;
  /** β_t. */
  readonly betas: Float64Array;
  /** α_t = 1 − β_t. */
  readonly alphas: Float64Array;
  /** ᾱ_t = Π_{s≤t} α_s. */
  readonly alphasCumprod: Float64Array;
  /** ᾱ_{t−1}, with ᾱ_{−1} = 1. */
  readonly alphasCumprodPrev: Float64Array;
  /** √ᾱ_t. */
  readonly sqrtAlphasCumprod: Float64Array;
  /** √(1 − ᾱ_t). */
  readonly sqrtOneMinusAlphasCumprod: Float64Array;
  /** Posterior variance β̃_t = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t) of q(x_{t−1} | x_t, x_0). */
  readonly posteriorVariance: Float64Array;
  /** Coefficient of x_0 in the posterior mean: β_t √ᾱ_{t−1} / (1 − ᾱ_t). */
  readonly posteriorMeanCoef1: Float64Array;
  /** Coefficient of x_t in the posterior mean: (1 − ᾱ_{t−1}) √α_t / (1 − ᾱ_t). */
  readonly posteriorMeanCoef2: Float64Array;
}

/** Build a schedule of T steps. Same arguments → bitwise the same numbers. */
export function makeSchedule(
  T: number,
  kind: ScheduleKind = 'linear',
  opts: ScheduleOptions = {},
): Schedule {
  if (!Number.isInteger(T) || T < 2)
    throw new InputError(`T must be an integer ≥ 2, got ${T}`, 'timesteps');
  const betas = new Float64Array(T);
  if (kind === 'linear') {
    const a = Math.sqrt(opts.linearStart ?? 0.0015);
    const b = Math.sqrt(opts.linearEnd ?? 0.0155);
    if (!(a > 0 && b < 1 && a <= b)) {
      throw new InputError('need 0 < linearStart ≤ linearEnd < 1', 'schedule');
    }
    for (let t = 0; t < T; t++) {
      const r = a + ((b - a) * t) / (T - 1);
      betas[t] = r * r;
    }
  } else {
    const s = opts.cosineS ?? 0.008;
    const f = (t: number) => Math.cos(((t / T + s) / (1 + s)) * (Math.PI / 2)) ** 2;
    for (let t = 0; t < T; t++) {
      betas[t] = Math.min(1 - f(t + 1) / f(t), 0.999);
    }
  }
  const alphas = new Float64Array(T);
  const alphasCumprod = new Float64Array(T);
  const alphasCumprodPrev = new Float64Array(T);
  const sqrtAlphasCumprod = new Float64Array(T);
  const sqrtOneMinusAlphasCumprod = new Float64Array(T);
  const posteriorVariance = new Float64Array(T);
  const posteriorMeanCoef1 = new Float64Array(T);
  const posteriorMeanCoef2 = new Float64Array(T);
  let prod = 1;
  for (let t = 0; t < T; t++) {
    alphas[t] = 1 - betas[t];
    alphasCumprodPrev[t] = prod;
    prod *= alphas[t];
    alphasCumprod[t] = prod;
    sqrtAlphasCumprod[t] = Math.sqrt(prod);
    sqrtOneMinusAlphasCumprod[t] = Math.sqrt(1 - prod);
    const prev = alphasCumprodPrev[t];
    posteriorVariance[t] = (betas[t] * (1 - prev)) / (1 - prod);
    posteriorMeanCoef1[t] = (betas[t] * Math.sqrt(prev)) / (1 - prod);
    posteriorMeanCoef2[t] = ((1 - prev) * Math.sqrt(alphas[t])) / (1 - prod);
  }
  return {
    T,
    kind,
    betas,
    alphas,
    alphasCumprod,
    alphasCumprodPrev,
    sqrtAlphasCumprod,
    sqrtOneMinusAlphasCumprod,
    posteriorVariance,
    posteriorMeanCoef1,
    posteriorMeanCoef2,
  };
}
