/**
 * The accuracy predictor g of D2NWG (App. D): an MLP from a flattened weight vector to the
 * accuracy those weights reach on their own task (the benchmark and the nodes train it on the zoo
 * members' training accuracy, so test samples never guide a choice). Two uses:
 *  - Eq. 7: its last hidden layer g(w) is kept consistent through the VAE round trip
 *    (‖g(w) − g(decode(encode(w)))‖²), so the VAE keeps what matters for accuracy;
 *  - ranking: among the samples drawn for a dataset, take the one g scores highest, with no
 *    labelled data at all.
 * It is unconditioned (the weights alone), the variant the paper found to work with few members
 * per dataset. Vectors are standardised per dimension with the training members' statistics, and
 * the target is standardised too (accuracies of a zoo span a few points), both saved with g.
 */
import * as tf from '@tensorflow/tfjs';
import {
  PredictorConfig as PredictorConfigSchema,
  type PredictorConfig,
  type PredictorConfigInput,
} from '../../../shared/schemas/predictor.ts';
import { act, dense } from '../common/layers.ts';
import { cosineLr, makeAdam, optimStep } from '../common/optim.ts';
import {
  createParamSet,
  paramSetFromStTensors,
  type ParamDef,
  type ParamSet,
} from '../common/params.ts';
import { readAndDispose } from '../common/readback.ts';
import { checkMatrix, gatherRows } from '../common/rows.ts';
import { InputError, parseConfig, throwIfAborted } from '../errors.ts';
import { fromF32, readSafetensors, toF32, writeSafetensors } from '../formats/safetensors.ts';
import { yieldToEventLoop, type RunControl } from '../progress.ts';
import type { Rng } from '../rng.ts';
import { computeNormStats } from '../vae/model.ts';
import { errorMessage } from '../../../shared/errors.ts';

const FORMAT = 'd2nwg-accuracy-predictor/1';
/** Rows per forward pass when predicting (bounds the activation memory). */
const PREDICT_CHUNK = 512;

function layout(cfg: PredictorConfig, dim: number): ParamDef[] {
  const defs: ParamDef[] = [];
  let d = dim;
  cfg.hidden.forEach((h, i) => {
    defs.push(
      { name: `h${i}.w`, shape: [d, h], init: 'he' },
      { name: `h${i}.b`, shape: [h], init: 'zero' },
    );
    d = h;
  });
  defs.push(
    { name: 'out.w', shape: [d, 1], init: 'glorot' },
    { name: 'out.b', shape: [1], init: 'zero' },
  );
  return defs;
}

/** Standardisation of inputs (per dimension) and of the accuracy target. */
export interface PredictorStats {
  readonly mean: Float32Array;
  readonly std: Float32Array;
  readonly accMean: number;
  readonly accStd: number;
}

export class AccuracyPredictor {
  /** The input standardisation as tensors, made once (Eq. 7 calls embed twice per VAE step). */
  private readonly meanT: tf.Tensor1D;
  private readonly stdT: tf.Tensor1D;

  private constructor(
    readonly config: PredictorConfig,
    readonly dim: number,
    private readonly stats: PredictorStats,
    private readonly params: ParamSet,
  ) {
    this.meanT = tf.tensor1d(stats.mean);
    this.stdT = tf.tensor1d(stats.std);
  }

  static create(
    config: PredictorConfig,
    dim: number,
    stats: PredictorStats,
    rng: Rng,
  ): AccuracyPredictor {
    return new AccuracyPredictor(
      config,
      dim,
      stats,
      createParamSet('predictor', layout(config, dim), rng),
    );
  }

  /** Width of g(w), the embedding Eq. 7 compares. */
  get embedDim(): number {
    return this.config.hidden[this.config.hidden.length - 1];
  }

  variables(): tf.Variable[] {
    return this.params.variables();
  }

  /**
   * g(w): the last hidden layer for weight vectors [B, dim] in weight space. Differentiable in w
   * (Eq. 7 back-propagates through it into the VAE decoder); call inside tf.tidy or a tape.
   */
  embed(w: tf.Tensor2D, inputGrad = true): tf.Tensor2D {
    const p = this.params.asRecord();
    let h: tf.Tensor2D = tf.div(tf.sub(w, this.meanT), this.stdT);
    this.config.hidden.forEach((_, i) => {
      h = act(dense(p, `h${i}`, h, i > 0 || inputGrad), 'leaky_relu');
    });
    return h;
  }

  /** Prediction [B, 1] in the training target's standardised units (the training loss's). */
  standardised(w: tf.Tensor2D, inputGrad = true): tf.Tensor2D {
    return dense(this.params.asRecord(), 'out', this.embed(w, inputGrad));
  }

  /** Predicted accuracy of n vectors (row-major), clipped to [0, 1]. */
  async predict(vectors: Float32Array, n: number): Promise<Float32Array> {
    checkMatrix(vectors, n, this.dim, 'accuracy predictor input');
    const out = new Float32Array(n);
    for (let s = 0; s < n; s += PREDICT_CHUNK) {
      const b = Math.min(PREDICT_CHUNK, n - s);
      const y = tf.tidy(() => {
        const x = tf.tensor2d(vectors.subarray(s * this.dim, (s + b) * this.dim), [b, this.dim]);
        const z = this.standardised(x, false);
        return tf.clipByValue(tf.add(tf.mul(z, this.stats.accStd), this.stats.accMean), 0, 1);
      });
      out.set(await readAndDispose(y), s);
    }
    return out;
  }

  /** Write g (config, stats, tensors) to one safetensors file, atomically. */
  async save(path: string): Promise<void> {
    const tensors = await this.params.toStTensors();
    tensors['__mean'] = fromF32(this.stats.mean, [this.dim]);
    tensors['__std'] = fromF32(this.stats.std, [this.dim]);
    await writeSafetensors(path, tensors, {
      format: FORMAT,
      config: JSON.stringify(this.config),
      dim: String(this.dim),
      accMean: String(this.stats.accMean),
      accStd: String(this.stats.accStd),
    });
  }

  /** Read a predictor written by save(); a wrong or corrupt file is an InputError naming it. */
  static async load(path: string): Promise<AccuracyPredictor> {
    const { tensors, metadata } = await readSafetensors(path, { checkFinite: true });
    if (metadata.format !== FORMAT) {
      throw new InputError(`not an accuracy predictor file (format '${metadata.format}')`, path);
    }
    let config: PredictorConfig;
    try {
      config = PredictorConfigSchema.parse(JSON.parse(metadata.config ?? ''));
    } catch (err) {
      throw new InputError(`invalid predictor config: ${errorMessage(err)}`, path);
    }
    const dim = Number(metadata.dim);
    const accMean = Number(metadata.accMean);
    const accStd = Number(metadata.accStd);
    if (!Number.isInteger(dim) || dim < 1 || !Number.isFinite(accMean) || !(accStd > 0)) {
      throw new InputError('invalid predictor metadata (dim, accMean, accStd)', path);
    }
    const { __mean: mean, __std: std, ...rest } = tensors;
    if (!mean || !std || mean.shape[0] !== dim || std.shape[0] !== dim) {
      throw new InputError(`missing or misshapen standardisation tensors (dim ${dim})`, path);
    }
    const expected = new Map(layout(config, dim).map((d) => [d.name, d.shape] as const));
    const params = paramSetFromStTensors('predictor', rest, expected, path);
    return new AccuracyPredictor(
      config,
      dim,
      { mean: toF32(mean), std: toF32(std), accMean, accStd },
      params,
    );
  }

  dispose(): void {
    this.params.dispose();
    this.meanT.dispose();
    this.stdT.dispose();
  }
}

export interface TrainPredictorArgs {
  /** n weight vectors of length dim, row-major (the zoo). */
  readonly vectors: Float32Array;
  readonly n: number;
  readonly dim: number;
  /** The accuracy of each vector on its own task, in [0, 1]. */
  readonly accuracies: ArrayLike<number>;
  /** Task of each vector: the validation split then holds out whole tasks. */
  readonly groups?: ArrayLike<number>;
  readonly config: PredictorConfig | PredictorConfigInput;
  readonly rng: Rng;
  readonly control?: RunControl;
}

/** How well g predicts members it was not trained on. */
export interface PredictorValidation {
  readonly members: number;
  /** Mean absolute error, in accuracy points (fractions). */
  readonly mae: number;
  /** Spearman rank correlation of predicted and true accuracy over the held-out members. */
  readonly spearman: number;
}

export interface TrainPredictorResult {
  readonly predictor: AccuracyPredictor;
  /** Mean training loss per epoch (standardised MSE). */
  readonly history: { epoch: number; loss: number }[];
  /** Null when valFraction is 0 or too few members to hold any out. */
  readonly validation: PredictorValidation | null;
}

/** Ranks with ties averaged (for Spearman's rho). */
function ranks(values: ArrayLike<number>): Float64Array {
  const idx = Array.from({ length: values.length }, (_, i) => i).sort(
    (a, b) => values[a] - values[b],
  );
  const r = new Float64Array(values.length);
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && values[idx[j + 1]] === values[idx[i]]) j++;
    for (let k = i; k <= j; k++) r[idx[k]] = (i + j) / 2;
    i = j + 1;
  }
  return r;
}

/** Spearman's rank correlation (NaN when either side is constant or shorter than 2). */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`spearman: lengths ${a.length} ≠ ${b.length}`);
  const n = a.length;
  if (n < 2) return NaN;
  const ra = ranks(a);
  const rb = ranks(b);
  const m = (n - 1) / 2;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (ra[i] - m) * (rb[i] - m);
    saa += (ra[i] - m) ** 2;
    sbb += (rb[i] - m) ** 2;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : NaN;
}

/** Members held out for validation: whole groups when given, else single members. */
function splitMembers(n: number, groups: ArrayLike<number> | undefined, frac: number, rng: Rng) {
  const val = new Uint8Array(n);
  if (frac > 0) {
    if (groups) {
      const ids = [...new Set(Array.from(groups))];
      const perm = rng.permutation(ids.length);
      const held = new Set(
        Array.from(perm.subarray(0, Math.floor(ids.length * frac))).map((i) => ids[i]),
      );
      for (let i = 0; i < n; i++) if (held.has(groups[i])) val[i] = 1;
    } else {
      const perm = rng.permutation(n);
      for (const i of perm.subarray(0, Math.floor(n * frac))) val[i] = 1;
    }
  }
  const train: number[] = [];
  const hold: number[] = [];
  for (let i = 0; i < n; i++) (val[i] ? hold : train).push(i);
  return { train, hold };
}

/** Train g on (weights, accuracy) pairs. Same config + seed → same predictor. */
export async function trainPredictor(args: TrainPredictorArgs): Promise<TrainPredictorResult> {
  const cfg = parseConfig(PredictorConfigSchema, args.config, 'predictor config');
  const { n, dim } = args;
  checkMatrix(args.vectors, n, dim, 'predictor training vectors');
  if (args.accuracies.length !== n) {
    throw new InputError(
      `${args.accuracies.length} accuracies for ${n} weight vectors`,
      'accuracy predictor',
    );
  }
  for (let i = 0; i < n; i++) {
    const a = args.accuracies[i];
    if (!(a >= 0 && a <= 1)) {
      throw new InputError(
        `accuracy ${i} is ${a}, expected a fraction in [0, 1]`,
        'accuracy predictor',
      );
    }
  }
  if (args.groups && args.groups.length !== n) {
    throw new InputError(
      `${args.groups.length} task ids for ${n} weight vectors`,
      'accuracy predictor',
    );
  }
  const { train, hold } = splitMembers(n, args.groups, cfg.valFraction, args.rng.fork('split'));
  if (train.length < 2) {
    throw new InputError(
      `needs at least 2 training members, got ${train.length}`,
      'accuracy predictor',
    );
  }
  const tv = gatherRows(args.vectors, dim, train);
  const ta = Float32Array.from(train, (i) => args.accuracies[i]);
  const norm = computeNormStats(tv, train.length, dim, 'per-dim', cfg.stdFloor);
  let accMean = 0;
  for (const a of ta) accMean += a;
  accMean /= ta.length;
  let accVar = 0;
  for (const a of ta) accVar += (a - accMean) ** 2;
  // A floor of 0.1 points keeps a zoo of equal accuracies from dividing by zero.
  const accStd = Math.max(Math.sqrt(accVar / ta.length), 1e-3);
  const target = Float32Array.from(ta, (a) => (a - accMean) / accStd);

  const predictor = AccuracyPredictor.create(
    cfg,
    dim,
    { ...norm, accMean, accStd },
    args.rng.fork('init'),
  );
  const history: { epoch: number; loss: number }[] = [];
  try {
    const vars = predictor.variables();
    const adam = makeAdam(vars, { lr: cfg.lr, weightDecay: cfg.weightDecay });
    try {
      const rng = args.rng.fork('train');
      const m = train.length;
      const bs = Math.min(cfg.batchSize, m);
      const total = cfg.epochs * Math.ceil(m / bs);
      let step = 0;
      let lastYield = Date.now();
      for (let epoch = 1; epoch <= cfg.epochs; epoch++) {
        throwIfAborted(args.control?.signal);
        const perm = rng.permutation(m);
        let sum = 0;
        for (let s = 0; s < m; s += bs) {
          const idx = perm.subarray(s, Math.min(m, s + bs));
          const b = idx.length;
          const x = tf.tensor2d(gatherRows(tv, dim, idx), [b, dim]);
          const y = tf.tensor2d(gatherRows(target, 1, idx), [b, 1]);
          try {
            const loss = await optimStep({
              optimizer: adam,
              vars,
              lr: cosineLr(cfg.lr, step, total),
              stage: 'predictor',
              step,
              loss: () =>
                tf.mean(tf.square(tf.sub(predictor.standardised(x, false), y))) as tf.Scalar,
            });
            sum += loss * b;
          } finally {
            x.dispose();
            y.dispose();
          }
          step++;
          if (Date.now() - lastYield > 50) {
            await yieldToEventLoop();
            throwIfAborted(args.control?.signal);
            lastYield = Date.now();
          }
        }
        history.push({ epoch, loss: sum / m });
        args.control?.onProgress?.({
          value: epoch,
          max: cfg.epochs,
          unit: 'epoch',
          label: 'predictor',
          metrics: { loss: sum / m },
        });
      }
    } finally {
      // Tensor Adam holds its moments as variables.
      adam.dispose();
    }
    let validation: PredictorValidation | null = null;
    if (hold.length >= 2) {
      const pred = await predictor.predict(gatherRows(args.vectors, dim, hold), hold.length);
      const truth = Float32Array.from(hold, (i) => args.accuracies[i]);
      let mae = 0;
      for (let i = 0; i < hold.length; i++) mae += Math.abs(pred[i] - truth[i]);
      validation = {
        members: hold.length,
        mae: mae / hold.length,
        spearman: spearman(pred, truth),
      };
    }
    return { predictor, history, validation };
  } catch (err) {
    predictor.dispose();
    throw err;
  }
}

/** What trainPredictorOnZoo reads of a zoo member. */
export interface PredictorZooMember {
  readonly taskId: string;
  readonly trainAcc: number;
}

/**
 * g trained on a zoo's members, labelled with their training accuracy (test samples stay unseen:
 * they score whatever g picks), whole tasks held out to measure it.
 */
export function trainPredictorOnZoo(args: {
  readonly vectors: Float32Array;
  readonly dim: number;
  readonly members: readonly PredictorZooMember[];
  readonly config?: PredictorConfig | PredictorConfigInput;
  readonly rng: Rng;
  readonly control?: RunControl;
}): Promise<TrainPredictorResult> {
  const taskIndex = new Map<string, number>();
  for (const m of args.members)
    if (!taskIndex.has(m.taskId)) taskIndex.set(m.taskId, taskIndex.size);
  return trainPredictor({
    vectors: args.vectors,
    n: args.members.length,
    dim: args.dim,
    accuracies: args.members.map((m) => m.trainAcc),
    groups: args.members.map((m) => taskIndex.get(m.taskId) ?? 0),
    config: args.config ?? {},
    rng: args.rng,
    ...(args.control ? { control: args.control } : {}),
  });
}

/** Validation of g as node-summary metrics (empty without a held-out split). */
export function predictorMetrics(v: PredictorValidation | null): Record<string, number> {
  return v ? { predictorValMae: v.mae, predictorValSpearman: v.spearman } : {};
}

/** Order of n vectors by predicted accuracy, best first, with the predictions. */
export async function rankByPredictor(
  predictor: AccuracyPredictor,
  vectors: readonly Float32Array[],
): Promise<{ order: number[]; predicted: Float32Array }> {
  const dim = predictor.dim;
  const flat = new Float32Array(vectors.length * dim);
  vectors.forEach((v, i) => {
    if (v.length !== dim) {
      throw new InputError(
        `sample ${i} has ${v.length} weights, the predictor expects ${dim}`,
        'accuracy predictor',
      );
    }
    flat.set(v, i * dim);
  });
  const predicted = await predictor.predict(flat, vectors.length);
  const order = Array.from({ length: vectors.length }, (_, i) => i).sort(
    (a, b) => predicted[b] - predicted[a] || a - b,
  );
  return { order, predicted };
}
