/**
 * Training-step throughput of the two heaviest stages, the weight VAE and the latent diffusion
 * model, on whatever backend is active: the number that says whether a GPU pays off. Synthetic
 * inputs of the right shapes (a zoo of random weight vectors, random latents and conditions), so
 * the bench needs no dataset and measures the compute path alone. Each measurement trains once
 * briefly to warm up (kernel compilation on webgpu, wasm start-up), then times a longer run.
 */
import * as tf from '@tensorflow/tfjs';
import { graphStats } from '../kernels/webgpu-graph.ts';
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
  /** Data-parallel shards per step, and the threads that computed them. */
  readonly shards: number;
  readonly threads: number;
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
  /**
   * Step graphs (webgpu, kernels/webgpu-graph.ts), in the timed runs: the share of steps replayed
   * rather than run through tfjs, and the kernels a replayed step dispatches. Absent when no step
   * was replayed.
   */
  readonly graph?: { readonly replayedShare: number; readonly kernelsPerStep: number };
}

/** `steadySeconds` with the step graphs' counters over the same runs. */
async function timedWithGraphs(
  run: (units: number) => Promise<void>,
  units: number,
  stepsPerUnit: number,
): Promise<{ seconds: number; graph?: StepsResult['graph'] }> {
  const s0 = { ...graphStats };
  const seconds = await steadySeconds(run, units);
  const replayed = graphStats.replayed - s0.replayed;
  if (replayed === 0) return { seconds };
  return {
    seconds,
    graph: {
      // The timed runs are one of `units` and one of 2·units.
      replayedShare: replayed / (3 * units * stepsPerUnit),
      kernelsPerStep: (graphStats.kernelsReplayed - s0.kernelsReplayed) / replayed,
    },
  };
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

/** Options of the step measurements. */
export interface StepsOptions {
  /** Also count backend kernels per step. */
  readonly kernels?: boolean;
  /** Data-parallel shards (config `shards`); default: the workload's (auto). */
  readonly shards?: number | 'auto';
}

/**
 * Seconds of `units` units of steady training: a run of 2·units minus a run of `units`, so what
 * every run pays once (model set-up, the shard threads' start-up, ~1 s) cancels.
 */
async function steadySeconds(
  run: (units: number) => Promise<void>,
  units: number,
): Promise<number> {
  const t0 = now();
  await run(units);
  const t1 = now();
  await run(2 * units);
  const t2 = now();
  return Math.max(1e-9, t2 - t1 - (t1 - t0));
}

/** Time VAE training steps on `w`: `epochs` timed epochs after one warm-up epoch. */
export async function measureVaeSteps(
  w: StepsWorkload,
  epochs: number,
  opts: StepsOptions = {},
): Promise<StepsResult> {
  const rng = new Rng(7);
  const vectors = rng.normalArray(w.n * w.dim, 0, 0.1);
  const batch = w.vae.batchSize ?? 32;
  let used = { shards: 1, threads: 1 };
  const run = async (e: number) => {
    const { vae, shards, threads } = await trainVae({
      vectors,
      n: w.n,
      dim: w.dim,
      config: { ...w.vae, epochs: e, ...(opts.shards ? { shards: opts.shards } : {}) },
      rng: new Rng(8),
    });
    used = { shards, threads };
    vae.dispose();
  };
  await run(1);
  const perEpoch = Math.ceil(w.n / batch);
  const { seconds, graph } = await timedWithGraphs(run, epochs, perEpoch);
  const steps = epochs * perEpoch;
  return {
    workload: w.name,
    stage: 'vae',
    ...used,
    steps,
    seconds,
    stepsPerSecond: steps / seconds,
    examplesPerSecond: (steps * batch) / seconds,
    ...(opts.kernels ? { kernelsPerStep: await kernelsPerStep(run, 1, 2, perEpoch) } : {}),
    ...(graph ? { graph } : {}),
  };
}

/** Time diffusion training steps on `w`: `steps` timed steps after a short warm-up run. */
export async function measureDiffusionSteps(
  w: StepsWorkload,
  steps: number,
  opts: StepsOptions = {},
): Promise<StepsResult> {
  const rng = new Rng(9);
  const latentDim = w.vae.latentDim ?? 64;
  const latents = rng.normalArray(w.n * latentDim);
  const conds = rng.normalArray(w.n * w.condDim);
  const batch = w.diffusion.batchSize ?? 64;
  let used = { shards: 1, threads: 1 };
  const run = async (s: number) => {
    const { model, shards, threads } = await trainDiffusion({
      latents,
      conds,
      n: w.n,
      latentDim,
      condDim: w.condDim,
      config: { ...w.diffusion, steps: s, ...(opts.shards ? { shards: opts.shards } : {}) },
      rng: new Rng(10),
    });
    used = { shards, threads };
    model.dispose();
  };
  await run(Math.min(20, steps));
  const { seconds, graph } = await timedWithGraphs(run, steps, 1);
  return {
    workload: w.name,
    stage: 'diffusion',
    ...used,
    steps,
    seconds,
    stepsPerSecond: steps / seconds,
    examplesPerSecond: (steps * batch) / seconds,
    ...(opts.kernels ? { kernelsPerStep: await kernelsPerStep(run, 2, 6, 1) } : {}),
    ...(graph ? { graph } : {}),
  };
}
