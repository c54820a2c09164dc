import * as tf from '@tensorflow/tfjs';

/** Run `fn` here, read its outputs as plain arrays and dispose them. */
export function valuesOf(fn: () => tf.Tensor[]): Float32Array[] {
  const outs = fn();
  const values = outs.map((t) => t.dataSync() as Float32Array);
  tf.dispose(outs);
  return values;
}

/** Run `fn` on another tfjs backend, read its outputs as plain arrays, then switch back. */
export async function onBackend(name: string, fn: () => tf.Tensor[]): Promise<Float32Array[]> {
  const before = tf.getBackend();
  if (!(await tf.setBackend(name))) throw new Error(`cannot switch to backend ${name}`);
  try {
    return valuesOf(fn);
  } finally {
    await tf.setBackend(before);
  }
}

/** Largest absolute difference between two equally long arrays. */
export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
  return m;
}

/** maxAbsDiff relative to the reference's largest magnitude (at least 1). */
export function scaledDiff(got: Float32Array, want: Float32Array): number {
  return maxAbsDiff(got, want) / Math.max(1, ...Array.from(want, Math.abs));
}
