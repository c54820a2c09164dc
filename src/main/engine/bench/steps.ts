/**
 * Training-step throughput of the two heaviest stages, the weight VAE and the latent diffusion
 * model, on whatever backend is active: the number that says whether a GPU pays off. Synthetic
 * inputs of the right shapes (a zoo of random weight vectors, random latents and conditions), so
 * the bench needs no dataset and measures the compute path alone. Each measurement trains once
 * briefly to warm up (kernel compilation on webgpu, wasm start-up), then times a longer run.
 */
import * as tf from '@tensorflow/tfjs';
import type { DiffusionConfigInput } from '../../../shared/schemas/diffusion.ts';
import type { VaeConfigInput } from '../../../shared/schemas/vae.ts';
import { trainDiffusion } from '../diffusion/train.ts';
import { Rng } from '../rng.ts';
import { trainVae } from '../vae/train.ts';

/** One workload size: the standard quality preset's shapes, or a larger, GPU-sized one. */
export interface StepsWorkload {
  readonly name: string;
  /** Zoo size (VAE rows) and diffusion training pairs. */
  readonly n: number;
  /** Weights per checkpoint. */
  readonly dim: number;
  readonly vae: VaeConfigInput;
  readonly diffusion: DiffusionConfigInput;
  /** Dataset-embedding size (diffusion condition). */
  readonly condDim: number;
}

/**
 * 'standard' = `bench quality --preset standard`; 'standard-unet' the same with the 1-D UNet
 * denoiser; 'large' ≈ a small CNN zoo, paper-sized nets.
 */
export const STEPS_WORKLOADS: Readonly<Record<string, StepsWorkload>> = {
  standard: {
    name: 'standard',
    n: 1000,
    dim: 1733,
    vae: { hidden: [256], latentDim: 64, batchSize: 64 },
    diffusion: { batchSize: 64, denoiser: { width: 256, depth: 3 } },
    condDim: 64,
  },
  'standard-unet': {
    name: 'standard-unet',
    n: 1000,
    dim: 1733,
    vae: { hidden: [256], latentDim: 64, batchSize: 64 },
    diffusion: { batchSize: 64, denoiser: { kind: 'unet1d', width: 256, channels: [16, 32] } },
    condDim: 64,
  },
  large: {
    name: 'large',
    n: 1024,
    dim: 20_000,
    vae: { hidden: [1024, 512], latentDim: 256, batchSize: 256 },
    diffusion: { batchSize: 256, denoiser: { width: 1024, depth: 4 } },
    condDim: 256,
  },
};

export interface StepsResult {
  readonly workload: string;
  readonly stage: 'vae' | 'diffusion';
  /** Timed optimiser steps (warm-up excluded). */
  readonly steps: number;
  readonly seconds: number;
  readonly stepsPerSecond: number;
  /** Examples (weight vectors or latents) per second. */
  readonly examplesPerSecond: number;
  /**
   * Backend kernels per optimiser step (with `kernels`; absent otherwise). The VAE's includes its
   * per-epoch work spread over the epoch's steps.
   */
  readonly kernelsPerStep?: number;
}

/**
 * Kernels per step: the kernels of a run of `b` units minus those of `a` units, over the steps
 * between them, so set-up and teardown cancel. A unit is `stepsPerUnit` steps.
 */
async function kernelsPerStep(
  run: (units: number) => Promise<void>,
  a: number,
  b: number,
  stepsPerUnit: number,
): Promise<number> {
  const count = async (units: number) => (await tf.profile(() => run(units))).kernels.length;
  const ka = await count(a);
  const kb = await count(b);
  return (kb - ka) / ((b - a) * stepsPerUnit);
}

function now(): number {
  return performance.now() / 1000;
}

/** Time VAE training steps on `w`: `epochs` timed epochs after one warm-up epoch. */
export async function measureVaeSteps(
  w: StepsWorkload,
  epochs: number,
  opts: { kernels?: boolean } = {},
): Promise<StepsResult> {
  const rng = new Rng(7);
  const vectors = rng.normalArray(w.n * w.dim, 0, 0.1);
  const batch = w.vae.batchSize ?? 32;
  const run = async (e: number) => {
    const { vae } = await trainVae({
      vectors,
      n: w.n,
      dim: w.dim,
      config: { ...w.vae, epochs: e },
      rng: new Rng(8),
    });
    vae.dispose();
  };
  await run(1);
  const t0 = now();
  await run(epochs);
  const seconds = now() - t0;
  const perEpoch = Math.ceil(w.n / batch);
  const steps = epochs * perEpoch;
  return {
    workload: w.name,
    stage: 'vae',
    steps,
    seconds,
    stepsPerSecond: steps / seconds,
    examplesPerSecond: (steps * batch) / seconds,
    ...(opts.kernels ? { kernelsPerStep: await kernelsPerStep(run, 1, 2, perEpoch) } : {}),
  };
}

/** Time diffusion training steps on `w`: `steps` timed steps after a short warm-up run. */
export async function measureDiffusionSteps(
  w: StepsWorkload,
  steps: number,
  opts: { kernels?: boolean } = {},
): Promise<StepsResult> {
  const rng = new Rng(9);
  const latentDim = w.vae.latentDim ?? 64;
  const latents = rng.normalArray(w.n * latentDim);
  const conds = rng.normalArray(w.n * w.condDim);
  const batch = w.diffusion.batchSize ?? 64;
  const run = async (s: number) => {
    const { model } = await trainDiffusion({
      latents,
      conds,
      n: w.n,
      latentDim,
      condDim: w.condDim,
      config: { ...w.diffusion, steps: s },
      rng: new Rng(10),
    });
    model.dispose();
  };
  await run(Math.min(20, steps));
  const t0 = now();
  await run(steps);
  const seconds = now() - t0;
  return {
    workload: w.name,
    stage: 'diffusion',
    steps,
    seconds,
    stepsPerSecond: steps / seconds,
    examplesPerSecond: (steps * batch) / seconds,
    ...(opts.kernels ? { kernelsPerStep: await kernelsPerStep(run, 2, 6, 1) } : {}),
  };
}
