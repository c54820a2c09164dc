/**
 * Training of the weight VAE (Eq. 1, optionally Eq. 7). The objective per vector is
 * Σ_dims recon + klWeight·KL (+ predictorWeight·‖g(w) − g(ŵ)‖²), i.e. the per-element error is
 * summed over the vector as in the official autoencoder, so the paper's KL weight of 1e-6 keeps
 * its meaning. p-diff-style noise on the inputs and on the latents makes the decoder robust to
 * the small errors the diffusion model will make in latent space.
 */
import * as tf from '@tensorflow/tfjs';
import type { VaeConfig, VaeConfigInput } from '../../../shared/schemas/vae.ts';
import { VaeConfig as VaeConfigSchema } from '../../../shared/schemas/vae.ts';
import { InputError, NumericError, parseConfig, throwIfAborted } from '../errors.ts';
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
import { GPU_NOISE } from '../kernels/webgpu.ts';
import {
  joinShardGroup,
  openShardGroup,
  resolveShards,
  shardThreads,
  type ShardGroup,
  type ShardGroupInfo,
} from '../common/data-parallel.ts';
import { checkMatrix, gatherRows } from '../common/rows.ts';
import { computeNormStats, WeightVae } from './model.ts';

export interface TrainVaeArgs {
  /** The zoo: n weight vectors of length dim, row-major. */
  readonly vectors: Float32Array;
  /** Number of vectors. */
  readonly n: number;
  /** Length of each vector. */
  readonly dim: number;
  /** VAE config (partial configs are completed with the schema defaults). */
  readonly config: VaeConfig | VaeConfigInput;
  /** Seeds initialisation, shuffling and all noise. */
  readonly rng: Rng;
  /** Cancellation and progress. */
  readonly control?: RunControl;
  /**
   * Optional frozen accuracy predictor g for Eq. 7: maps a batch of weight vectors (weight space,
   * [B, dim]) to any tensor of per-vector outputs. Its own variables are not trained.
   */
  readonly predictor?: (w: tf.Tensor2D) => tf.Tensor;
  /** Set in a data-parallel replica thread only: the group it computes its shards in. */
  readonly replica?: ShardGroupInfo;
}

/** One epoch of training, averaged over its batches. */
export interface VaeEpochRecord {
  /** Epoch number, from 1. */
  readonly epoch: number;
  /** Objective actually minimised (per vector). */
  readonly loss: number;
  /** Mean per-element reconstruction error (MSE or L1) in normalised units. */
  readonly recon: number;
  /** Mean KL divergence per vector (nats). */
  readonly kl: number;
  /** Mean predictor-consistency term, when a predictor is used. */
  readonly predictor?: number;
}

export interface TrainVaeResult {
  /** The trained VAE (caller disposes). */
  readonly vae: WeightVae;
  /** Per-epoch averages. */
  readonly history: VaeEpochRecord[];
  /** Data-parallel shards each step's batch was cut into (config `shards`, resolved). */
  readonly shards: number;
  /** Threads that computed the shards (1: one after the other, here). */
  readonly threads: number;
}

/** Scalars a VAE step reports besides its loss: reconstruction, KL, predictor term. */
const VAE_REPORTED = 3;

/** Train a weight VAE on a zoo. Same config + seed → same weights. */
export async function trainVae(args: TrainVaeArgs): Promise<TrainVaeResult> {
  const cfg = parseConfig(VaeConfigSchema, args.config, 'vae config');
  const { n, dim } = args;
  checkMatrix(args.vectors, n, dim, 'vae training vectors');
  if (cfg.predictorWeight > 0 && !args.predictor) {
    throw new InputError('predictorWeight > 0 needs a predictor', 'vae config predictorWeight');
  }

  const norm = computeNormStats(args.vectors, n, dim, cfg.normalise, cfg.stdFloor);
  const data = new Float32Array(args.vectors.length);
  for (let r = 0; r < n; r++) {
    const o = r * dim;
    for (let j = 0; j < dim; j++) data[o + j] = (args.vectors[o + j] - norm.mean[j]) / norm.std[j];
  }

  const vae = WeightVae.create(cfg, dim, norm, args.rng.fork('vae-init'));
  const vars = vae.variables();
  const adamOpts = {
    lr: cfg.lr,
    beta1: cfg.beta1,
    beta2: cfg.beta2,
    weightDecay: cfg.weightDecay,
  };
  const adam = makeAdam(vars, adamOpts, true);
  const rng = args.rng.fork('vae-train');
  const net = vae.network();
  const p = vae.paramRecord();
  const latent = cfg.latentDim;
  const batchesPerEpoch = Math.ceil(n / Math.min(cfg.batchSize, n));
  const totalSteps = cfg.epochs * batchesPerEpoch;
  const history: VaeEpochRecord[] = [];
  const usePredictor = cfg.predictorWeight > 0 && args.predictor !== undefined;
  const weightCount = vars.reduce((k, v) => k + v.size, 0);
  const shards = args.replica?.shards ?? resolveShards(cfg.shards, Math.min(cfg.batchSize, n));
  let group: ShardGroup | null = null;
  if (args.replica) group = joinShardGroup(args.replica);
  else if (shards > 1) {
    group = openShardGroup({
      stage: 'vae',
      args: { vectors: args.vectors, n, dim, config: cfg },
      seed: args.rng.seed,
      shards,
      // A predictor is a closure no worker can receive: its shards run here, one after another.
      threads: usePredictor ? 1 : shardThreads(shards),
      length: weightCount + 1 + VAE_REPORTED,
      signal: args.control?.signal,
    });
  }
  /**
   * The loss of r rows (x clean, xin the encoder's input, e and eL the latent noise), with its
   * parts reported; `weighted` scales a shard's terms by its share of the batch.
   */
  const batchLoss = (
    x: tf.Tensor2D,
    xin: tf.Tensor2D,
    e: tf.Tensor2D,
    eL: tf.Tensor2D | null,
    r: number,
    weighted: (v: tf.Scalar) => tf.Scalar,
    report: (s: tf.Scalar) => void,
  ): tf.Scalar => {
    const { mu, logvar } = net.encode(p, xin);
    let z: tf.Tensor2D = tf.add(mu, tf.mul(tf.exp(tf.mul(logvar, 0.5)), e));
    if (eL) z = tf.add(z, eL);
    const xhat = net.decode(p, z);
    const diff = tf.sub(xhat, x);
    const recon = weighted(cfg.recon === 'l1' ? tf.mean(tf.abs(diff)) : tf.mean(tf.square(diff)));
    const kl = weighted(
      tf.mul(
        -0.5,
        tf.mean(tf.sum(tf.sub(tf.add(1, logvar), tf.add(tf.square(mu), tf.exp(logvar))), 1)),
      ),
    );
    let total = tf.add(tf.mul(recon, dim), tf.mul(kl, cfg.klWeight));
    let pred: tf.Scalar = tf.scalar(0);
    if (usePredictor && args.predictor) {
      const gw = args.predictor(vae.denormalise(x));
      const gr = args.predictor(vae.denormalise(xhat));
      pred = weighted(tf.mean(tf.sum(tf.reshape(tf.square(tf.sub(gw, gr)), [r, -1]), 1)));
      total = tf.add(total, tf.mul(pred, cfg.predictorWeight));
    }
    report(recon);
    report(kl);
    report(pred);
    return total as tf.Scalar;
  };
  // On webgpu whole steps run on the GPU as replayed graphs (common/device-step.ts), one per
  // batch size (the last batch of an epoch may be smaller).
  const onDevice = !group && useDeviceSteps() && adam instanceof Adam ? adam : null;
  // There the normalised vectors stay on the GPU (a step gathers its rows by index) and the input
  // noise is drawn there (GPU_NOISE, keyed by this seed and the step), so a step uploads only
  // its row indices and latent noise: the host drew batch × dim normals a step before.
  const dataT = onDevice ? tf.tensor2d(data, [n, dim]) : null;
  const noiseKey = onDevice ? args.rng.fork('vae-gpu-noise').int(0x7fffffff) : 0;
  const deviceSteps = new Map<number, DeviceStep>();
  const deviceStep = (optimizer: Adam, b: number): DeviceStep => {
    let d = deviceSteps.get(b);
    if (!d) {
      const spec = (w: number) => ({ shape: [b, w], dtype: 'float32' as const });
      d = new DeviceStep({
        vars,
        optimizer,
        stage: 'vae',
        resident: dataT ? [dataT] : [],
        inputs: [
          { shape: [b], dtype: 'int32' },
          { shape: [2], dtype: 'int32' },
          spec(latent),
          ...(cfg.latentNoise > 0 ? [spec(latent)] : []),
        ],
        loss: ([idx, seed, e, eL], report) => {
          if (!dataT) throw new Error('vae: no data on the device');
          const x = tf.gather(dataT, idx) as tf.Tensor2D;
          const xin =
            cfg.inputNoise > 0
              ? (tf.add(
                  x,
                  tf
                    .engine()
                    .runKernel(
                      GPU_NOISE,
                      { seed },
                      { shape: [b, dim], std: cfg.inputNoise },
                    ) as tf.Tensor,
                ) as tf.Tensor2D)
              : x;
          return batchLoss(
            x,
            xin,
            e as tf.Tensor2D,
            (eL as tf.Tensor2D | undefined) ?? null,
            b,
            (v) => v,
            report,
          );
        },
      });
      deviceSteps.set(b, d);
    }
    return d;
  };
  const disposeDeviceSteps = () => {
    for (const d of deviceSteps.values()) d.dispose();
    dataT?.dispose();
  };
  let step = 0;
  let lastYield = Date.now();
  const pipeline = new StepPipeline();

  try {
    for (let epoch = 1; epoch <= cfg.epochs; epoch++) {
      throwIfAborted(args.control?.signal);
      const perm = rng.permutation(n);
      const bs = Math.min(cfg.batchSize, n);
      let sumLoss = 0;
      let sumRecon = 0;
      let sumKl = 0;
      let sumPred = 0;
      let rows = 0;
      const stepRows = new Map<number, number>();
      /** A finished step's loss and parts into the epoch's sums (weighted by its rows). */
      const add = (at: number, lossValue: number, partValues: readonly number[]) => {
        const b = stepRows.get(at) ?? 0;
        stepRows.delete(at);
        const [reconV, klV, predV] = partValues;
        if (!Number.isFinite(reconV) || !Number.isFinite(klV)) {
          throw new NumericError('vae', at, `recon = ${reconV}, kl = ${klV}`);
        }
        sumLoss += lossValue * b;
        sumRecon += reconV * b;
        sumKl += klV * b;
        sumPred += predV * b;
        rows += b;
      };
      for (let s = 0; s < n; s += bs) {
        const idx = perm.subarray(s, Math.min(n, s + bs));
        const b = idx.length;
        const xb = onDevice ? new Float32Array(0) : gatherRows(data, dim, idx);
        // b·dim draws a step (110k at the standard shapes): the polar method, not Box-Muller, whose
        // sin/cos cost more CPU a step than the input layer's product. On the device: GPU_NOISE.
        const noiseIn =
          cfg.inputNoise > 0 && !onDevice ? rng.fastNormalArray(b * dim, 0, cfg.inputNoise) : null;
        const eps = rng.normalArray(b * latent);
        const epsL = cfg.latentNoise > 0 ? rng.normalArray(b * latent, 0, cfg.latentNoise) : null;
        const lr = cfg.lrSchedule === 'cosine' ? cosineLr(cfg.lr, step, totalSteps) : cfg.lr;
        /** Rows [lo, hi) of this batch as tensors; their loss and parts weighted by hi−lo of b. */
        const rowsOf = (lo: number, hi: number) => {
          const r = hi - lo;
          const w = r / b;
          if (r === 0) return emptyShard(vars, VAE_REPORTED);
          // The step reads the loss back (asynchronously), so its inputs live outside a tidy.
          const inputs = tf.tidy(() => {
            const x = tf.tensor2d(xb.subarray(lo * dim, hi * dim), [r, dim]);
            const xin: tf.Tensor2D = noiseIn
              ? tf.add(x, tf.tensor2d(noiseIn.subarray(lo * dim, hi * dim), [r, dim]))
              : x;
            const e = tf.tensor2d(eps.subarray(lo * latent, hi * latent), [r, latent]);
            const eL = epsL
              ? tf.tensor2d(epsL.subarray(lo * latent, hi * latent), [r, latent])
              : null;
            return { x, xin, e, ...(eL ? { eL } : {}) };
          });
          const { x, xin, e, eL } = inputs;
          const weighted = (v: tf.Scalar): tf.Scalar => (r === b ? v : tf.mul(v, w));
          const loss = (report: (s: tf.Scalar) => void): tf.Scalar =>
            batchLoss(x, xin, e, eL ?? null, r, weighted, report);
          return { loss, dispose: () => tf.dispose(inputs) };
        };
        if (onDevice) {
          // One step in flight within an epoch: submitted before the previous loss is awaited.
          stepRows.set(step, b);
          const done = await pipeline.push(
            deviceStep(onDevice, b).submit(
              [Int32Array.from(idx), Int32Array.of(noiseKey, step), eps, ...(epsL ? [epsL] : [])],
              { lr, step },
            ),
          );
          if (done) add(done.step, done.loss, done.reported);
        } else {
          const done = await batchStep({
            optimizer: adam,
            vars,
            lr,
            stage: 'vae',
            step,
            rows: b,
            group,
            rowsOf,
          });
          stepRows.set(step, b);
          add(step, done.loss, done.reported);
        }
        step += 1;
        if (Date.now() - lastYield > 50) {
          await yieldToEventLoop();
          throwIfAborted(args.control?.signal);
          lastYield = Date.now();
        }
      }
      const last = await pipeline.flush();
      if (last) add(last.step, last.loss, last.reported);
      const rec: VaeEpochRecord = {
        epoch,
        loss: sumLoss / rows,
        recon: sumRecon / rows,
        kl: sumKl / rows,
        ...(usePredictor ? { predictor: sumPred / rows } : {}),
      };
      history.push(rec);
      args.control?.onProgress?.({
        value: epoch,
        max: cfg.epochs,
        unit: 'epoch',
        label: 'vae',
        metrics: { loss: rec.loss, recon: rec.recon, kl: rec.kl },
      });
      if (Date.now() - lastYield > 50) {
        await yieldToEventLoop();
        lastYield = Date.now();
      }
    }
  } catch (err) {
    await group?.close();
    disposeDeviceSteps();
    adam.dispose();
    vae.dispose();
    throw err;
  }
  await group?.close();
  disposeDeviceSteps();
  adam.dispose();
  return { vae, history, shards, threads: group?.threads ?? 1 };
}
