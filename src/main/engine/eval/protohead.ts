/**
 * Heads fitted in closed form on a network's body (an MLP's hidden layers, a CNN's convolutions
 * and pooling): keep the body, and set the output layer from labelled samples in the space the
 * head reads. Output i then means class i by
 * construction, which is exactly what a class-order-blind generator cannot know for an unseen
 * class tuple.
 * - `prototypeHead`: the support set's class prototypes (a nearest-class-mean rule written as a
 *   linear layer: w_c = μ_c, b_c = −‖μ_c‖²/2).
 * - `discriminantHead`: linear discriminant analysis with a shrunk shared covariance, on any
 *   labelled samples (discriminant.ts).
 */
import { supportLabels } from '../data/tasks.ts';
import { InputError } from '../errors.ts';
import { inputSize, type Layout } from '../nn/architecture.ts';
import { bodyFeatures, LEAKY_RELU_SLOPE } from '../nn/forward.ts';
import { DEFAULT_SHRINKAGE, fitDiscriminant } from './discriminant.ts';

function activate(v: number, kind: string): number {
  if (kind === 'relu') return v > 0 ? v : 0;
  if (kind === 'tanh') return Math.tanh(v);
  return v > 0 ? v : LEAKY_RELU_SLOPE * v;
}

/** Last-hidden-layer activations of `n` inputs (n × width); the input itself if no hidden layer. */
export function hiddenFeatures(
  layout: Layout,
  params: Float32Array,
  x: Float32Array,
  n: number,
): Float32Array {
  const arch = layout.arch;
  if (arch.kind !== 'mlp') throw new InputError('prototype heads need an MLP architecture');
  let h = x;
  let width = arch.inputDim;
  for (let l = 0; l < arch.hidden.length; l++) {
    const w = layout.params[2 * l];
    const b = layout.params[2 * l + 1];
    const out = arch.hidden[l];
    const next = new Float32Array(n * out);
    for (let i = 0; i < n; i++) {
      for (let o = 0; o < out; o++) {
        let s = params[b.offset + o];
        for (let j = 0; j < width; j++) s += h[i * width + j] * params[w.offset + j * out + o];
        next[i * out + o] = activate(s, arch.activation);
      }
    }
    h = next;
    width = out;
  }
  return h;
}

/**
 * A copy of `params` whose output layer is the prototype classifier of `support`
 * ([K, perClass, d], classes in output order) in the body's feature space.
 */
export async function prototypeHead(
  layout: Layout,
  params: Float32Array,
  support: Float32Array,
  k: number,
  perClass: number,
): Promise<Float32Array> {
  const arch = layout.arch;
  if (k !== arch.outputs) {
    throw new InputError(`support set has ${k} classes, the architecture ${arch.outputs} outputs`);
  }
  return prototypeHeadOf(layout, params, support, supportLabels(k, perClass));
}

/**
 * The prototype head of any labelled samples (`x`: n × inputDim, `y`: labels in output order);
 * every class needs at least one sample.
 */
export async function prototypeHeadOf(
  layout: Layout,
  params: Float32Array,
  x: Float32Array,
  y: Int32Array,
): Promise<Float32Array> {
  const h = await hiddenOf(layout, params, x, y, 'prototype');
  const k = layout.arch.outputs;
  const n = y.length;
  const width = h.length / n;
  const counts = new Int32Array(k);
  for (const c of y) counts[c]++;
  const missing = counts.findIndex((c) => c === 0);
  if (missing >= 0) throw new InputError(`prototype head: class ${missing} has no samples`);
  const mu = new Float32Array(k * width);
  for (let i = 0; i < n; i++) {
    const c = y[i];
    for (let f = 0; f < width; f++) mu[c * width + f] += h[i * width + f] / counts[c];
  }
  const weights = new Float64Array(width * k);
  const bias = new Float64Array(k);
  for (let c = 0; c < k; c++) {
    let n2 = 0;
    for (let f = 0; f < width; f++) {
      weights[f * k + c] = mu[c * width + f];
      n2 += mu[c * width + f] ** 2;
    }
    bias[c] = -n2 / 2;
  }
  return withHead(layout, params, weights, bias);
}

/**
 * What the head reads for labelled samples, after checking sizes and labels: an MLP's last hidden
 * activations (computed here, in float64 sums), a CNN's pooled channels (the engine's forward pass).
 */
async function hiddenOf(
  layout: Layout,
  params: Float32Array,
  x: Float32Array,
  y: Int32Array,
  what: string,
): Promise<Float32Array> {
  const arch = layout.arch;
  const n = y.length;
  if (n === 0) throw new InputError(`${what} head: no labelled samples`);
  if (x.length !== n * inputSize(arch)) {
    throw new InputError(
      `${x.length} input values do not hold ${n} samples of ${inputSize(arch)} features`,
    );
  }
  for (let i = 0; i < n; i++) {
    if (!(y[i] >= 0 && y[i] < arch.outputs)) {
      throw new InputError(
        `${what} head: label ${y[i]} of sample ${i} is not one of the ${arch.outputs} outputs`,
      );
    }
  }
  return headInputs(layout, params, x, n);
}

/**
 * What the output layer reads for `n` inputs (n × width): an MLP's last hidden activations
 * (float64 sums), a CNN's pooled channels (the engine's forward pass).
 */
export async function headInputs(
  layout: Layout,
  params: Float32Array,
  x: Float32Array,
  n: number,
): Promise<Float32Array> {
  return layout.arch.kind === 'mlp'
    ? hiddenFeatures(layout, params, x, n)
    : bodyFeatures(layout, params, x);
}

/**
 * A copy of `params` whose output layer is the LDA classifier (discriminant.ts) of the labelled
 * samples (`x`: n × input size, `y`: labels in output order) in the space the head reads.
 */
export async function discriminantHead(
  layout: Layout,
  params: Float32Array,
  x: Float32Array,
  y: Int32Array,
  shrinkage = DEFAULT_SHRINKAGE,
): Promise<Float32Array> {
  const h = await hiddenOf(layout, params, x, y, 'discriminant');
  const lda = fitDiscriminant(h, y, layout.arch.outputs, h.length / y.length, shrinkage);
  return withHead(layout, params, lda.weights, lda.bias);
}

/** `params` with its output layer replaced by (weights: width × K, bias: K). */
export function withHead(
  layout: Layout,
  params: Float32Array,
  weights: ArrayLike<number>,
  bias: ArrayLike<number>,
): Float32Array {
  const wSpec = layout.params[layout.params.length - 2];
  const bSpec = layout.params[layout.params.length - 1];
  const out = Float32Array.from(params);
  out.set(weights, wSpec.offset);
  out.set(bias, bSpec.offset);
  return out;
}
