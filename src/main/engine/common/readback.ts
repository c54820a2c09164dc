/**
 * Reading tensors back to the host, asynchronously. Every backend implements `tensor.data()`, but
 * tfjs-backend-webgpu in Node has no synchronous readback (its readSync needs OffscreenCanvas), so
 * the engine never calls dataSync/arraySync/bufferSync (an eslint rule enforces it).
 *
 * tf.tidy cannot span an await: compute inside a tidy, return the tensors to read, read them with
 * these helpers outside it. The returned arrays are fresh copies the caller owns (on the cpu
 * backend `data()` hands out the tensor's own storage, which other tensors may share).
 */
import * as tf from '@tensorflow/tfjs';

/** A copy of `t`'s values as float32; `t` is left alone. */
export async function readF32(t: tf.Tensor): Promise<Float32Array> {
  return Float32Array.from(await t.data());
}

/** A copy of `t`'s values as float32, then `t` is disposed (also when reading fails). */
export async function readAndDispose(t: tf.Tensor): Promise<Float32Array> {
  try {
    return await readF32(t);
  } finally {
    t.dispose();
  }
}

/** The first value of `t` (a scalar's value); `t` is left alone. */
export async function readScalar(t: tf.Tensor): Promise<number> {
  const v = await t.data();
  return Number(v[0]);
}

/** Copies of the values of several tensors (e.g. a model's variables), in order; none disposed. */
export function readAll(ts: readonly tf.Tensor[]): Promise<Float32Array[]> {
  return Promise.all(ts.map((t) => readF32(t)));
}

/**
 * The values of many scalars in one readback: they are stacked on the backend first, so a loop
 * that collects a loss per batch pays one GPU→host transfer per epoch, not one per batch.
 */
export async function readScalars(scalars: readonly tf.Tensor[]): Promise<Float32Array> {
  if (scalars.length === 0) return new Float32Array(0);
  return readAndDispose(tf.stack([...scalars]));
}
