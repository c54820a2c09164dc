/**
 * Matmul throughput on the active backend, plain and transposed. Dense training spends its time in
 * A·B (forward) and Aᵀ·B / A·Bᵀ (gradients), so these three numbers predict training speed, and a
 * gap between them shows a backend whose transposed kernel is slow (stock wasm: ~10–40×).
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../rng.ts';

export interface MatmulBenchOptions {
  /** Side of the square matrices. */
  readonly size?: number;
  /** Timed products per variant, after one warm-up product. */
  readonly reps?: number;
  /** Seed for the operands. */
  readonly seed?: number;
}

/** GFLOP/s for each variant, counting 2·n³ flops per n×n product. */
export interface MatmulGflops {
  /** A·B. */
  readonly plain: number;
  /** Aᵀ·B. */
  readonly transposeA: number;
  /** A·Bᵀ. */
  readonly transposeB: number;
}

function operands(opts: MatmulBenchOptions): {
  n: number;
  reps: number;
  a: tf.Tensor2D;
  b: tf.Tensor2D;
} {
  const n = opts.size ?? 512;
  const reps = opts.reps ?? 5;
  if (!Number.isInteger(n) || n < 1)
    throw new RangeError(`size must be a positive integer, got ${n}`);
  if (!Number.isInteger(reps) || reps < 1)
    throw new RangeError(`reps must be a positive integer, got ${reps}`);
  const rng = new Rng(opts.seed ?? 1);
  const a = tf.tensor2d(rng.uniformArray(n * n, -1, 1), [n, n]);
  const b = tf.tensor2d(rng.uniformArray(n * n, -1, 1), [n, n]);
  return { n, reps, a, b };
}

const VARIANTS = [
  ['plain', false, false],
  ['transposeA', true, false],
  ['transposeB', false, true],
] as const;

/**
 * Time n×n products on the current backend; reading the result back (asynchronously, so every
 * backend works, webgpu included) is part of each product.
 */
export async function measureMatmulAsync(opts: MatmulBenchOptions = {}): Promise<MatmulGflops> {
  const { n, reps, a, b } = operands(opts);
  const once = async (ta: boolean, tb: boolean) => {
    const c = tf.matMul(a, b, ta, tb);
    try {
      await c.data();
    } finally {
      c.dispose();
    }
  };
  try {
    const out = { plain: 0, transposeA: 0, transposeB: 0 };
    for (const [key, ta, tb] of VARIANTS) {
      await once(ta, tb);
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) await once(ta, tb);
      out[key] = gflops(n, reps, performance.now() - t0);
    }
    return out;
  } finally {
    tf.dispose([a, b]);
  }
}

function gflops(n: number, reps: number, ms: number): number {
  return (2 * n ** 3 * reps) / Math.max(ms / 1000, 1e-9) / 1e9;
}
