/**
 * A model batch: M classifiers of one architecture trained or evaluated together, so a step costs
 * the same ~50 tensor ops whether it moves one model or a thousand (DESIGN.md §13, "many models,
 * one op"). Parameters are stacked per layer (dense kernels [M, in, out], biases [M, 1, out]), the
 * forward pass is one batched matmul per layer, every model sees its own minibatch of its own
 * task's data ([M, B, d], drawn with its own seeded order), the loss is summed over models and
 * one Adam steps the whole stack. Because model m's summed loss depends on model m's parameters
 * only, and Adam is elementwise, each member gets exactly the update it would get alone: a single
 * model is a batch of one, not a second code path.
 *
 * CNNs: tfjs has no grouped convolution. On CPU backends each model of a batch runs its own
 * conv2d (XNNPACK on wasm: measured 2–3x faster than the alternative); on webgpu, where every
 * dispatch costs, a batch turns each convolution into patches (a fixed one-hot "identity" conv2d,
 * shared by every model) followed by one batched matmul with the stacked kernels, which is exact
 * (each patch value is copied by a multiply with 1 and sums of zeros). Evaluation (no tape) has a
 * route of its own for CNNs on CPU backends, forwardEval: model by model, bias fused into the
 * convolution, one shared copy of the inputs.
 */
import * as tf from '@tensorflow/tfjs';
import { InputError, NumericError, throwIfAborted } from '../errors.ts';
import { yieldToEventLoop, type RunControl } from '../progress.ts';
import type { Rng } from '../rng.ts';
import { rowsPerDeviceBuffer } from '../backend-webgpu.ts';
import { readAndDispose, readF32 } from '../common/readback.ts';
import {
  inputSize,
  strideTwoSize,
  widestActivation,
  type Layout,
  type ParamSpec,
} from './architecture.ts';
import { LEAKY_RELU_SLOPE, activate } from './forward.ts';
import type { Activation } from '../../../shared/schemas/zoo.ts';
import { checkLength } from './params.ts';
import { conv2d } from '../kernels/conv.ts';
import { SIMD_BMM, SIMD_LEAKY, SIMD_LEAKY_GRAD, SOFTMAX_CE } from '../kernels/simd.ts';
import { deviceHyperValues, fusedAdamStep, hasFusedAdam, useDeviceSteps } from '../common/optim.ts';
import { StepGraph } from '../kernels/webgpu-graph.ts';

/**
 * Batched matmul [M or 1, r, k]·[M, k, c] → [M, r, c]. On wasm it runs the SIMD kernel of
 * kernels/simd.ts, whatever M is (the stock kernel hands M = 1 to XNNPACK and M > 1 to a scalar
 * loop, so results and speed would depend on the batch size); elsewhere tf.matMul.
 */
function bmm(a: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor3D {
  if (!tf.getKernel(SIMD_BMM, tf.getBackend())) return tf.matMul(a, b);
  return tf.engine().runKernel(SIMD_BMM, { a, b }) as tf.Tensor3D;
}

const swap = (t: tf.Tensor): tf.Tensor3D => tf.transpose(t, [0, 2, 1]) as tf.Tensor3D;

tf.registerGradient({
  kernelName: SIMD_BMM,
  inputsToSave: ['a', 'b'],
  gradFunc: (dy, saved) => {
    const [a, b] = saved as [tf.Tensor3D, tf.Tensor3D];
    const g = dy as tf.Tensor3D;
    if (a.shape[0] !== b.shape[0]) {
      throw new Error(`${SIMD_BMM}: no gradient for a broadcast operand`);
    }
    return { a: () => bmm(g, swap(b)), b: () => bmm(swap(a), g) };
  },
});

/** The hidden-layer nonlinearity; leaky_relu runs as one SIMD kernel (and one for its gradient) on wasm. */
function act<T extends tf.Tensor>(x: T, activation: Activation): T {
  if (activation !== 'leaky_relu' || !tf.getKernel(SIMD_LEAKY, tf.getBackend())) {
    return activate(x, activation);
  }
  return tf.engine().runKernel(SIMD_LEAKY, { x }, { alpha: LEAKY_RELU_SLOPE }) as T;
}

tf.registerGradient({
  kernelName: SIMD_LEAKY,
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved;
    return {
      x: () =>
        tf
          .engine()
          .runKernel(
            SIMD_LEAKY_GRAD,
            { x, dy: dy as tf.Tensor },
            { alpha: attrs.alpha },
          ) as tf.Tensor,
    };
  },
});

/** Shape of one parameter tensor stacked over M models. */
function stackedShape(spec: ParamSpec, models: number): number[] {
  const s = spec.shape;
  if (s.length === 1) return [models, 1, s[0]];
  // Dense [in, out] and conv [kh, kw, cin, cout] kernels both become [M, fanIn, out]: the conv
  // kernel's HWI order is the patch order of `patches` below.
  const out = s[s.length - 1];
  return [models, spec.size / out, out];
}

/** Stacked per-layer tensors of M models, in layout order (kernel, bias per layer). */
export type StackedParams = readonly tf.Tensor3D[];

/** Stack M flat vectors into per-layer arrays (host side), checking each length. */
function stackVectors(layout: Layout, vectors: readonly Float32Array[]): Float32Array[] {
  if (vectors.length === 0) throw new InputError('a model batch needs at least one model');
  vectors.forEach((v, i) => checkLength(layout, v, `weights[${i}]`));
  return layout.params.map((p) => {
    const data = new Float32Array(vectors.length * p.size);
    vectors.forEach((v, m) => data.set(v.subarray(p.offset, p.offset + p.size), m * p.size));
    return data;
  });
}

/** Stacked parameter tensors (not variables) of M flat vectors; the caller disposes them. */
export function stackParams(layout: Layout, vectors: readonly Float32Array[]): tf.Tensor3D[] {
  const M = vectors.length;
  return stackVectors(layout, vectors).map((data, i) =>
    tf.tensor3d(data, stackedShape(layout.params[i], M) as [number, number, number]),
  );
}

/** Split per-layer stacked values back into M flat vectors, in layout order. */
function unstackValues(layout: Layout, values: readonly Float32Array[], M: number): Float32Array[] {
  const out = Array.from({ length: M }, () => new Float32Array(layout.size));
  layout.params.forEach((p, i) => {
    const v = values[i];
    for (let m = 0; m < M; m++) out[m].set(v.subarray(m * p.size, (m + 1) * p.size), p.offset);
  });
  return out;
}

/** Read stacked parameters back as M flat vectors (copies the caller owns). */
export async function unstackParams(
  layout: Layout,
  params: StackedParams,
): Promise<Float32Array[]> {
  const M = params[0]?.shape[0] ?? 0;
  const values = await Promise.all(params.map((p) => readF32(p)));
  return unstackValues(layout, values, M);
}

/** One-hot filter that copies every k×k×cin patch into k·k·cin channels, HWI order. */
function patchFilter(k: number, cin: number): tf.Tensor4D {
  const c = k * k * cin;
  const data = new Float32Array(k * k * cin * c);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      for (let ch = 0; ch < cin; ch++) {
        const inIdx = (i * k + j) * cin + ch;
        // filter[i, j, ch, inIdx] = 1 (HWIO, row-major)
        data[((i * k + j) * cin + ch) * c + inIdx] = 1;
      }
    }
  }
  return tf.tensor4d(data, [k, k, cin, c]);
}

/**
 * Logits [M, n, outputs] of M models on their own inputs `x` ([M, n, inputSize]; a shared input
 * may be [1, n, inputSize], broadcast to every model). Call inside tf.tidy; gradients reach
 * `params`.
 */
export function forwardBatch(layout: Layout, params: StackedParams, x: tf.Tensor3D): tf.Tensor3D {
  const arch = layout.arch;
  const M = checkBatchShapes(layout, params, x);
  const [xm, n] = x.shape;
  if (arch.kind === 'mlp') {
    let h: tf.Tensor3D = x;
    const layers = params.length / 2;
    for (let i = 0; i < layers; i++) {
      h = tf.add(bmm(h, params[2 * i]), params[2 * i + 1]);
      if (i + 1 < layers) h = act(h, arch.activation);
    }
    return h;
  }
  const [hh, ww, cc] = arch.inputShape;
  const k = arch.kernelSize;
  const rows = xm * n;
  let h: tf.Tensor4D = tf.reshape(x, [rows, hh, ww, cc]);
  let [curH, curW, cin] = [hh, ww, cc];
  for (let i = 0; i < arch.channels.length; i++) {
    const cout = arch.channels[i];
    const kernel = params[2 * i];
    const bias = params[2 * i + 1];
    const oh = strideTwoSize(curH);
    const ow = strideTwoSize(curW);
    let y: tf.Tensor4D;
    if (xm !== M) throw new Error('forwardBatch: a CNN batch needs one input set per model');
    if (M === 1) {
      y = conv2d(h, tf.reshape(kernel, [k, k, cin, cout]), 2, 'same');
      y = tf.add(y, tf.reshape(bias, [cout]));
    } else if (tf.getBackend() === 'webgpu') {
      // Dispatch-bound GPUs: patches of every model's own activations ([rows, oh, ow, k·k·cin])
      // from one shared one-hot conv2d, then one batched matmul with the stacked kernels.
      const p = conv2d(h, patchFilter(k, cin), 2, 'same');
      const pm = tf.reshape(p, [M, (rows / M) * oh * ow, k * k * cin]) as tf.Tensor3D;
      y = tf.reshape(tf.add(bmm(pm, kernel), bias), [rows, oh, ow, cout]);
    } else {
      // CPU backends: each model's own convolution (XNNPACK on wasm). Measured on wasm with the
      // default CNN, the patch formulation was 2–3x slower than this (its one-hot conv does
      // k·k·cin / cout times the work of the real one).
      // Unstacked as [M, everything] rows: the wasm slice kernel has fast paths up to rank 4 only
      // (a rank-5 unstack or split took ~9 ms a call here).
      const nb = rows / M;
      const hs = tf
        .unstack(tf.reshape(h, [M, nb * curH * curW * cin]))
        .map((t) => tf.reshape(t, [nb, curH, curW, cin]) as tf.Tensor4D);
      const ks = tf.unstack(tf.reshape(kernel, [M, k * k * cin * cout]));
      const bs = tf.unstack(tf.reshape(bias, [M, cout]));
      const ys = hs.map((hm, m) =>
        tf.add(conv2d(hm, tf.reshape(ks[m], [k, k, cin, cout]), 2, 'same'), bs[m]),
      );
      y = tf.reshape(tf.stack(ys), [rows, oh, ow, cout]);
    }
    h = act(y, arch.activation);
    [curH, curW, cin] = [oh, ow, cout];
  }
  return outputLayer(params, tf.reshape(tf.mean(h, [1, 2]), [xm, n, cin]) as tf.Tensor3D);
}

/** A CNN batch's dense output layer on its pooled features [M, n, channels]: logits [M, n, K]. */
function outputLayer(params: StackedParams, pooled: tf.Tensor3D): tf.Tensor3D {
  return tf.add(bmm(pooled, params[params.length - 2]), params[params.length - 1]) as tf.Tensor3D;
}

/** forwardBatch's check of a batch's parameters and inputs; returns M. */
function checkBatchShapes(layout: Layout, params: StackedParams, x: tf.Tensor3D): number {
  const M = params[0]?.shape[0];
  if (M === undefined || params.length !== layout.params.length) {
    throw new Error(
      `forwardBatch: ${params.length} parameter tensors, layout has ${layout.params.length}`,
    );
  }
  const [xm, , d] = x.shape;
  if (d !== inputSize(layout.arch) || (xm !== M && xm !== 1)) {
    throw new Error(
      `forwardBatch: input of shape [${x.shape.join(', ')}] does not fit ${M} models of ${inputSize(layout.arch)} inputs`,
    );
  }
  return M;
}

/**
 * Logits [M, n, outputs] for evaluation only (no gradient tape): forwardBatch's function, computed
 * for speed. `x` is [M, n, inputSize] (each model its own inputs) or [1, n, inputSize] (one input
 * set for every model). Call inside tf.tidy.
 *
 * A CNN on CPU backends runs model by model, each model's convolutions as one chain with the bias
 * inside the convolution (FusedConv2D; XNNPACK on wasm starts its sums at the bias), in a tidy of
 * its own so that only its pooled features outlive it, and a shared input is read in place rather
 * than copied once per model. Training's forwardBatch adds the bias after the convolution, so the
 * logits differ from it by float rounding only (on the real standard-cnn zoo: losses within 1e-6,
 * all 7,200 checkpoint × task accuracies identical; README, "Model batches"). Measured on wasm with 240 standard-cnn CNNs on 500 images: the old route (the
 * input tiled per model, per-layer unstack, conv, separate bias add, stack) spent 5.2 s of 6.6 s
 * in the tiling alone; this route takes ~1 s, mostly XNNPACK's convolutions.
 * Elsewhere (MLPs, webgpu) it is forwardBatch; a webgpu CNN batch with a shared input tiles it,
 * because its patches are per model.
 */
function forwardEval(layout: Layout, params: StackedParams, x: tf.Tensor3D): tf.Tensor3D {
  const arch = layout.arch;
  const M = checkBatchShapes(layout, params, x);
  const [xm, n, d] = x.shape;
  if (arch.kind === 'mlp') return forwardBatch(layout, params, x);
  if (tf.getBackend() === 'webgpu') {
    return forwardBatch(layout, params, xm === M ? x : (tf.tile(x, [M, 1, 1]) as tf.Tensor3D));
  }
  const [hh, ww, cc] = arch.inputShape;
  const k = arch.kernelSize;
  // Per model: its kernel as a row of [M, k·k·cin·cout], its bias as a slice of a flat [M·cout]
  // (wasm's FusedConv2D wants a bias tensor created rank-1, not a reshaped view).
  const kernels = arch.channels.map((_, i) => tf.reshape(params[2 * i], [M, -1]) as tf.Tensor2D);
  const biases = arch.channels.map(
    (cout, i) => tf.reshape(params[2 * i + 1], [M * cout]) as tf.Tensor1D,
  );
  const pooled = Array.from({ length: M }, (_, m) =>
    tf.tidy(() => {
      const xmRows = xm === 1 ? x : tf.slice(x, [m, 0, 0], [1, n, d]);
      let h = tf.reshape(xmRows, [n, hh, ww, cc]) as tf.Tensor4D;
      let cin = cc;
      arch.channels.forEach((cout, i) => {
        const size = k * k * cin * cout;
        const filter = tf.reshape(tf.slice(kernels[i], [m, 0], [1, size]), [k, k, cin, cout]);
        const bias = tf.slice(biases[i], [m * cout], [cout]);
        const y = tf.fused.conv2d({
          x: h,
          filter: filter as tf.Tensor4D,
          strides: 2,
          pad: 'same',
          bias,
        });
        h = act(y, arch.activation);
        cin = cout;
      });
      return tf.mean(h, [1, 2]) as tf.Tensor2D;
    }),
  );
  return outputLayer(params, tf.stack(pooled) as tf.Tensor3D);
}

/**
 * Per-model mean softmax cross-entropy [M] and correct counts [M] of logits [M, B, K] against
 * integer labels [M, B].
 */
export function batchLossAndCorrect(
  logits: tf.Tensor3D,
  labels: tf.Tensor2D,
): { loss: tf.Tensor1D; correct: tf.Tensor1D } {
  const [, B, K] = logits.shape;
  if (tf.getKernel(SOFTMAX_CE, tf.getBackend())) return fusedLossAndCorrect(logits, labels);
  const onehot = tf.oneHot(labels, K) as tf.Tensor3D;
  // Cross-entropy with its gradient written out, softmax − onehot: 5 backward ops instead of the
  // ~20 that differentiating logSoftmax produces.
  const ce = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [z, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const logp = tf.logSoftmax(z);
    // Saved tensors outlive the forward scope; the one-hot labels are needed in the backward.
    save([logp, onehot]);
    return {
      value: tf.neg(tf.mean(tf.sum(tf.mul(onehot, logp), 2), 1)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.mul(tf.sub(tf.exp(saved[0]), saved[1]), tf.reshape(tf.div(dy, B), [-1, 1, 1])),
    };
  });
  const loss = ce(logits) as tf.Tensor1D;
  const correct = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 2), labels), 'float32'), 1);
  return { loss, correct: correct as tf.Tensor1D };
}

/**
 * batchLossAndCorrect through the fused kernel (wasm): loss, correct and the loss's gradient come
 * from one pass. Under a gradient tape the kernel runs inside a customGrad, which saves the
 * precomputed gradient for the backward (times dy); outside one the gradient is not computed.
 */
function fusedLossAndCorrect(
  logits: tf.Tensor3D,
  labels: tf.Tensor2D,
): { loss: tf.Tensor1D; correct: tf.Tensor1D } {
  const run = (z: tf.Tensor, withGrad: boolean) =>
    tf.engine().runKernel(SOFTMAX_CE, { logits: z, labels }, { withGrad }) as tf.Tensor[];
  if (tf.engine().state.gradientDepth === 0) {
    const [loss, correct] = run(logits, false) as [tf.Tensor1D, tf.Tensor1D];
    return { loss, correct };
  }
  // The customGrad's forward runs in a scope of its own: `correct` is kept to leave it, then
  // handed to the caller's scope as a clone (the same data, no copy).
  let kept: tf.Tensor | undefined;
  const ce = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [z, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const [value, correct, grad] = run(z, true) as [tf.Tensor1D, tf.Tensor1D, tf.Tensor3D];
    save([grad]);
    kept = tf.keep(correct);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(saved[0], tf.reshape(dy, [-1, 1, 1])),
    };
  });
  const loss = ce(logits);
  if (!kept) throw new Error(`${SOFTMAX_CE}: the forward did not run`);
  const correct = tf.clone(kept) as tf.Tensor1D;
  kept.dispose();
  return { loss, correct };
}

/** One model of a batch: its start, its data and its shuffling. */
export interface BatchMember {
  /** Starting weights (not modified). */
  readonly init: Float32Array;
  /** Training inputs, `n × inputSize` row-major. */
  readonly xTrain: Float32Array;
  /** Training labels in 0..outputs-1. */
  readonly yTrain: Int32Array;
  /** Optional test inputs, evaluated after every epoch. */
  readonly xTest?: Float32Array;
  /** Labels of xTest. */
  readonly yTest?: Int32Array;
  /** Drives this member's per-epoch shuffling; nothing else is random. */
  readonly rng: Rng;
  /** Who this member is, for errors ("task t12, seed 1"). */
  readonly name?: string;
}

/** Metrics of one finished training epoch of one model. */
export interface EpochRecord {
  /** 1-based epoch number. */
  readonly epoch: number;
  /** Mean cross-entropy over the epoch's minibatches (running, as Keras reports it). */
  readonly trainLoss: number;
  /** Fraction of training samples classified correctly during the epoch (running). */
  readonly trainAcc: number;
  /** Accuracy of the end-of-epoch weights on the test set, when one was given. */
  readonly testAcc?: number;
  /** Cross-entropy of the end-of-epoch weights on the test set, when one was given. */
  readonly testLoss?: number;
}

export interface TrainBatchArgs {
  /** Architecture and parameter layout, shared by every member. */
  readonly layout: Layout;
  /** The models; every member has the same number of training (and test) samples. */
  readonly members: readonly BatchMember[];
  /** Number of passes over each training set (0 returns the inits unchanged). */
  readonly epochs: number;
  /** Minibatch size; the last batch of an epoch may be smaller. */
  readonly batchSize: number;
  /** Adam learning rate. */
  readonly lr: number;
  /**
   * Called after every epoch with each member's metrics; `params()` reads every member's
   * end-of-epoch weights (copies the callee owns), for checkpoints.
   */
  readonly onEpoch?: (
    epoch: number,
    records: readonly EpochRecord[],
    params: () => Promise<Float32Array[]>,
  ) => void | Promise<void>;
  /** Cancellation (checked between batches) and per-epoch progress. */
  readonly control?: RunControl;
  /** Stage name used in NumericError messages; default 'classifier'. */
  readonly stage?: string;
}

export interface TrainBatchResult {
  /** Final weights, one flat vector per member. */
  readonly params: Float32Array[];
  /** history[m][e]: member m's record of epoch e+1. */
  readonly history: EpochRecord[][];
}

const YIELD_EVERY_MS = 50;
const EVAL_ROWS = 2048;

function memberName(members: readonly BatchMember[], m: number): string {
  const name = members[m].name;
  return members.length === 1 && name === undefined
    ? 'model'
    : `member ${m}${name ? ` (${name})` : ''}`;
}

/** Check data against the layout (sizes, labels in range); returns the sample count. */
export function checkData(layout: Layout, x: Float32Array, y: Int32Array, what: string): number {
  const d = inputSize(layout.arch);
  const n = y.length;
  if (x.length !== n * d) {
    throw new InputError(
      `${x.length} input values for ${n} labels; expected ${d} values per sample`,
      what,
    );
  }
  const k = layout.arch.outputs;
  for (let i = 0; i < n; i++) {
    if (y[i] < 0 || y[i] >= k) {
      throw new InputError(`label ${y[i]} at sample ${i} is outside 0..${k - 1}`, what);
    }
  }
  return n;
}

/** Validate a batch: same sample counts for every member, labels in range, inits of the right size. */
function checkMembers(
  layout: Layout,
  members: readonly BatchMember[],
): { n: number; nTest: number } {
  if (members.length === 0) throw new InputError('a model batch needs at least one model');
  let n = -1;
  let nTest = -1;
  members.forEach((mb, m) => {
    const who = memberName(members, m);
    const suffix = members.length === 1 ? '' : ` of ${who}`;
    checkLength(layout, mb.init, `init${suffix}`);
    const nm = checkData(layout, mb.xTrain, mb.yTrain, `training data${suffix}`);
    if (nm === 0) throw new InputError('the training set is empty', `training data${suffix}`);
    if (n >= 0 && nm !== n) {
      throw new InputError(
        `${who} has ${nm} training samples, member 0 has ${n}; a batch needs equal counts`,
        'model batch',
      );
    }
    n = nm;
    const hasTest = mb.xTest !== undefined && mb.yTest !== undefined;
    const nt =
      hasTest && mb.xTest && mb.yTest
        ? checkData(layout, mb.xTest, mb.yTest, `test data${suffix}`)
        : -1;
    if (m > 0 && nt !== nTest) {
      throw new InputError(
        `${who} has ${nt < 0 ? 'no' : nt} test samples, member 0 has ${nTest < 0 ? 'none' : nTest}; a batch needs equal counts`,
        'model batch',
      );
    }
    nTest = nt;
  });
  return { n, nTest };
}

function concat<T extends Float32Array | Int32Array>(
  parts: readonly T[],
  make: (n: number) => T,
): T {
  const out = make(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Adam over stacked parameters, on tensors (no readback per step). Same update as tf.train.adam:
 * m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², w ← w − lr·m̂/(√v̂ + ε).
 */
class StackedAdam {
  private readonly m: tf.Variable[];
  private readonly v: tf.Variable[];
  private t = 0;
  constructor(
    private readonly vars: readonly tf.Variable[],
    private readonly lr: number,
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly epsilon = 1e-8,
  ) {
    this.m = vars.map((x) => tf.tidy(() => tf.variable(tf.zerosLike(x), false)));
    this.v = vars.map((x) => tf.tidy(() => tf.variable(tf.zerosLike(x), false)));
  }

  apply(grads: readonly tf.Tensor[]): void {
    this.t += 1;
    const { beta1: b1, beta2: b2 } = this;
    const c1 = 1 - Math.pow(b1, this.t);
    const c2 = 1 - Math.pow(b2, this.t);
    // One fused kernel per parameter tensor where the backend has it (wasm), else tensor ops.
    if (hasFusedAdam()) {
      const hp = { lr: this.lr, beta1: b1, beta2: b2, c1, c2, epsilon: this.epsilon, decay: 0 };
      for (let i = 0; i < this.vars.length; i++) {
        fusedAdamStep(this.vars[i], this.m[i], this.v[i], grads[i], hp);
      }
      return;
    }
    tf.tidy(() => {
      for (let i = 0; i < this.vars.length; i++) {
        const g = grads[i];
        const m = this.m[i];
        const v = this.v[i];
        m.assign(tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1)));
        v.assign(tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2)));
        const step = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), this.epsilon));
        this.vars[i].assign(tf.sub(this.vars[i], tf.mul(step, this.lr)));
      }
    });
  }

  /** The next step's device `hp` input (counts the step); see Adam.deviceHyper. */
  deviceHyper(): Float32Array {
    this.t += 1;
    const { beta1, beta2, epsilon } = this;
    return deviceHyperValues(
      { beta1, beta2, epsilon, weightDecay: 0, emaDecay: 0 },
      this.t,
      this.lr,
      0,
    );
  }

  /** The step on the device, inside a step graph (FUSED_ADAM's device inputs). */
  applyOnDevice(grads: readonly tf.Tensor[], stat: tf.Tensor, hp: tf.Tensor): void {
    for (let i = 0; i < this.vars.length; i++) {
      fusedAdamStep(this.vars[i], this.m[i], this.v[i], grads[i], { hp, stat });
    }
  }

  dispose(): void {
    for (const x of this.m) x.dispose();
    for (const x of this.v) x.dispose();
  }
}

/** Rows of [M, rows, widest] activations that fit one device buffer (all of them on wasm). */
function evalRows(layout: Layout, models: number): number {
  return rowsPerDeviceBuffer(4 * models * widestActivation(layout.arch), EVAL_ROWS);
}

/**
 * Per-model [summed loss, correct count] of stacked params on x [M or 1, n, d] with labels y
 * (host, M·n or n values), in row chunks. Returns mean loss and accuracy per model.
 */
async function evaluateStacked(
  layout: Layout,
  params: StackedParams,
  x: tf.Tensor3D,
  y: Int32Array,
): Promise<{ loss: number[]; accuracy: number[] }> {
  const M = params[0].shape[0];
  const [xm, n, d] = x.shape;
  const lossSum = new Float64Array(M);
  const correct = new Float64Array(M);
  const rows = evalRows(layout, M);
  for (let start = 0; start < n; start += rows) {
    const size = Math.min(rows, n - start);
    const both = tf.tidy(() => {
      const xb = size === n ? x : tf.slice(x, [0, start, 0], [xm, size, d]);
      const labels = new Int32Array(M * size);
      for (let m = 0; m < M; m++) {
        const off = xm === 1 ? 0 : m * n;
        labels.set(y.subarray(off + start, off + start + size), m * size);
      }
      const logits = forwardEval(layout, params, xb);
      const r = batchLossAndCorrect(logits, tf.tensor2d(labels, [M, size], 'int32'));
      return tf.stack([tf.mul(r.loss, size), r.correct]);
    });
    const vals = await readAndDispose(both);
    for (let m = 0; m < M; m++) {
      lossSum[m] += vals[m];
      correct[m] += vals[M + m];
    }
  }
  return {
    loss: Array.from(lossSum, (s) => s / n),
    accuracy: Array.from(correct, (c) => c / n),
  };
}

/**
 * The predicted class (arg-max of the logits) of every sample under each of many weight vectors,
 * as model batches: one shared copy of the inputs, models in groups that fit the device, row
 * chunks as evaluateBatch. One Int32Array of n classes per vector, in order.
 */
export async function predictBatch(
  layout: Layout,
  paramsList: readonly Float32Array[],
  x: Float32Array,
): Promise<Int32Array[]> {
  const d = inputSize(layout.arch);
  const n = x.length / d;
  if (!Number.isInteger(n) || n < 1) {
    throw new InputError(`${x.length} input values do not hold whole samples of ${d} values`);
  }
  paramsList.forEach((p, i) => checkLength(layout, p, `weights[${i}]`));
  if (paramsList.length === 0) return [];
  const perGroup = modelsPerBatch(layout, 0, n, 1);
  const out: Int32Array[] = [];
  const xt = tf.tensor3d(x, [1, n, d]);
  try {
    for (let s = 0; s < paramsList.length; s += perGroup) {
      const group = paramsList.slice(s, s + perGroup);
      const params = stackParams(layout, group);
      try {
        const M = group.length;
        const classes = group.map(() => new Int32Array(n));
        const rows = evalRows(layout, M);
        for (let start = 0; start < n; start += rows) {
          const size = Math.min(rows, n - start);
          const pred = tf.tidy(() => {
            const xb = size === n ? xt : tf.slice(xt, [0, start, 0], [1, size, d]);
            return tf.argMax(forwardEval(layout, params, xb), 2);
          });
          let vals: Int32Array;
          try {
            vals = (await pred.data()) as Int32Array;
          } finally {
            pred.dispose();
          }
          for (let m = 0; m < M; m++) {
            classes[m].set(vals.subarray(m * size, (m + 1) * size), start);
          }
        }
        out.push(...classes);
      } finally {
        tf.dispose(params);
      }
    }
  } finally {
    xt.dispose();
  }
  return out;
}

/**
 * Train every member of a batch with Adam from its init. Throws NumericError naming the member
 * (and the epoch) as soon as an epoch produced a non-finite loss for any of them, before any
 * checkpoint of that epoch is handed out; CancelledError on abort.
 */
/**
 * Each member's rows `order[start … start+bs)` of its own data, stacked as [M, bs, d] inputs and
 * [M, bs] labels. Fresh arrays each step: some backends keep the array a tensor was made from.
 * A function of its own, so V8 optimises this hot loop by itself rather than as part of
 * trainBatch's long async body (alone, it copies a 100-member standard-zoo step in ~0.25 ms).
 */
function gatherMinibatch(
  xs: readonly Float32Array[],
  ys: readonly Int32Array[],
  orders: readonly Int32Array[],
  start: number,
  bs: number,
  d: number,
): { xHost: Float32Array; yHost: Int32Array } {
  const M = xs.length;
  const xHost = new Float32Array(M * bs * d);
  const yHost = new Int32Array(M * bs);
  for (let m = 0; m < M; m++) {
    const o = orders[m];
    const xm = xs[m];
    const ym = ys[m];
    for (let j = 0; j < bs; j++) {
      const r = o[start + j];
      // A plain loop, not set(subarray()): a view object per row was most of this copy's time
      // and garbage at the standard zoo's 64,000 rows per epoch.
      const src = r * d;
      const dst = (m * bs + j) * d;
      for (let e = 0; e < d; e++) xHost[dst + e] = xm[src + e];
      yHost[m * bs + j] = ym[r];
    }
  }
  return { xHost, yHost };
}

export async function trainBatch(args: TrainBatchArgs): Promise<TrainBatchResult> {
  const { layout, members, epochs, batchSize, lr, control } = args;
  const stage = args.stage ?? 'classifier';
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new InputError(`batchSize must be a positive integer, got ${batchSize}`);
  }
  const { n, nTest } = checkMembers(layout, members);
  const M = members.length;
  const d = inputSize(layout.arch);
  // Minibatches are gathered on the host and uploaded as one [M, B, d] tensor per step: the wasm
  // GatherV2 kernel took ~7 ms per gather from a [M·n, d] source at the standard zoo's size.
  const xs = members.map((m) => m.xTrain);
  const ys = members.map((m) => m.yTrain);
  const yTest =
    nTest > 0
      ? concat(
          members.map((m) => m.yTest ?? new Int32Array(0)),
          (k) => new Int32Array(k),
        )
      : null;
  const xTest =
    nTest > 0
      ? tf.tensor3d(
          concat(
            members.map((m) => m.xTest ?? new Float32Array(0)),
            (k) => new Float32Array(k),
          ),
          [M, nTest, d],
        )
      : null;
  const vars = stackVectors(
    layout,
    members.map((m) => m.init),
  ).map((data, i) =>
    tf.tidy(() =>
      tf.variable(
        tf.tensor3d(data, stackedShape(layout.params[i], M) as [number, number, number]),
        true,
      ),
    ),
  );
  const opt = new StackedAdam(vars, lr);
  const history: EpochRecord[][] = members.map(() => []);
  // On webgpu each minibatch size's step is a replayed graph (kernels/webgpu-graph.ts): forward,
  // loss, gradients and the fused Adam of the stack, its [loss, correct] per model read once an
  // epoch as before. A NaN loss (the sum over models) leaves the weights as they were.
  const graphs = new Map<number, StepGraph>();
  const graphFor = (bs: number): StepGraph => {
    let g = graphs.get(bs);
    if (!g) {
      g = new StepGraph(
        [
          { shape: [M, bs, d], dtype: 'float32' },
          { shape: [M, bs], dtype: 'int32' },
          { shape: [9], dtype: 'float32' },
        ],
        ([xb, yb, hp]) => {
          const kept: tf.Tensor[] = [];
          const { value, grads } = tf.variableGrads(() => {
            const r = batchLossAndCorrect(
              forwardBatch(layout, vars, xb as tf.Tensor3D),
              yb as tf.Tensor2D,
            );
            kept.push(tf.keep(r.loss), tf.keep(r.correct));
            return tf.sum(r.loss) as tf.Scalar;
          }, vars);
          opt.applyOnDevice(
            vars.map((v) => {
              const grad = grads[v.name];
              if (!grad) throw new Error(`${stage}: no gradient for ${v.name}`);
              return grad;
            }),
            tf.stack([tf.scalar(0), value]),
            hp,
          );
          const out = tf.concat(kept);
          tf.dispose(kept);
          return [out];
        },
      );
      graphs.set(bs, g);
    }
    return g;
  };
  const onDevice = useDeviceSteps();
  let step = 0;
  let lastYield = Date.now();
  try {
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const orders = members.map((mb) => mb.rng.permutation(n));
      const losses: tf.Tensor1D[] = [];
      const corrects: tf.Tensor1D[] = [];
      const sizes: number[] = [];
      const pending: Promise<Float32Array[]>[] = [];
      try {
        for (let start = 0; start < n; start += batchSize) {
          throwIfAborted(control?.signal);
          const bs = Math.min(n, start + batchSize) - start;
          const { xHost, yHost } = gatherMinibatch(xs, ys, orders, start, bs, d);
          if (onDevice) {
            pending.push(graphFor(bs).start([xHost, yHost, opt.deviceHyper()]));
            sizes.push(bs);
            step++;
            continue;
          }
          const xb = tf.tensor3d(xHost, [M, bs, d]);
          const yb = tf.tensor2d(yHost, [M, bs], 'int32');
          const { value, grads } = tf.variableGrads(() => {
            const r = batchLossAndCorrect(forwardBatch(layout, vars, xb), yb);
            losses.push(tf.keep(r.loss));
            corrects.push(tf.keep(r.correct));
            return tf.sum(r.loss) as tf.Scalar;
          }, vars);
          xb.dispose();
          yb.dispose();
          sizes.push(bs);
          value.dispose();
          try {
            opt.apply(
              vars.map((v) => {
                const g = grads[v.name];
                if (!g) throw new Error(`${stage}: no gradient for ${v.name}`);
                return g;
              }),
            );
          } finally {
            tf.dispose(grads);
          }
          step++;
          if (Date.now() - lastYield > YIELD_EVERY_MS) {
            await yieldToEventLoop();
            lastYield = Date.now();
          }
        }
        // One readback per epoch: [steps, M] losses and correct counts.
        let lossVals: Float32Array;
        let correctVals: Float32Array;
        if (onDevice) {
          const outs = await Promise.all(pending);
          lossVals = new Float32Array(outs.length * M);
          correctVals = new Float32Array(outs.length * M);
          outs.forEach(([o], s) => {
            lossVals.set(o.subarray(0, M), s * M);
            correctVals.set(o.subarray(M, 2 * M), s * M);
          });
        } else {
          lossVals = await readAndDispose(tf.stack(losses));
          correctVals = await readAndDispose(tf.stack(corrects));
        }
        const lossSum = new Float64Array(M);
        const correctSum = new Float64Array(M);
        for (let s = 0; s < sizes.length; s++) {
          for (let m = 0; m < M; m++) {
            const v = lossVals[s * M + m];
            if (!Number.isFinite(v)) {
              throw new NumericError(
                stage,
                step - sizes.length + s + 1,
                `training loss ${v} for ${memberName(members, m)} (epoch ${epoch})`,
              );
            }
            lossSum[m] += v * sizes[s];
            correctSum[m] += correctVals[s * M + m];
          }
        }
        const test = xTest && yTest ? await evaluateStacked(layout, vars, xTest, yTest) : null;
        const records = members.map((_, m): EpochRecord => ({
          epoch,
          trainLoss: lossSum[m] / n,
          trainAcc: correctSum[m] / n,
          ...(test ? { testAcc: test.accuracy[m], testLoss: test.loss[m] } : {}),
        }));
        records.forEach((r, m) => history[m].push(r));
        // Progress shows the batch's mean (the model's own values for a batch of one).
        const avg = (f: (r: EpochRecord) => number | undefined): number =>
          records.reduce((sum, r) => sum + (f(r) ?? NaN), 0) / records.length;
        control?.onProgress?.({
          value: epoch,
          max: epochs,
          unit: 'epoch',
          metrics: {
            loss: avg((r) => r.trainLoss),
            trainAcc: avg((r) => r.trainAcc),
            ...(test ? { testAcc: avg((r) => r.testAcc) } : {}),
          },
        });
        if (args.onEpoch) await args.onEpoch(epoch, records, () => unstackParams(layout, vars));
      } finally {
        for (const t of losses) t.dispose();
        for (const t of corrects) t.dispose();
      }
    }
    return { params: await unstackParams(layout, vars), history };
  } finally {
    for (const g of graphs.values()) g.dispose();
    opt.dispose();
    for (const v of vars) v.dispose();
    xTest?.dispose();
  }
}

/** Loss and accuracy of a classifier on a labelled set. */
export interface Evaluation {
  /** Mean softmax cross-entropy. */
  readonly loss: number;
  /** Fraction classified correctly. */
  readonly accuracy: number;
}

/**
 * Evaluate many weight vectors on the same data at once (one batched forward per row chunk,
 * models in groups that fit the device). One Evaluation per vector, in order.
 */
export async function evaluateBatch(
  layout: Layout,
  paramsList: readonly Float32Array[],
  x: Float32Array,
  y: Int32Array,
  /** Most models per group (default: what fits the device, see modelsPerBatch). */
  maxModels?: number,
): Promise<Evaluation[]> {
  const n = checkData(layout, x, y, 'evaluation data');
  const perGroup = maxModels ?? modelsPerBatch(layout, 0, n, 1);
  paramsList.forEach((p, i) => checkLength(layout, p, `weights[${i}]`));
  if (paramsList.length === 0) return [];
  const out: Evaluation[] = [];
  // One copy of the inputs for every group and model (forwardEval reads it shared).
  const xt = tf.tensor3d(x, [1, n, inputSize(layout.arch)]);
  try {
    for (let s = 0; s < paramsList.length; s += perGroup) {
      const group = paramsList.slice(s, s + perGroup);
      const params = stackParams(layout, group);
      try {
        const r = await evaluateStacked(layout, params, xt, y);
        group.forEach((_, m) => out.push({ loss: r.loss[m], accuracy: r.accuracy[m] }));
      } finally {
        tf.dispose(params);
      }
    }
  } finally {
    xt.dispose();
  }
  return out;
}

/**
 * Indices of `members` cut into model batches: members with equal training and test sample
 * counts together, at most `modelsPerBatch` (what fits the device) per batch, in order.
 */
export function batchGroups(
  layout: Layout,
  members: readonly { xTrain?: Float32Array; yTrain?: Int32Array; yTest?: Int32Array }[],
  batchSize: number,
  maxModels = Infinity,
): number[][] {
  const groups = new Map<string, number[]>();
  members.forEach((m, i) => {
    const key = `${m.yTrain?.length ?? 0}/${m.yTest?.length ?? -1}`;
    const g = groups.get(key) ?? [];
    g.push(i);
    groups.set(key, g);
  });
  const out: number[][] = [];
  for (const g of groups.values()) {
    const first = members[g[0]];
    const cap = Math.min(
      maxModels,
      modelsPerBatch(layout, first.yTrain?.length ?? 0, first.yTest?.length ?? 0, batchSize),
    );
    const per = Math.max(1, cap);
    for (let i = 0; i < g.length; i += per) out.push(g.slice(i, i + per));
  }
  return out;
}

/**
 * Loss and accuracy of each member's init on its own test set, as model batches (members with
 * equal test counts together). One Evaluation per member, in order.
 */
export async function evaluateMembers(
  layout: Layout,
  members: readonly { init: Float32Array; xTest: Float32Array; yTest: Int32Array }[],
): Promise<Evaluation[]> {
  const out = new Array<Evaluation>(members.length);
  members.forEach((m, i) => {
    checkLength(layout, m.init, `weights[${i}]`);
    checkData(layout, m.xTest, m.yTest, `test data of member ${i}`);
  });
  const d = inputSize(layout.arch);
  for (const g of batchGroups(
    layout,
    members.map((m) => ({ yTest: m.yTest })),
    1,
  )) {
    const nTest = members[g[0]].yTest.length;
    const params = stackParams(
      layout,
      g.map((i) => members[i].init),
    );
    const x = tf.tensor3d(
      concat(
        g.map((i) => members[i].xTest),
        (k) => new Float32Array(k),
      ),
      [g.length, nTest, d],
    );
    try {
      const r = await evaluateStacked(
        layout,
        params,
        x,
        concat(
          g.map((i) => members[i].yTest),
          (k) => new Int32Array(k),
        ),
      );
      g.forEach((i, j) => {
        out[i] = { loss: r.loss[j], accuracy: r.accuracy[j] };
      });
    } finally {
      x.dispose();
      tf.dispose(params);
    }
  }
  return out;
}

/** Bytes a model batch may take on the wasm/cpu heap (the wasm32 heap tops out at 4 GB). */
export const BATCH_MEMORY_BUDGET = 1024 * 1024 * 1024;

/**
 * The most models one batch should hold for this layout and data size: what fits the memory
 * budget (training and test inputs, parameters with Adam's moments and gradients, activations of
 * a step and of an evaluation chunk) and, on a GPU, the largest single buffer the device allows.
 * Never a fixed constant: a small GPU gets smaller batches, and 1 is always allowed.
 */
export function modelsPerBatch(
  layout: Layout,
  nTrain: number,
  nTest: number,
  batchSize: number,
  budgetBytes = BATCH_MEMORY_BUDGET,
): number {
  const d = inputSize(layout.arch);
  const wide = widestActivation(layout.arch);
  const bytesPerModel =
    4 *
    ((nTrain + nTest) * d +
      5 * layout.size +
      8 * Math.min(batchSize, nTrain) * wide +
      3 * Math.min(nTest, EVAL_ROWS) * wide);
  const byBudget = Math.max(1, Math.floor(budgetBytes / bytesPerModel));
  // The largest tensors are the stacked training inputs [M·nTrain, d] and the patches of a CNN.
  const byBuffer = rowsPerDeviceBuffer(4 * Math.max(nTrain * d, batchSize * wide * 9), byBudget);
  return Math.max(1, Math.min(byBudget, byBuffer));
}
