/**
 * The dataset encoder of D2NWG (§3.3): a support set of K classes × n feature vectors becomes one
 * condition vector for the latent diffusion model. Trained CLIP-style (Eq. 2) so that a dataset's
 * embedding points at the VAE latents of the weights trained on it. Three families (see
 * EncoderKind): the paper's two stacked Set Transformers, App. E's MLP, and an order-aware variant
 * that keeps the K class embeddings in output order (what an unseen class tuple needs).
 */
import * as tf from '@tensorflow/tfjs';
import { rowsPerDeviceBuffer } from '../backend-webgpu.ts';
import {
  EncoderConfigSchema,
  type EncoderConfig,
  type EncoderKind,
} from '../../../shared/schemas/encoder.ts';
import { InputError, throwIfAborted } from '../errors.ts';
import { readSafetensors, writeSafetensors, fromF32, toF32 } from '../formats/safetensors.ts';
import { yieldToEventLoop, type RunControl } from '../progress.ts';
import { Rng } from '../rng.ts';
import { readAndDispose, readF32 } from '../common/readback.ts';
import { Adam, makeAdam, optimStep, useDeviceSteps } from '../common/optim.ts';
import { DeviceStep, StepPipeline } from '../common/device-step.ts';
import {
  ParamStore,
  createDense,
  createIsab,
  createLayerNorm,
  createPma,
  createSab,
  dense,
  isab,
  layerNorm,
  pma,
  sab,
} from './blocks.ts';
import { errorMessage } from '../../../shared/errors.ts';

/** Support sets embedded per forward pass at most (embedBatch). */
const EMBED_CHUNK_SETS = 1024;
/** Bytes of intermediates per input byte of a set, for sizing chunks to a GPU's buffer limits. */
const EMBED_INTERMEDIATE_FACTOR = 16;
/**
 * Input bytes × EMBED_INTERMEDIATE_FACTOR of one forward pass at most, on every backend: a
 * thousand sets of 100 samples per class in one pass (the standard zoo with `perClass` 100)
 * exhausted the wasm heap, which aborts the process without a message.
 */
const EMBED_CHUNK_BYTES = 256 * 1024 * 1024;

/** Support sets of `setSize` values embedded per forward pass (embedBatch). */
export function embedChunkSets(setSize: number): number {
  const bytesPerSet = setSize * 4 * EMBED_INTERMEDIATE_FACTOR;
  const byHeap = Math.max(1, Math.floor(EMBED_CHUNK_BYTES / bytesPerSet));
  return rowsPerDeviceBuffer(bytesPerSet, Math.min(EMBED_CHUNK_SETS, byHeap));
}
/** Fixed input geometry of an encoder: K classes, n samples per class, d features. */
export interface EncoderShape {
  /** Number of classes K of the support sets (the ordered and MLP kinds depend on it). */
  readonly numClasses: number;
  /** Samples per class n. */
  readonly perClass: number;
  /** Feature dimension d. */
  readonly featDim: number;
  /** Dimension of the VAE latents the CLIP head aligns with. */
  readonly latentDim: number;
}

/** Mean and std per latent dimension, used to standardise latents before the CLIP loss. */
interface LatentStats {
  readonly mean: Float32Array;
  readonly std: Float32Array;
}

const FORMAT = 'd2nwg-encoder/1';

/** A trained dataset encoder; owns its tensors until dispose(). */
export class DatasetEncoder {
  readonly embedDim: number;
  readonly kind: EncoderKind;

  constructor(
    readonly config: EncoderConfig,
    readonly shape: EncoderShape,
    /** Trainable parameters (owned). */
    readonly params: ParamStore,
    private readonly latentStats: LatentStats,
  ) {
    this.embedDim = config.embedDim;
    this.kind = config.kind;
  }

  /** Build a freshly initialised encoder (seeded). */
  static create(config: EncoderConfig, shape: EncoderShape, rng: Rng): DatasetEncoder {
    const c = EncoderConfigSchema.parse(config);
    if (c.dModel % c.heads !== 0) {
      throw new InputError(
        `dModel ${c.dModel} must be divisible by heads ${c.heads}`,
        'encoder.dModel',
      );
    }
    const ps = new ParamStore('encoder');
    const { numClasses: k, perClass: n, featDim: d, latentDim } = shape;
    const dm = c.dModel;
    if (c.kind === 'mlp') {
      createDense(ps, 'mlp0', k * n * d, dm, rng);
      createDense(ps, 'out', dm, c.embedDim, rng);
    } else {
      // ISAB only pays off when a class has more samples than inducing points; below that a
      // plain SAB is cheaper and sees every pair (both are permutation-equivariant).
      if (useIsab(c, n)) {
        createIsab(ps, 'intra.b0', d, dm, c.heads, c.inducing, rng);
        createIsab(ps, 'intra.b1', dm, dm, c.heads, c.inducing, rng);
      } else {
        createSab(ps, 'intra.b0', d, dm, c.heads, rng);
        createSab(ps, 'intra.b1', dm, dm, c.heads, rng);
      }
      createPma(ps, 'intra.pma', dm, c.heads, 1, rng);
      if (c.kind === 'set-transformer') {
        createSab(ps, 'inter.sab0', dm, dm, c.heads, rng);
        createSab(ps, 'inter.sab1', dm, dm, c.heads, rng);
        createPma(ps, 'inter.pma', dm, c.heads, 1, rng);
        createDense(ps, 'out', dm, c.embedDim, rng);
      } else {
        // ordered: per-class [set embedding ‖ prototype projection], context-mixed by a SAB
        // (equivariant, so order is kept), then flattened in class order.
        createDense(ps, 'proto', d, dm, rng);
        createDense(ps, 'cls', 2 * dm, dm, rng);
        createSab(ps, 'inter.sab0', dm, dm, c.heads, rng);
        createDense(ps, 'out', k * dm, c.embedDim, rng);
      }
    }
    createLayerNorm(ps, 'outln', c.embedDim);
    createDense(ps, 'clip', c.embedDim, latentDim, rng);
    const stats: LatentStats = {
      mean: new Float32Array(latentDim),
      std: new Float32Array(latentDim).fill(1),
    };
    return new DatasetEncoder(c, shape, ps, stats);
  }

  /** Refuse support sets whose geometry differs from what the encoder was trained on. */
  checkGeometry(k: number, n: number, d: number, where = 'support set'): void {
    const s = this.shape;
    if (d !== s.featDim) {
      throw new InputError(
        `feature dimension ${d} does not fit the dataset encoder, which expects ${s.featDim}`,
        where,
      );
    }
    if (k !== s.numClasses && this.kind !== 'set-transformer') {
      throw new InputError(
        `${k} classes given, but this ${this.kind} dataset encoder was trained on K = ${s.numClasses}`,
        where,
      );
    }
    if (n !== s.perClass && this.kind === 'mlp') {
      throw new InputError(
        `${n} samples per class given, but the MLP dataset encoder expects ${s.perClass}`,
        where,
      );
    }
  }

  /** Forward pass on a batch x [B, K, n, d] → [B, embedDim]. Caller owns the result. */
  forward(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => {
      const [b, k, n, d] = x.shape;
      const ps = this.params;
      const h = this.config.heads;
      let e: tf.Tensor;
      if (this.kind === 'mlp') {
        e = dense(ps, 'out', tf.relu(dense(ps, 'mlp0', x.reshape([b, k * n * d]))));
      } else {
        let s = x.reshape([b * k, n, d]) as tf.Tensor3D;
        const block = useIsab(this.config, this.shape.perClass) ? isab : sab;
        s = block(ps, 'intra.b0', h, s);
        s = block(ps, 'intra.b1', h, s);
        const cls = pma(ps, 'intra.pma', h, s).reshape([b, k, -1]) as tf.Tensor3D;
        if (this.kind === 'set-transformer') {
          let t = sab(ps, 'inter.sab0', h, cls);
          t = sab(ps, 'inter.sab1', h, t);
          e = dense(ps, 'out', pma(ps, 'inter.pma', h, t).reshape([b, -1]));
        } else {
          const proto = dense(ps, 'proto', tf.mean(x, 2));
          let t = tf.relu(dense(ps, 'cls', tf.concat([cls, proto], -1))) as tf.Tensor3D;
          t = sab(ps, 'inter.sab0', h, t);
          e = dense(ps, 'out', t.reshape([b, -1]));
        }
      }
      return layerNorm(ps, 'outln', e) as tf.Tensor2D;
    });
  }

  /**
   * Embed one support set (K×n×d values, classes in output order, n vectors per class).
   * Throws InputError when its geometry does not fit the encoder.
   */
  embed(set: Float32Array, k: number, n: number, d: number): Promise<Float32Array> {
    return this.embedBatch(set, 1, k, n, d);
  }

  /** Embed `count` support sets stored back to back; returns count×embedDim values. */
  async embedBatch(
    sets: Float32Array,
    count: number,
    k: number,
    n: number,
    d: number,
  ): Promise<Float32Array> {
    this.checkGeometry(k, n, d);
    if (sets.length !== count * k * n * d) {
      throw new InputError(
        `support data has ${sets.length} values, expected ${count}×${k}×${n}×${d} = ${count * k * n * d}`,
        'support set',
      );
    }
    // In chunks: each set's embedding is its own, and one forward over a 20,000-set zoo (the large
    // preset) overran the wasm heap in its attention intermediates.
    const setSize = k * n * d;
    const chunk = embedChunkSets(setSize);
    if (count <= chunk) {
      const out = tf.tidy(() => this.forward(tf.tensor4d(sets, [count, k, n, d])));
      return readAndDispose(out);
    }
    const result = new Float32Array(count * this.embedDim);
    for (let s = 0; s < count; s += chunk) {
      const m = Math.min(chunk, count - s);
      const part = sets.subarray(s * setSize, (s + m) * setSize);
      const out = tf.tidy(() => this.forward(tf.tensor4d(part, [m, k, n, d])));
      result.set(await readAndDispose(out), s * this.embedDim);
    }
    return result;
  }

  /** CLIP projection of embeddings into (standardised, normalised) latent space. */
  projectToLatent(emb: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => l2normalize(dense(this.params, 'clip', emb) as tf.Tensor2D));
  }

  /** Standardise and L2-normalise raw VAE latents [B, L]. */
  normaliseLatents(z: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() =>
      l2normalize(
        tf.div(tf.sub(z, tf.tensor1d(this.latentStats.mean)), tf.tensor1d(this.latentStats.std)),
      ),
    );
  }

  /** Replace the latent standardisation (fitted on the training latents). */
  setLatentStats(mean: Float32Array, std: Float32Array): void {
    this.latentStats.mean.set(mean);
    this.latentStats.std.set(std);
  }

  /** Write the encoder (config, geometry, tensors) to one safetensors file. */
  async save(path: string): Promise<void> {
    const tensors: Record<string, ReturnType<typeof fromF32>> = {};
    for (const name of this.params.names()) {
      const v = this.params.get(name);
      tensors[name] = fromF32(await readF32(v), [...v.shape]);
    }
    tensors['__latent_mean'] = fromF32(this.latentStats.mean, [this.latentStats.mean.length]);
    tensors['__latent_std'] = fromF32(this.latentStats.std, [this.latentStats.std.length]);
    await writeSafetensors(path, tensors, {
      format: FORMAT,
      config: JSON.stringify(this.config),
      shape: JSON.stringify(this.shape),
    });
  }

  /** Read an encoder written by save(); a wrong or corrupt file is an InputError naming it. */
  static async load(path: string): Promise<DatasetEncoder> {
    const { tensors, metadata } = await readSafetensors(path, { checkFinite: true });
    if (metadata.format !== FORMAT) {
      throw new InputError(`not a dataset encoder file (format '${metadata.format}')`, path);
    }
    let config: EncoderConfig;
    let shape: EncoderShape;
    try {
      config = EncoderConfigSchema.parse(JSON.parse(metadata.config ?? ''));
      const s: unknown = JSON.parse(metadata.shape ?? '');
      shape = parseShape(s);
    } catch (err) {
      throw new InputError(`invalid encoder metadata: ${errorMessage(err)}`, path);
    }
    // Rebuild the same parameter names/shapes, then overwrite the values.
    const enc = DatasetEncoder.create(config, shape, new Rng(0));
    for (const name of enc.params.names()) {
      const t = tensors[name];
      const v = enc.params.get(name);
      if (!t || t.shape.join('x') !== v.shape.join('x')) {
        enc.dispose();
        throw new InputError(`tensor '${name}' missing or of the wrong shape`, path);
      }
      tf.tidy(() => v.assign(tf.tensor(toF32(t), v.shape)));
    }
    const m = tensors['__latent_mean'];
    const s = tensors['__latent_std'];
    if (m && s) enc.setLatentStats(toF32(m), toF32(s));
    return enc;
  }

  dispose(): void {
    this.params.dispose();
  }
}

/** Intra-class blocks are ISABs only when a class holds more samples than inducing points. */
function useIsab(c: EncoderConfig, perClass: number): boolean {
  return perClass > c.inducing;
}

function parseShape(s: unknown): EncoderShape {
  if (typeof s !== 'object' || s === null) throw new Error('shape is not an object');
  const o = s as Record<string, unknown>;
  const keys = ['numClasses', 'perClass', 'featDim', 'latentDim'] as const;
  for (const k of keys) {
    if (!Number.isInteger(o[k]) || (o[k] as number) < 1) throw new Error(`shape.${k} invalid`);
  }
  return {
    numClasses: o.numClasses as number,
    perClass: o.perClass as number,
    featDim: o.featDim as number,
    latentDim: o.latentDim as number,
  };
}

function l2normalize(x: tf.Tensor2D): tf.Tensor2D {
  return tf.div(x, tf.add(tf.norm(x, 'euclidean', 1, true), 1e-8));
}

/**
 * Symmetric CLIP loss (Eq. 2): logits = z_w·z_Dᵀ/τ, cross-entropy in both directions against
 * `targets` (rows sum to 1).
 */
export function clipLoss(
  zw: tf.Tensor2D,
  zd: tf.Tensor2D,
  targets: tf.Tensor2D,
  temperature: number,
): tf.Scalar {
  return tf.tidy(() => {
    const logits = tf.div(tf.matMul(zw, zd, false, true), temperature) as tf.Tensor2D;
    const a = tf.mean(tf.sum(tf.mul(targets, tf.neg(tf.logSoftmax(logits, 1))), 1));
    const lt = logits.transpose();
    const b = tf.mean(tf.sum(tf.mul(targets.transpose(), tf.neg(tf.logSoftmax(lt, 1))), 1));
    return tf.div(tf.add(a, b), 2) as tf.Scalar;
  });
}

/** Hard targets: uniform over the pairs of the same group (task), the identity if no groups. */
export function groupTargets(groups: Int32Array | null, idx: ArrayLike<number>): Float32Array {
  const b = idx.length;
  const t = new Float32Array(b * b);
  for (let i = 0; i < b; i++) {
    let cnt = 0;
    for (let j = 0; j < b; j++) {
      const same = groups ? groups[idx[i]] === groups[idx[j]] : i === j;
      if (same) {
        t[i * b + j] = 1;
        cnt++;
      }
    }
    for (let j = 0; j < b; j++) t[i * b + j] /= cnt;
  }
  return t;
}

export interface TrainEncoderArgs {
  /** Support sets, one per training pair: count × K × n × d values, classes in output order. */
  readonly sets: Float32Array;
  /** Frozen VAE latents of the paired weights: count × latentDim. */
  readonly latents: Float32Array;
  /** Number of (dataset, weight) pairs. */
  readonly count: number;
  /** Geometry of the sets and latents. */
  readonly shape: EncoderShape;
  /** Task id per pair: pairs of one task are all positives of each other (null: identity). */
  readonly groups?: Int32Array | null;
  /** Draw a fresh support set for pair i (augmentation); used when config.resampleSupport. */
  readonly resample?: (pair: number, rng: Rng) => Float32Array;
  readonly config: EncoderConfig;
  readonly rng: Rng;
  readonly control?: RunControl;
}

export interface TrainEncoderResult {
  readonly encoder: DatasetEncoder;
  /** Mean loss per epoch. */
  readonly losses: number[];
}

/** Train a dataset encoder against frozen latents with AdamW and the CLIP loss (Eq. 2). */
export async function trainEncoder(args: TrainEncoderArgs): Promise<TrainEncoderResult> {
  const config = EncoderConfigSchema.parse(args.config);
  const { count, shape } = args;
  const { numClasses: k, perClass: n, featDim: d, latentDim: l } = shape;
  const setSize = k * n * d;
  if (count < 2) {
    throw new InputError(
      `the dataset encoder needs at least 2 (dataset, weights) pairs for its contrastive loss, got ${count}`,
    );
  }
  if (args.sets.length !== count * setSize) {
    throw new InputError(
      `encoder sets have ${args.sets.length} values, expected ${count}×${k}×${n}×${d}`,
    );
  }
  if (args.latents.length !== count * l) {
    throw new InputError(
      `encoder latents have ${args.latents.length} values, expected ${count}×${l}`,
    );
  }
  const rng = args.rng;
  const encoder = DatasetEncoder.create(config, shape, rng.fork('init'));
  // Latent standardisation (per dimension) from the training latents.
  const mean = new Float32Array(l);
  const std = new Float32Array(l);
  for (let i = 0; i < count; i++) for (let j = 0; j < l; j++) mean[j] += args.latents[i * l + j];
  for (let j = 0; j < l; j++) mean[j] /= count;
  for (let i = 0; i < count; i++) {
    for (let j = 0; j < l; j++) std[j] += (args.latents[i * l + j] - mean[j]) ** 2;
  }
  for (let j = 0; j < l; j++) std[j] = Math.sqrt(std[j] / count) + 1e-6;
  encoder.setLatentStats(mean, std);

  const vars = encoder.params.variables();
  // AdamW through the engine's optimiser (one fused kernel per variable on wasm, where
  // tf.train.adam plus a weight-decay multiply took ~10 kernels per variable: ~800 of a standard
  // step's ~3,000). ε = 1e-7 as tf.train.adam had; the decay is decoupled as before.
  const adam = makeAdam(
    vars,
    { lr: config.lr, weightDecay: config.weightDecay, epsilon: 1e-7 },
    true,
  );
  let step = 0;
  const sets = Float32Array.from(args.sets);
  const groups = args.groups ?? null;
  const losses: number[] = [];
  const drawRng = rng.fork('batches');
  const augRng = rng.fork('resample');
  const bs = Math.min(config.batchSize, count);
  // On webgpu whole steps run on the GPU as replayed graphs (common/device-step.ts), one per batch
  // size. Soft targets come from the model itself and must stay off the tape: eager there.
  const onDevice = useDeviceSteps() && adam instanceof Adam && !config.softTargets ? adam : null;
  const deviceSteps = new Map<number, DeviceStep>();
  const deviceStep = (optimizer: Adam, b: number): DeviceStep => {
    let ds = deviceSteps.get(b);
    if (!ds) {
      ds = new DeviceStep({
        vars,
        optimizer,
        stage: 'encoder',
        inputs: [
          { shape: [b, k, n, d], dtype: 'float32' },
          { shape: [b, l], dtype: 'float32' },
          { shape: [b, b], dtype: 'float32' },
        ],
        loss: ([x, z, targets]) =>
          clipLoss(
            encoder.normaliseLatents(z as tf.Tensor2D),
            encoder.projectToLatent(encoder.forward(x as tf.Tensor4D)),
            targets as tf.Tensor2D,
            config.temperature,
          ),
      });
      deviceSteps.set(b, ds);
    }
    return ds;
  };
  const disposeDeviceSteps = () => {
    for (const ds of deviceSteps.values()) ds.dispose();
  };
  const pipeline = new StepPipeline();
  try {
    for (let epoch = 0; epoch < config.epochs; epoch++) {
      throwIfAborted(args.control?.signal);
      if (config.resampleSupport && args.resample && epoch > 0) {
        for (let i = 0; i < count; i++) sets.set(args.resample(i, augRng), i * setSize);
      }
      const order = drawRng.permutation(count);
      let sum = 0;
      let batches = 0;
      for (let start = 0; start + 2 <= count; start += bs) {
        const idx = order.slice(start, Math.min(start + bs, count));
        if (idx.length < 2) break;
        const b = idx.length;
        const xb = new Float32Array(b * setSize);
        const zb = new Float32Array(b * l);
        for (let i = 0; i < b; i++) {
          xb.set(sets.subarray(idx[i] * setSize, (idx[i] + 1) * setSize), i * setSize);
          zb.set(args.latents.subarray(idx[i] * l, (idx[i] + 1) * l), i * l);
        }
        if (onDevice) {
          // One step in flight within an epoch: submitted before the previous loss is awaited.
          const done = await pipeline.push(
            deviceStep(onDevice, b).submit([xb, zb, groupTargets(groups, idx)], {
              lr: config.lr,
              step,
            }),
          );
          step += 1;
          if (done) {
            sum += done.loss;
            batches++;
          }
          continue;
        }
        // The step reads the loss back (asynchronously), so its inputs live outside a tidy.
        const inputs = tf.tidy(() => {
          const x = tf.tensor4d(xb, [b, k, n, d]);
          const zw = encoder.normaliseLatents(tf.tensor2d(zb, [b, l]));
          let targets: tf.Tensor2D;
          if (config.softTargets) {
            const zd0 = encoder.projectToLatent(encoder.forward(x));
            targets = tf.softmax(
              tf.div(
                tf.add(tf.matMul(zd0, zd0, false, true), tf.matMul(zw, zw, false, true)),
                2 * config.temperature,
              ),
              1,
            ) as tf.Tensor2D;
          } else {
            targets = tf.tensor2d(groupTargets(groups, idx), [b, b]);
          }
          return { x, zw, targets };
        });
        let lv: number;
        try {
          lv = await optimStep({
            optimizer: adam,
            vars,
            stage: 'encoder',
            step,
            loss: () =>
              clipLoss(
                inputs.zw,
                encoder.projectToLatent(encoder.forward(inputs.x)),
                inputs.targets,
                config.temperature,
              ),
          });
        } finally {
          tf.dispose(inputs);
        }
        step += 1;
        sum += lv;
        batches++;
      }
      const last = await pipeline.flush();
      if (last) {
        sum += last.loss;
        batches++;
      }
      const meanLoss = batches > 0 ? sum / batches : 0;
      losses.push(meanLoss);
      args.control?.onProgress?.({
        value: epoch + 1,
        max: config.epochs,
        unit: 'epoch',
        label: 'encoder',
        metrics: { loss: meanLoss },
      });
      await yieldToEventLoop();
    }
  } catch (err) {
    disposeDeviceSteps();
    adam.dispose();
    encoder.dispose();
    throw err;
  }
  disposeDeviceSteps();
  adam.dispose();
  return { encoder, losses };
}
