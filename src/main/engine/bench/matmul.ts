/**
 * Matmul throughput on the active backend, plain and transposed. Dense training spends its time in
 * A·B (forward) and Aᵀ·B / A·Bᵀ (gradients), so these three numbers predict training speed, and a
 * gap between them shows a backend whose transposed kernel is slow (stock wasm: ~10–40×).
 */
import * as tf from '@tensorflow/tfjs';
import { gemmPacks } from '../kernels/simd.ts';
import { gemmHandles } from '../kernels/wasm.ts';
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

/** One product shape of a layer: op(A) is [m, k], op(B) is [k, n]. */
export interface MatmulShape {
  readonly m: number;
  readonly k: number;
  readonly n: number;
}

/** A product form: which operand arrives transposed (a dense layer's forward, dW and dx). */
export type MatmulForm = 'A·B' | 'Aᵀ·B' | 'A·Bᵀ';

export interface MatmulShapeResult extends MatmulShape {
  readonly form: MatmulForm;
  /** Median ms per product through tf.matMul: our gemm kernel, and the route it replaced. */
  readonly gemmMs: number;
  readonly previousMs: number;
  readonly gemmGflops: number;
  readonly previousGflops: number;
  /** previousMs / gemmMs: above 1, the gemm kernel is faster. */
  readonly speedup: number;
  /**
   * Whether the switched-on route ran our gemm kernel (kernels/wasm.ts's gemmHandles; otherwise
   * both timings are XNNPACK), and whether it packed B in k blocks.
   */
  readonly ours: boolean;
  readonly packed: boolean;
}

/**
 * The standard VAE and diffusion layers' products (batch 64, widths 256, 1733, 64). The VAE's
 * 1733-wide input and output layers: forward [64,1733]·[1733,256] and [64,256]·[256,1733], their
 * dW = xᵀ·dy [1733,64]·[64,256] and [256,64]·[64,1733], and dx = dy·Wᵀ (the A·Bᵀ forms).
 */
export const STANDARD_SHAPES: readonly MatmulShape[] = [
  { m: 64, k: 256, n: 256 },
  { m: 256, k: 256, n: 64 },
  { m: 256, k: 64, n: 256 },
  { m: 64, k: 1733, n: 256 },
  { m: 64, k: 256, n: 1733 },
  { m: 1733, k: 64, n: 256 },
  { m: 256, k: 64, n: 1733 },
];

const FORMS: readonly [MatmulForm, boolean, boolean][] = [
  ['A·B', false, false],
  ['Aᵀ·B', true, false],
  ['A·Bᵀ', false, true],
];

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s[s.length >> 1] ?? Number.NaN;
}

/**
 * Time tf.matMul of each shape and form on wasm with our gemm kernel (kernels/wasm.ts) and with
 * D2NWG_WASM_GEMM=0 (XNNPACK behind an explicit Transpose), alternating the two every round so a
 * loaded machine slows both alike; medians over `rounds` rounds of `reps` products each.
 */
export function measureMatmulShapes(
  opts: { shapes?: readonly MatmulShape[]; reps?: number; rounds?: number; seed?: number } = {},
): MatmulShapeResult[] {
  if (tf.getBackend() !== 'wasm') throw new Error('the shapes benchmark needs the wasm backend');
  const reps = opts.reps ?? 20;
  const rounds = opts.rounds ?? 7;
  for (const [v, what] of [
    [reps, 'reps'],
    [rounds, 'rounds'],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${what} must be a positive integer`);
  }
  const rng = new Rng(opts.seed ?? 1);
  const saved = process.env.D2NWG_WASM_GEMM;
  const results: MatmulShapeResult[] = [];
  try {
    for (const { m, k, n } of opts.shapes ?? STANDARD_SHAPES) {
      for (const [form, ta, tb] of FORMS) {
        const a = tf.tensor2d(rng.uniformArray(m * k, -1, 1), ta ? [k, m] : [m, k]);
        const b = tf.tensor2d(rng.uniformArray(k * n, -1, 1), tb ? [n, k] : [k, n]);
        const time = (gemm: boolean): number => {
          process.env.D2NWG_WASM_GEMM = gemm ? '1' : '0';
          tf.matMul(a, b, ta, tb).dispose();
          const t0 = performance.now();
          for (let i = 0; i < reps; i++) tf.matMul(a, b, ta, tb).dispose();
          return (performance.now() - t0) / reps;
        };
        const ours: number[] = [];
        const before: number[] = [];
        for (let r = 0; r < rounds; r++) {
          // ABBA order, so neither route always runs first after the other.
          if (r % 2 === 0) {
            ours.push(time(true));
            before.push(time(false));
          } else {
            before.push(time(false));
            ours.push(time(true));
          }
        }
        process.env.D2NWG_WASM_GEMM = '1';
        const routed = gemmHandles(a, b, ta, tb);
        tf.dispose([a, b]);
        const gemmMs = median(ours);
        const previousMs = median(before);
        const flops = 2 * m * k * n;
        results.push({
          m,
          k,
          n,
          form,
          gemmMs,
          previousMs,
          gemmGflops: flops / gemmMs / 1e6,
          previousGflops: flops / previousMs / 1e6,
          speedup: previousMs / gemmMs,
          ours: routed,
          packed: routed && !tb && gemmPacks(m, k, n),
        });
      }
    }
  } finally {
    if (saved === undefined) delete process.env.D2NWG_WASM_GEMM;
    else process.env.D2NWG_WASM_GEMM = saved;
  }
  return results;
}
