/**
 * Training and evaluation of the small classifiers (zoo members, RandInit baselines, fine-tuning of
 * generated weights). One flat tf.Variable holds all parameters; Adam with softmax cross-entropy,
 * seeded shuffling, no hidden randomness, so the same init and rng give identical weights.
 */
import * as tf from '@tensorflow/tfjs';
import { InputError } from '../errors.ts';
import type { RunControl } from '../progress.ts';
import type { Rng } from '../rng.ts';
import { rowsPerDeviceBuffer } from '../backend-webgpu.ts';
import { inputSize, widestActivation, type Layout } from './architecture.ts';
import { forward } from './forward.ts';
import { checkLength } from './params.ts';
import {
  checkData,
  evaluateBatch,
  trainBatch,
  type EpochRecord,
  type Evaluation,
} from './batch.ts';
import { readAndDispose } from '../common/readback.ts';

export type { EpochRecord, Evaluation } from './batch.ts';

/** An EpochRecord plus a copy of the weights at the end of that epoch (a checkpoint). */
export interface EpochCheckpoint extends EpochRecord {
  /** The flat weights after this epoch; the callee owns this copy. */
  readonly params: Float32Array;
}

export interface TrainClassifierArgs {
  /** Architecture and parameter layout. */
  readonly layout: Layout;
  /** Starting weights (e.g. initParams, a generated sample); not modified. */
  readonly init: Float32Array;
  /** Training inputs, `n × inputSize` row-major. */
  readonly xTrain: Float32Array;
  /** Training labels in 0..outputs-1. */
  readonly yTrain: Int32Array;
  /** Optional test inputs, evaluated after every epoch. */
  readonly xTest?: Float32Array;
  /** Labels of xTest. */
  readonly yTest?: Int32Array;
  /** Number of passes over the training set (0 returns `init` unchanged). */
  readonly epochs: number;
  /** Minibatch size; the last batch of an epoch may be smaller. */
  readonly batchSize: number;
  /** Adam learning rate. */
  readonly lr: number;
  /** Drives the per-epoch shuffling; nothing else is random. */
  readonly rng: Rng;
  /** Called after every epoch with its metrics and a copy of the weights. */
  readonly onEpoch?: (rec: EpochCheckpoint) => void | Promise<void>;
  /** Cancellation (checked between batches) and per-epoch progress. */
  readonly control?: RunControl;
  /** Stage name used in NumericError messages; default 'classifier'. */
  readonly stage?: string;
}

export interface TrainClassifierResult {
  /** Final weights. */
  readonly params: Float32Array;
  /** One record per epoch. */
  readonly history: EpochRecord[];
}

const EVAL_BATCH = 2048;

/** Rows per evaluation batch: EVAL_BATCH, fewer where the GPU's buffer limit needs it. */
function evalBatch(layout: Layout): number {
  return rowsPerDeviceBuffer(4 * widestActivation(layout.arch), EVAL_BATCH);
}

/** Mean softmax cross-entropy of logits against integer labels (a scalar). */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const k = logits.shape[1];
    const onehot = tf.oneHot(labels, k);
    return tf.neg(tf.mean(tf.sum(tf.mul(onehot, tf.logSoftmax(logits)), 1))) as tf.Scalar;
  });
}

/**
 * Train a classifier with Adam from `init`: a model batch of one (nn/batch.ts), so a single model
 * and a zoo member in a batch of a thousand get the same weights. Throws NumericError (stage
 * 'classifier', with the global step) as soon as an epoch produced a non-finite loss,
 * CancelledError on abort.
 */
export async function trainClassifier(args: TrainClassifierArgs): Promise<TrainClassifierResult> {
  const { layout, epochs, batchSize, lr, rng, control } = args;
  const onEpoch = args.onEpoch;
  const res = await trainBatch({
    layout,
    members: [
      {
        init: args.init,
        xTrain: args.xTrain,
        yTrain: args.yTrain,
        ...(args.xTest !== undefined && args.yTest !== undefined
          ? { xTest: args.xTest, yTest: args.yTest }
          : {}),
        rng,
      },
    ],
    epochs,
    batchSize,
    lr,
    control,
    stage: args.stage ?? 'classifier',
    ...(onEpoch
      ? {
          onEpoch: async (
            _e: number,
            records: readonly EpochRecord[],
            params: () => Promise<Float32Array[]>,
          ) => {
            const [p] = await params();
            await onEpoch({ ...records[0], params: p });
          },
        }
      : {}),
  });
  return { params: res.params[0], history: res.history[0] };
}

/**
 * Mean loss and accuracy over (x, y) in batches. `score` gets a batch and returns, as one tensor,
 * [summed loss, correct count] (read back together after the tidy).
 */
async function scoreBatches(
  layout: Layout,
  x: tf.Tensor2D,
  y: Int32Array,
  score: (xb: tf.Tensor2D, yb: tf.Tensor1D) => tf.Tensor1D,
): Promise<Evaluation> {
  const n = y.length;
  if (n === 0) return { loss: NaN, accuracy: NaN };
  let lossSum = 0;
  let correct = 0;
  const batch = evalBatch(layout);
  for (let start = 0; start < n; start += batch) {
    const size = Math.min(batch, n - start);
    const both = tf.tidy(() =>
      score(
        size === n ? x : tf.slice(x, [start, 0], [size, x.shape[1]]),
        tf.tensor1d(y.subarray(start, start + size), 'int32'),
      ),
    );
    const [l, c] = await readAndDispose(both);
    lossSum += l;
    correct += c;
  }
  return { loss: lossSum / n, accuracy: correct / n };
}

/** [summed loss, correct count] of class scores (logits or probabilities) against labels. */
function lossAndCorrect(scores: tf.Tensor2D, yb: tf.Tensor1D, meanLoss: tf.Scalar): tf.Tensor1D {
  const c = tf.sum(tf.cast(tf.equal(tf.argMax(scores, 1), yb), 'float32'));
  return tf.stack([tf.mul(meanLoss, yb.shape[0]), c]) as tf.Tensor1D;
}

function evaluateTensors(
  layout: Layout,
  params: tf.Tensor1D,
  x: tf.Tensor2D,
  y: Int32Array,
): Promise<Evaluation> {
  return scoreBatches(layout, x, y, (xb, yb) => {
    const logits = forward(layout, params, xb);
    return lossAndCorrect(logits, yb, crossEntropy(logits, yb));
  });
}

function toParamTensor(layout: Layout, params: Float32Array | tf.Tensor1D): tf.Tensor1D {
  if (params instanceof Float32Array) {
    checkLength(layout, params, 'weights');
    return tf.tensor1d(params);
  }
  return params;
}

/**
 * Mean cross-entropy and accuracy of `params` on (x, y), in batches. `params` may be a flat array
 * or a 1-D tensor (not disposed). Leaves no tensors behind.
 */
export async function lossAndAccuracy(
  layout: Layout,
  params: Float32Array | tf.Tensor1D,
  x: Float32Array,
  y: Int32Array,
): Promise<Evaluation> {
  const n = checkData(layout, x, y, 'evaluation data');
  const p = toParamTensor(layout, params);
  const xt = tf.tensor2d(x, [n, inputSize(layout.arch)]);
  try {
    return await evaluateTensors(layout, p, xt, y);
  } finally {
    xt.dispose();
    if (p !== params) p.dispose();
  }
}

/** Fraction of (x, y) that `params` classifies correctly. */
export async function accuracy(
  layout: Layout,
  params: Float32Array | tf.Tensor1D,
  x: Float32Array,
  y: Int32Array,
): Promise<number> {
  return (await lossAndAccuracy(layout, params, x, y)).accuracy;
}

/**
 * Evaluate many weight vectors (e.g. generated samples) on the same data, as model batches (one
 * batched forward pass per row chunk). Returns one Evaluation per vector, in order.
 */
export function evaluateMany(
  layout: Layout,
  paramsList: readonly Float32Array[],
  x: Float32Array,
  y: Int32Array,
): Promise<Evaluation[]> {
  return evaluateBatch(layout, paramsList, x, y);
}

/**
 * Loss and accuracy of the predictive ensemble of `paramsList`: the mean of the members' softmax
 * probabilities, arg-max for the class, cross-entropy of the mean probability for the loss. A
 * single member gives that member's accuracy. Uploads the data once; leaves no tensors behind.
 */
export async function evaluateEnsemble(
  layout: Layout,
  paramsList: readonly Float32Array[],
  x: Float32Array,
  y: Int32Array,
): Promise<Evaluation> {
  if (paramsList.length === 0) throw new InputError('an ensemble needs at least one member');
  const n = checkData(layout, x, y, 'evaluation data');
  paramsList.forEach((p, i) => checkLength(layout, p, `weights[${i}]`));
  const xt = tf.tensor2d(x, [n, inputSize(layout.arch)]);
  const members = paramsList.map((p) => tf.tensor1d(p));
  try {
    return await scoreBatches(layout, xt, y, (xb, yb) => {
      const probs = tf.div(
        tf.addN(members.map((p) => tf.softmax(forward(layout, p, xb)))),
        members.length,
      ) as tf.Tensor2D;
      const picked = tf.sum(tf.mul(tf.oneHot(yb, probs.shape[1]), probs), 1);
      return lossAndCorrect(
        probs,
        yb,
        tf.neg(tf.mean(tf.log(tf.maximum(picked, 1e-12)))) as tf.Scalar,
      );
    });
  } finally {
    xt.dispose();
    for (const m of members) m.dispose();
  }
}

/** Arg-max class of each sample of `x` (`n` samples; default: all of x). */
export async function predictClasses(
  layout: Layout,
  params: Float32Array | tf.Tensor1D,
  x: Float32Array,
  n?: number,
): Promise<Int32Array> {
  const d = inputSize(layout.arch);
  const count = n ?? x.length / d;
  if (!Number.isInteger(count) || count * d > x.length) {
    throw new InputError(`${x.length} input values do not hold ${count} samples of ${d} values`);
  }
  const p = toParamTensor(layout, params);
  const out = new Int32Array(count);
  try {
    const batch = evalBatch(layout);
    for (let start = 0; start < count; start += batch) {
      const size = Math.min(batch, count - start);
      // Read back outside tidy: a tidy cannot span an await.
      const pred = tf.tidy(() => {
        const xb = tf.tensor2d(x.subarray(start * d, (start + size) * d), [size, d]);
        return tf.argMax(forward(layout, p, xb), 1);
      });
      try {
        out.set(await pred.data(), start);
      } finally {
        pred.dispose();
      }
    }
    return out;
  } finally {
    if (p !== params) p.dispose();
  }
}
