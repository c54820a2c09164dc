/**
 * Functional forward pass: logits = f(params, x), where params is ONE flat 1-D tensor laid out by
 * layoutOf(). Layers slice their weights out of it, so gradients flow to a single flat variable and
 * loading, saving, flattening and generating weights need no per-layer bookkeeping.
 */
import * as tf from '@tensorflow/tfjs';
import type { Activation } from '../../../shared/schemas/zoo.ts';
import { conv2d } from '../kernels/conv.ts';
import { inputSize, type Layout, type ParamSpec } from './architecture.ts';

/** Slope of leaky_relu for negative inputs (PyTorch's and the paper's default). */
export const LEAKY_RELU_SLOPE = 0.01;

/** Apply the named nonlinearity. */
export function activate<T extends tf.Tensor>(x: T, activation: Activation): T {
  switch (activation) {
    case 'leaky_relu':
      return tf.leakyRelu(x, LEAKY_RELU_SLOPE);
    case 'relu':
      return tf.relu(x);
    case 'tanh':
      return tf.tanh(x);
  }
}

function take(params: tf.Tensor1D, spec: ParamSpec): tf.Tensor {
  return tf.reshape(tf.slice(params, [spec.offset], [spec.size]), [...spec.shape]);
}

/** The layers before the head: an MLP's last hidden activations (its input if none), a CNN's pooled channels. */
function body(layout: Layout, params: tf.Tensor1D, x: tf.Tensor, n: number): tf.Tensor2D {
  const arch = layout.arch;
  const specs = layout.params;
  if (arch.kind === 'mlp') {
    let h: tf.Tensor2D = tf.reshape(x, [n, arch.inputDim]);
    for (let i = 0; i + 1 < specs.length / 2; i++) {
      const w = take(params, specs[2 * i]) as tf.Tensor2D;
      const b = take(params, specs[2 * i + 1]);
      h = activate(tf.add(tf.matMul(h, w), b), arch.activation);
    }
    return h;
  }
  const [hh, ww, cc] = arch.inputShape;
  let h: tf.Tensor4D = tf.reshape(x, [n, hh, ww, cc]);
  for (let i = 0; i < arch.channels.length; i++) {
    const w = take(params, specs[2 * i]) as tf.Tensor4D;
    const b = take(params, specs[2 * i + 1]);
    h = activate(tf.add(conv2d(h, w, 2, 'same'), b), arch.activation);
  }
  return tf.mean(h, [1, 2]) as tf.Tensor2D;
}

/** Checks that `x` holds whole samples for the architecture and `params` fits the layout; n. */
function batchSize(layout: Layout, params: tf.Tensor1D, x: tf.Tensor): number {
  const n = x.shape[0];
  if (n === undefined || x.size !== n * inputSize(layout.arch)) {
    throw new Error(
      `forward: input of shape [${x.shape.join(', ')}] does not match the architecture's ${inputSize(layout.arch)} values per sample`,
    );
  }
  if (params.size !== layout.size) {
    throw new Error(`forward: ${params.size} parameters given, layout needs ${layout.size}`);
  }
  return n;
}

/**
 * Logits [n, outputs] for a batch. `x` may be flat ([n, inputSize]) or shaped ([n, h, w, c] for a
 * CNN). Call inside tf.tidy (or dispose the result); gradients reach `params`.
 */
export function forward(layout: Layout, params: tf.Tensor1D, x: tf.Tensor): tf.Tensor2D {
  return tf.tidy(() => {
    const h = body(layout, params, x, batchSize(layout, params, x));
    const specs = layout.params;
    const wd = take(params, specs[specs.length - 2]) as tf.Tensor2D;
    const bd = take(params, specs[specs.length - 1]);
    return tf.add(tf.matMul(h, wd), bd);
  });
}

/**
 * What the head sees for `x` (flat, n samples): n × width features of the body, the last hidden
 * layer of an MLP or a CNN's globally pooled channels.
 */
export async function bodyFeatures(
  layout: Layout,
  params: Float32Array,
  x: Float32Array,
): Promise<Float32Array> {
  const n = x.length / inputSize(layout.arch);
  const out = tf.tidy(() => {
    const p = tf.tensor1d(params);
    const xs = tf.tensor2d(x, [n, inputSize(layout.arch)]);
    return body(layout, p, xs, batchSize(layout, p, xs));
  });
  try {
    return Float32Array.from(await out.data());
  } finally {
    out.dispose();
  }
}
