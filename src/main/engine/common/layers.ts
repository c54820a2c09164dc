/**
 * Small functional layers over a name → tensor map, so the same forward code runs on training
 * variables and on EMA copies. Call them inside tf.tidy.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.ts';
import { LAYER_NORM, LAYER_NORM_GRAD } from '../kernels/simd.ts';
import { wasmGemmEnabled } from '../kernels/wasm.ts';
import { affine } from './matmul.ts';
import type { ParamSet } from './params.ts';

/** Hidden nonlinearities the VAE and the denoiser offer. */
export type Act = 'leaky_relu' | 'elu' | 'tanh' | 'silu' | 'relu';

/** Negative slope of leaky_relu in the generator networks (the usual autoencoder choice). */
export const LEAKY_SLOPE = 0.2;

export function act<T extends tf.Tensor>(x: T, kind: Act): T {
  switch (kind) {
    case 'leaky_relu':
      return tf.leakyRelu(x, LEAKY_SLOPE);
    case 'elu':
      return tf.elu(x);
    case 'tanh':
      return tf.tanh(x);
    case 'relu':
      return tf.relu(x);
    case 'silu':
      return tf.mul(x, tf.sigmoid(x));
  }
}

/** Initialisation of a dense weight matrix. */
export type DenseInit = 'he' | 'glorot' | 'zero';

/**
 * Create `${name}.w` [inDim, outDim] and `${name}.b` [outDim]. 'he' suits (leaky) ReLU-family
 * hidden layers, 'glorot' linear heads, 'zero' the last layer of a residual branch or an
 * eps-prediction head (so training starts from the identity / zero output).
 */
export function createDense(
  ps: ParamSet,
  name: string,
  inDim: number,
  outDim: number,
  rng: Rng,
  init: DenseInit = 'he',
): void {
  const shape = [inDim, outDim];
  if (init === 'zero') ps.addConst(`${name}.w`, shape, 0);
  else if (init === 'he') ps.addNormal(`${name}.w`, shape, Math.sqrt(2 / inDim), rng);
  else ps.addNormal(`${name}.w`, shape, Math.sqrt(2 / (inDim + outDim)), rng);
  ps.addConst(`${name}.b`, [outDim], 0);
}

/**
 * x·W + b with the wasm-friendly product. `inputGrad = false` for a first layer fed with data
 * (no gradient flows back to x, which saves a large product).
 */
export function dense(
  p: Record<string, tf.Tensor>,
  name: string,
  x: tf.Tensor2D,
  inputGrad = true,
): tf.Tensor2D {
  const w = p[`${name}.w`] as tf.Tensor2D | undefined;
  const b = p[`${name}.b`];
  if (!w || !b) throw new Error(`dense layer '${name}' has no parameters`);
  return affine(x, w, b, inputGrad);
}

/** Create `${name}.g` (ones) and `${name}.b` (zeros) of a layer norm over `dim`. */
export function createLayerNorm(ps: ParamSet, name: string, dim: number): void {
  ps.addConst(`${name}.g`, [dim], 1);
  ps.addConst(`${name}.b`, [dim], 0);
}

/** Layer norm over the last axis of a 2-D tensor. */
export function layerNorm(
  p: Record<string, tf.Tensor>,
  name: string,
  x: tf.Tensor2D,
  eps = 1e-5,
): tf.Tensor2D {
  const g = p[`${name}.g`];
  const b = p[`${name}.b`];
  if (!g || !b) throw new Error(`layer norm '${name}' has no parameters`);
  if (fusedLayerNormUsable(x, g, b)) {
    return fusedLayerNorm(x, g, b, eps);
  }
  const mean = tf.mean(x, 1, true);
  const centred = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centred), 1, true);
  return tf.add(tf.mul(tf.div(centred, tf.sqrt(tf.add(variance, eps))), g), b);
}

/**
 * On wasm (with our kernels, unless D2NWG_WASM_GEMM=0), a layer norm is one kernel forward and one
 * backward (kernels/simd.ts) instead of ~9 and ~20.
 */
function fusedLayerNormUsable(x: tf.Tensor2D, g: tf.Tensor, b: tf.Tensor): boolean {
  return (
    tf.getBackend() === 'wasm' &&
    wasmGemmEnabled() &&
    tf.getKernel(LAYER_NORM, 'wasm') !== undefined &&
    x.dtype === 'float32' &&
    g.rank === 1 &&
    b.rank === 1
  );
}

/** The fused layer norm for one ε (customGrad takes tensors only, so ε is closed over). */
const fusedByEps = new Map<number, (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.Tensor>();

function fusedLayerNorm(x: tf.Tensor2D, g: tf.Tensor, b: tf.Tensor, epsilon: number): tf.Tensor2D {
  let fn = fusedByEps.get(epsilon);
  if (!fn) {
    fn = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [xi, gi, bi, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
      const [y, xhat, rstd] = tf
        .engine()
        .runKernel(LAYER_NORM, { x: xi, g: gi, b: bi }, { epsilon }) as tf.Tensor[];
      if (!y || !xhat || !rstd) throw new Error(`${LAYER_NORM}: expected three outputs`);
      save([xhat, rstd, gi]);
      return {
        value: y,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [sh, sr, sg] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
          return tf
            .engine()
            .runKernel(LAYER_NORM_GRAD, { dy, xhat: sh, rstd: sr, g: sg }) as tf.Tensor[];
        },
      };
    }) as (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.Tensor;
    fusedByEps.set(epsilon, fn);
  }
  return fn(x, g, b) as tf.Tensor2D;
}
