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
import {
  Adam,
  batchStep,
  cosineLr,
  emptyShard,
  makeAdam,
  useDeviceSteps,
} from '../common/optim.ts';
import { DeviceStep, StepPipeline } from '../common/device-step.ts';
import { sinusoidalEmbeddingValues } from '../common/embedding.ts';
import {
  joinShardGroup,
  openShardGroup,
  resolveShards,
  shardThreads,
  type ShardGroup,
  type ShardGroupInfo,
} from '../common/data-parallel.ts';
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
  /** Set in a data-parallel replica thread only: the group it computes its shards in. */
  readonly replica?: ShardGroupInfo;
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
  /** Data-parallel shards each step's batch was cut into (config `shards`, resolved). */
  readonly shards: number;
  /** Threads that computed the shards (1: one after the other, here). */
  readonly threads: number;
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
  const adam = makeAdam(
    vars,
    { lr: cfg.lr, weightDecay: cfg.weightDecay, emaDecay: cfg.emaDecay },
    true,
  );
  const rng = args.rng.fork('diffusion-train');
  const p = params.asRecord();
  const bs = Math.min(cfg.batchSize, n);
  const weightCount = vars.reduce((k, v) => k + v.size, 0);
  const shards = args.replica?.shards ?? resolveShards(cfg.shards, bs);
  let group: ShardGroup | null = null;
  if (args.replica) group = joinShardGroup(args.replica);
  else if (shards > 1) {
    group = openShardGroup({
      stage: 'diffusion',
      args: { latents: args.latents, conds: args.conds, n, latentDim, condDim, config: cfg },
      seed: args.rng.seed,
      shards,
      threads: shardThreads(shards),
      length: weightCount + 1,
      signal: args.control?.signal,
    });
  }
  const sites = dropoutSites(cfg.denoiser);
  /** ε-prediction MSE of a batch (the eager shards and the device step share it). */
  const batchLoss = (
    xt: tf.Tensor2D,
    noise: tf.Tensor2D,
    condIn: tf.Tensor2D,
    drop: tf.Tensor2D,
    t: ArrayLike<number> | tf.Tensor2D,
    masks: tf.Tensor2D[],
  ): tf.Scalar => {
    const nul = learnedNull ? tf.reshape(p['null'], [1, condDim]) : tf.zeros([1, condDim]);
    const cond = tf.add(tf.mul(condIn, tf.sub(1, drop)), tf.mul(nul, drop)) as tf.Tensor2D;
    const eps = denoise(p, cfg.denoiser, {
      xt,
      t,
      cond,
      dropoutMasks: masks.length ? masks : undefined,
    });
    return tf.mean(tf.square(tf.sub(eps, noise))) as tf.Scalar;
  };
  // On webgpu the whole step runs on the GPU as a replayed graph (common/device-step.ts).
  const device =
    !group && useDeviceSteps() && adam instanceof Adam
      ? new DeviceStep({
          vars,
          optimizer: adam,
          stage: 'diffusion',
          inputs: [
            { shape: [bs, latentDim], dtype: 'float32' },
            { shape: [bs, latentDim], dtype: 'float32' },
            { shape: [bs, condDim], dtype: 'float32' },
            { shape: [bs, 1], dtype: 'float32' },
            { shape: [bs, cfg.denoiser.timeEmbDim], dtype: 'float32' },
            ...(cfg.denoiser.dropout > 0 ? sites : []).map((w) => ({
              shape: [bs, w],
              dtype: 'float32' as const,
            })),
          ],
          loss: ([xt, noise, cond, drop, tEmb, ...masks]) =>
            batchLoss(
              xt as tf.Tensor2D,
              noise as tf.Tensor2D,
              cond as tf.Tensor2D,
              drop as tf.Tensor2D,
              tEmb as tf.Tensor2D,
              masks as tf.Tensor2D[],
            ),
        })
      : null;
  const window = Math.max(1, Math.floor(cfg.steps / 100));
  const history: DiffusionHistoryRecord[] = [];
  let perm = rng.permutation(n);
  let cursor = 0;
  let winSum = 0;
  let winCount = 0;
  let lastYield = Date.now();

  const pipeline = new StepPipeline();
  /** Step `step`'s loss into the windowed history and progress. */
  const record = (step: number, loss: number) => {
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
  };
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
      /** Rows [lo, hi) of this step's batch as tensors, and their loss weighted by hi−lo of bs. */
      const rowsOf = (lo: number, hi: number) => {
        const r = hi - lo;
        if (r === 0) return emptyShard(vars, 0);
        const inputs = {
          xt: tf.tensor2d(xt.subarray(lo * latentDim, hi * latentDim), [r, latentDim]),
          noise: tf.tensor2d(noise.subarray(lo * latentDim, hi * latentDim), [r, latentDim]),
          cond: tf.tensor2d(c.subarray(lo * condDim, hi * condDim), [r, condDim]),
          drop: tf.tensor2d(drop.subarray(lo, hi), [r, 1]),
          masks: masks.map((m, i) =>
            tf.tensor2d(m.subarray(lo * sites[i], hi * sites[i]), [r, sites[i]]),
          ),
        };
        const loss = (_report: (s: tf.Scalar) => void): tf.Scalar => {
          const mse = batchLoss(
            inputs.xt,
            inputs.noise,
            inputs.cond,
            inputs.drop,
            r === bs ? t : t.subarray(lo, hi),
            inputs.masks,
          );
          return r === bs ? mse : tf.mul(mse, r / bs);
        };
        const dispose = () =>
          tf.dispose([inputs.xt, inputs.noise, inputs.cond, inputs.drop, ...inputs.masks]);
        return { loss, dispose };
      };
      if (device) {
        // One step in flight: this step is submitted before the previous one's loss is awaited.
        const done = await pipeline.push(
          device.submit(
            [xt, noise, c, drop, sinusoidalEmbeddingValues(t, cfg.denoiser.timeEmbDim), ...masks],
            { lr, clip: cfg.gradClip, step },
          ),
        );
        if (done) record(done.step, done.loss);
      } else {
        // The step reads the loss back (asynchronously), so its inputs live outside a tidy.
        const { loss } = await batchStep({
          optimizer: adam,
          vars,
          lr,
          clip: cfg.gradClip,
          stage: 'diffusion',
          step,
          rows: bs,
          group,
          rowsOf,
        });
        record(step, loss);
      }
      if (Date.now() - lastYield > 50) {
        await yieldToEventLoop();
        lastYield = Date.now();
      }
    }
    const last = await pipeline.flush();
    if (last) record(last.step, last.loss);
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
    return { model, history, shards, threads: group?.threads ?? 1 };
  } finally {
    await group?.close();
    device?.dispose();
    adam.dispose();
    params.dispose();
  }
}
