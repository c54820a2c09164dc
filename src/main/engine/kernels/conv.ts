/**
 * Convolution that model code calls instead of tf.conv2d, so that it stays trainable on every
 * backend. The wasm backend ships no Conv2DBackpropFilter kernel; kernels/wasm.ts registers one
 * (a forward XNNPACK convolution of transposed operands), and this wrapper makes sure it is there
 * even when the backend was switched to wasm without initBackend.
 */
import * as tf from '@tensorflow/tfjs';
import { installWasmKernels } from './wasm.ts';

/**
 * 2-D convolution, NHWC input and HWIO filter, differentiable with respect to both. Use this (not
 * tf.conv2d) in trainable models: on wasm, tf.conv2d alone has no filter gradient.
 */
export function conv2d(
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  strides: number,
  pad: 'same' | 'valid',
): tf.Tensor4D {
  if (tf.getBackend() === 'wasm' && !tf.getKernel('Conv2DBackpropFilter', 'wasm')) {
    installWasmKernels();
  }
  return tf.conv2d(x, filter, strides, pad);
}
