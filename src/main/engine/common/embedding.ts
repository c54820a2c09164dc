/**
 * Sinusoidal embedding of diffusion timesteps (Transformer / DDPM style), computed on the CPU side
 * because the timesteps come from the seeded Rng as plain numbers anyway.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * Embed integer timesteps into `dim` features: [sin(t·f_0..f_{h-1}), cos(t·f_0..f_{h-1})] with
 * f_k = maxPeriod^(−k/h), h = ⌊dim/2⌋; an odd dim gets a trailing zero column.
 */
export function sinusoidalEmbeddingValues(
  timesteps: ArrayLike<number>,
  dim: number,
  maxPeriod = 10_000,
): Float32Array {
  const n = timesteps.length;
  const half = Math.floor(dim / 2);
  const out = new Float32Array(n * dim);
  const freqs = new Float64Array(half);
  for (let k = 0; k < half; k++) freqs[k] = Math.exp((-Math.log(maxPeriod) * k) / half);
  for (let i = 0; i < n; i++) {
    const t = timesteps[i];
    const row = i * dim;
    for (let k = 0; k < half; k++) {
      const a = t * freqs[k];
      out[row + k] = Math.sin(a);
      out[row + half + k] = Math.cos(a);
    }
  }
  return out;
}

/** The same embedding as a [n, dim] tensor (caller disposes). */
export function sinusoidalEmbedding(
  timesteps: ArrayLike<number>,
  dim: number,
  maxPeriod = 10_000,
): tf.Tensor2D {
  return tf.tensor2d(sinusoidalEmbeddingValues(timesteps, dim, maxPeriod), [timesteps.length, dim]);
}
