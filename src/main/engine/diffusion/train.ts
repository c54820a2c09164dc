/**
 * Training of the conditional latent diffusion model (Eqs. 3–6): ε-prediction with an L2 loss at
 * uniformly drawn t, the condition concatenated to the noisy latent and randomly replaced by a
 * null embedding (classifier-free guidance), EMA weights kept for sampling, latents scaled by
 * 1/std as in latent diffusion.
 */
import * as tf from '@tensorflow/tfjs';
import type { DiffusionConfig, DiffusionConfigInput } from '../../../shared/schemas/diffusion.ts';
import { InputError, throwIfAborted } from '../errors.ts';
import type { RunControl } from '../progress.ts';
import { yieldToEventLoop } from '../progress.ts';
import type { Rng } from '../rng.ts';
import { cosineLr, makeAdam, optimStep } from '../common/optim.ts';
import { ParamSet } from '../common/params.ts';
import { checkMatrix, gatherRows } from '../common/rows.ts';
import { createDenoiserParams, denoise, denoiserLayout, dropoutSites } from './denoiser.ts';
import { LatentDiffusion, parseDiffusionConfig, scheduleFor } from './model.ts';

export interface TrainDiffusionArgs {
  /** VAE latents (μ), n×latentDim row-major. */
  readonly latents: Float32Array;
  /** Dataset embedding of each latent's dataset, n×condDim, aligned with `latents`. */
  readonly conds: Float32Array;
  /** Number of training pairs. */
  readonly n: number;
  readonly latentDim: number;
  readonly condDim: number;
  /** Config (partial configs are completed with the schema defaults). */
  readonly config: DiffusionConfig | DiffusionConfigInput;
  /** Seeds initialisation, batches, timesteps, noise and condition dropout. */
  readonly rng: Rng;
  /** Cancellation and progress. */
  readonly control?: RunControl;
}

/** Mean training loss over a window of steps. */
export interface DiffusionHistoryRecord {
  /** Last step of the window (1-based). */
  readonly step: number;
  /** Mean ε-prediction MSE over the window. */
  readonly loss: number;
}

export interface TrainDiffusionResult {
  /** The model with EMA weights (caller disposes). */
  readonly model: LatentDiffusion;
  /** Loss averaged over windows of steps (about 100 records per run). */
  readonly history: DiffusionHistoryRecord[];
}

/** Global std of all values (about their mean); 1 when degenerate. */
function globalStd(x: Float32Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  const m = s / x.length;
  let v = 0;
  for (let i = 0; i < x.length; i++) v += (x[i] - m) ** 2;
  const std = Math.sqrt(v / x.length);
  return std > 1e-12 ? std : 1;
}

/** Train a conditional latent diffusion model. Same config + seed → same weights. */
export async function trainDiffusion(args: TrainDiffusionArgs): Promise<TrainDiffusionResult> {
  const cfg = parseDiffusionConfig(args.config);
  const { n, latentDim, condDim } = args;
  checkMatrix(args.latents, n, latentDim, 'diffusion training latents');
  checkMatrix(args.conds, n, condDim, 'diffusion training conditions');
  if (cfg.condDropout >= 1) {
    throw new InputError(
      'condDropout must be < 1 to learn the conditional model',
      'diffusion config condDropout',
    );
  }

  const latentScale = cfg.scaleLatents ? 1 / globalStd(args.latents) : 1;
  const x0All = new Float32Array(args.latents.length);
  for (let i = 0; i < x0All.length; i++) x0All[i] = args.latents[i] * latentScale;
  const schedule = scheduleFor(cfg);
  const learnedNull = cfg.nullCond === 'learned';
  const defs = denoiserLayout(cfg.denoiser, latentDim, condDim, learnedNull);
  const params = createDenoiserParams(defs, args.rng.fork('diffusion-init'));
  const vars = params.variables();
  const adam = makeAdam(vars, {
    lr: cfg.lr,
    weightDecay: cfg.weightDecay,
    emaDecay: cfg.emaDecay,
  });
  const rng = args.rng.fork('diffusion-train');
  const p = params.asRecord();
  const bs = Math.min(cfg.batchSize, n);
  const sites = dropoutSites(cfg.denoiser);
  const window = Math.max(1, Math.floor(cfg.steps / 100));
  const history: DiffusionHistoryRecord[] = [];
  let perm = rng.permutation(n);
  let cursor = 0;
  let winSum = 0;
  let winCount = 0;
  let lastYield = Date.now();

  try {
    for (let step = 0; step < cfg.steps; step++) {
      throwIfAborted(args.control?.signal);
      const idx = new Int32Array(bs);
      for (let i = 0; i < bs; i++) {
        if (cursor >= n) {
          perm = rng.permutation(n);
          cursor = 0;
        }
        idx[i] = perm[cursor++];
      }
      const x0 = gatherRows(x0All, latentDim, idx);
      const c = gatherRows(args.conds, condDim, idx);
      const t = new Int32Array(bs);
      for (let i = 0; i < bs; i++) t[i] = rng.int(schedule.T);
      const noise = rng.normalArray(bs * latentDim);
      const xt = new Float32Array(bs * latentDim);
      for (let i = 0; i < bs; i++) {
        const a = schedule.sqrtAlphasCumprod[t[i]];
        const s = schedule.sqrtOneMinusAlphasCumprod[t[i]];
        for (let j = 0; j < latentDim; j++) {
          const k = i * latentDim + j;
          xt[k] = a * x0[k] + s * noise[k];
        }
      }
      const drop = new Float32Array(bs);
      for (let i = 0; i < bs; i++) drop[i] = rng.next() < cfg.condDropout ? 1 : 0;
      const masks: Float32Array[] = [];
      if (cfg.denoiser.dropout > 0) {
        const keep = 1 - cfg.denoiser.dropout;
        for (const w of sites) {
          const m = new Float32Array(bs * w);
          for (let i = 0; i < m.length; i++) m[i] = rng.next() < keep ? 1 / keep : 0;
          masks.push(m);
        }
      }
      const lr = cfg.lrSchedule === 'cosine' ? cosineLr(cfg.lr, step, cfg.steps) : cfg.lr;
      // The step reads the loss back (asynchronously), so its inputs live outside a tidy.
      const xtT = tf.tensor2d(xt, [bs, latentDim]);
      const noiseT = tf.tensor2d(noise, [bs, latentDim]);
      const condT = tf.tensor2d(c, [bs, condDim]);
      const dropT = tf.tensor2d(drop, [bs, 1]);
      const maskT = masks.map((m, i) => tf.tensor2d(m, [bs, sites[i]]));
      let loss: number;
      try {
        loss = await optimStep({
          optimizer: adam,
          vars,
          lr,
          clip: cfg.gradClip,
          stage: 'diffusion',
          step,
          loss: () => {
            const nul = learnedNull ? tf.reshape(p['null'], [1, condDim]) : tf.zeros([1, condDim]);
            const cond = tf.add(tf.mul(condT, tf.sub(1, dropT)), tf.mul(nul, dropT)) as tf.Tensor2D;
            const eps = denoise(p, cfg.denoiser, {
              xt: xtT,
              t,
              cond,
              dropoutMasks: maskT.length ? maskT : undefined,
            });
            return tf.mean(tf.square(tf.sub(eps, noiseT))) as tf.Scalar;
          },
        });
      } finally {
        tf.dispose([xtT, noiseT, condT, dropT, ...maskT]);
      }
      winSum += loss;
      winCount += 1;
      if (winCount === window || step === cfg.steps - 1) {
        history.push({ step: step + 1, loss: winSum / winCount });
        args.control?.onProgress?.({
          value: step + 1,
          max: cfg.steps,
          unit: 'step',
          label: 'diffusion',
          metrics: { loss: winSum / winCount },
        });
        winSum = 0;
        winCount = 0;
      }
      if (Date.now() - lastYield > 50) {
        await yieldToEventLoop();
        lastYield = Date.now();
      }
    }
    const emaParams = new ParamSet('diffusion');
    const names = params.names();
    const values = (await adam.emaWeights()) ?? (await adam.weights());
    try {
      names.forEach((name, i) => {
        emaParams.addValues(name, [...vars[i].shape], values[i]);
      });
    } catch (err) {
      emaParams.dispose();
      throw err;
    }
    const model = new LatentDiffusion({
      config: cfg,
      latentDim,
      condDim,
      latentScale,
      params: emaParams,
    });
    return { model, history };
  } finally {
    adam.dispose();
    params.dispose();
  }
}
