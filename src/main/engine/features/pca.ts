/**
 * PCA features. The covariance is built with tfjs matmuls (the only O(N·D²) step), then the top-k
 * eigenvectors come from subspace iteration with Rayleigh-Ritz in float64: one D×D by D×p matmul
 * per iteration on the tensor backend, a p×p Jacobi eigenproblem in JS. It stops when every kept
 * Ritz pair's residual ‖Cq − λq‖ is small relative to the largest eigenvalue, so the result does
 * not depend on the random start beyond float32 rounding.
 */
import * as tf from '@tensorflow/tfjs';
import type { PcaState } from '../../../shared/schemas/features.ts';
import { rowsPerDeviceBuffer } from '../backend-webgpu.ts';
import { InputError, throwIfAborted } from '../errors.ts';
import type { RunControl } from '../progress.ts';
import type { Rng } from '../rng.ts';
import { readAndDispose } from '../common/readback.ts';
import { orthonormalizeColumns, symmetricEigen } from './linalg.ts';

/** Options of fitPca. */
export interface PcaFitArgs {
  /** Number of components k. */
  readonly components: number;
  /** Scale components to unit variance. */
  readonly whiten: boolean;
  /** Shape of one sample (D = product). */
  readonly inputShape: readonly number[];
  /** Largest relative residual accepted as converged (default 1e-4). */
  readonly tolerance?: number;
  /** Upper bound on subspace iterations (default 300). */
  readonly maxIterations?: number;
}

/** Rows per matmul chunk: bounds peak memory on large datasets. */
const CHUNK = 2048;

/** Extra search directions beyond k; more makes convergence faster at the boundary. */
function blockSize(k: number, d: number): number {
  return Math.min(d, k + Math.max(16, Math.ceil(k / 2)));
}

/**
 * Fit PCA on `n` rows of `x` (row-major n×D). Returns the JSON-able state. Throws InputError when
 * k exceeds the dimension or the samples.
 */
export async function fitPca(
  x: Float32Array,
  n: number,
  args: PcaFitArgs,
  rng: Rng,
  ctl: RunControl = {},
): Promise<PcaState> {
  const d = args.inputShape.reduce((a, b) => a * b, 1);
  const k = args.components;
  if (k > d) {
    throw new InputError(
      `components = ${k} exceeds the input dimension ${d} (sample shape [${args.inputShape.join(', ')}])`,
      'features.components',
    );
  }
  if (n < 2) throw new InputError(`PCA needs at least 2 samples to fit, got ${n}`, 'features');
  if (k > n - 1) {
    throw new InputError(
      `components = ${k} needs at least ${k + 1} fitting samples, got ${n}`,
      'features.components',
    );
  }
  const tol = args.tolerance ?? 1e-4;
  const maxIter = args.maxIterations ?? 300;

  // Mean and per-dimension variance in float64.
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += x[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= n;
  let totalVariance = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      const c = x[i * d + j] - mean[j];
      totalVariance += c * c;
    }
  }
  totalVariance /= n - 1;
  if (!Number.isFinite(totalVariance)) {
    throw new InputError('fitting data contains NaN or Inf values', 'features');
  }

  // Covariance C = Xcᵀ·Xc / (n-1), accumulated in chunks. Transposing explicitly first keeps the
  // matmul on the fast plain A·B path of the wasm backend.
  const meanF = Float32Array.from(mean);
  const cov = tf.tidy(() => {
    const meanT = tf.tensor2d(meanF, [1, d]);
    let acc: tf.Tensor = tf.zeros([d, d]);
    const chunk = rowsPerDeviceBuffer(4 * d, CHUNK);
    for (let s = 0; s < n; s += chunk) {
      const rows = Math.min(chunk, n - s);
      const next = tf.tidy(() => {
        const xc = tf.sub(tf.tensor2d(x.subarray(s * d, (s + rows) * d), [rows, d]), meanT);
        return tf.add(acc, tf.matMul(tf.transpose(xc), xc));
      });
      acc.dispose();
      acc = next;
    }
    return tf.div(acc, n - 1);
  });

  const p = blockSize(k, d);
  let cols: Float64Array[] = Array.from({ length: p }, () => {
    const c = new Float64Array(d);
    for (let j = 0; j < d; j++) c[j] = rng.normal();
    return c;
  });
  orthonormalizeColumns(cols, rng);

  let values = new Float64Array(p);
  let iterations = 0;
  let maxResidual = Infinity;
  try {
    for (iterations = 1; iterations <= maxIter; iterations++) {
      throwIfAborted(ctl.signal);
      const qRow = new Float32Array(d * p);
      for (let j = 0; j < p; j++) for (let i = 0; i < d; i++) qRow[i * p + j] = cols[j][i];
      // W = C·Q; Rayleigh-Ritz: B = Qᵀ·W = V Λ Vᵀ; Q ← Q·V, W ← W·V. Two readbacks per
      // iteration (B, then residuals with Q·V and W·V together), each outside a tidy.
      const [q, w, bT] = tf.tidy(() => {
        const qT = tf.tensor2d(qRow, [d, p]);
        const wT = tf.matMul(cov, qT);
        return [qT, wT, tf.matMul(tf.transpose(qT), wT)];
      });
      let step: {
        values: Float64Array;
        residual: Float32Array;
        q2: Float32Array;
        w2: Float32Array;
      };
      try {
        const bRaw = await readAndDispose(bT);
        const b = new Float64Array(p * p);
        for (let a = 0; a < p; a++) {
          for (let c = 0; c < p; c++) b[a * p + c] = (bRaw[a * p + c] + bRaw[c * p + a]) / 2;
        }
        const eig = symmetricEigen(b, p);
        const packed = tf.tidy(() => {
          const v = tf.tensor2d(Float32Array.from(eig.vectors), [p, p]);
          const q2 = tf.matMul(q, v);
          const w2 = tf.matMul(w, v);
          const lam = tf.tensor2d(Float32Array.from(eig.values), [1, p]);
          const res = tf.sqrt(tf.sum(tf.square(tf.sub(w2, tf.mul(q2, lam))), 0));
          return tf.concat([res, tf.reshape(q2, [-1]), tf.reshape(w2, [-1])]);
        });
        const all = await readAndDispose(packed);
        step = {
          values: eig.values,
          residual: all.subarray(0, p),
          q2: all.subarray(p, p + d * p),
          w2: all.subarray(p + d * p),
        };
      } finally {
        tf.dispose([q, w, bT]);
      }
      values = Float64Array.from(step.values);
      const scale = Math.max(Math.abs(values[0]), 1e-30);
      maxResidual = 0;
      for (let j = 0; j < k; j++) maxResidual = Math.max(maxResidual, step.residual[j] / scale);
      ctl.onProgress?.({
        value: iterations,
        max: maxIter,
        unit: 'iteration',
        label: 'pca',
        metrics: { residual: maxResidual },
      });
      const done = maxResidual < tol || iterations === maxIter;
      // Converged: keep the Ritz vectors Q·V. Otherwise the next block is orthonormalised W·V.
      const src = done ? step.q2 : step.w2;
      cols = Array.from({ length: p }, (_, j) => {
        const c = new Float64Array(d);
        for (let i = 0; i < d; i++) c[i] = src[i * p + j];
        return c;
      });
      if (done) break;
      orthonormalizeColumns(cols, rng);
    }
  } finally {
    cov.dispose();
  }

  // Deterministic signs: the largest-magnitude entry of each axis is positive.
  const basis = new Array<number>(d * k);
  for (let j = 0; j < k; j++) {
    const c = cols[j];
    let big = 0;
    for (let i = 0; i < d; i++) if (Math.abs(c[i]) > Math.abs(big)) big = c[i];
    const sgn = big < 0 ? -1 : 1;
    for (let i = 0; i < d; i++) basis[i * k + j] = Math.fround(sgn * c[i]);
  }
  const eigenvalues = Array.from(values.subarray(0, k), (v) => Math.max(0, v));
  return {
    kind: 'pca',
    version: 1,
    inputShape: [...args.inputShape],
    components: k,
    whiten: args.whiten,
    mean: Array.from(meanF),
    basis,
    eigenvalues,
    explainedVarianceRatio: eigenvalues.map((v) => (totalVariance > 0 ? v / totalVariance : 0)),
    totalVariance,
    fitSamples: n,
    iterations: Math.min(iterations, maxIter),
    maxResidual: Number.isFinite(maxResidual) ? maxResidual : undefined,
  };
}

/** Project rows onto the PCA axes (optionally whitened), chunked; returns n×k. */
export async function pcaTransform(
  state: PcaState,
  x: Float32Array,
  n: number,
): Promise<Float32Array> {
  const d = state.mean.length;
  const k = state.components;
  const out = new Float32Array(n * k);
  const scale = new Float32Array(k);
  const floor = 1e-6 * Math.max(state.eigenvalues[0] ?? 0, 1e-30);
  for (let j = 0; j < k; j++) {
    scale[j] = state.whiten ? 1 / Math.sqrt(Math.max(state.eigenvalues[j], floor)) : 1;
  }
  const meanF = Float32Array.from(state.mean);
  const basisF = Float32Array.from(state.basis);
  const meanT = tf.tensor2d(meanF, [1, d]);
  const basisT = tf.tensor2d(basisF, [d, k]);
  const scaleT = tf.tensor2d(scale, [1, k]);
  try {
    const chunk = rowsPerDeviceBuffer(4 * d, CHUNK);
    for (let s = 0; s < n; s += chunk) {
      const rows = Math.min(chunk, n - s);
      const y = tf.tidy(() =>
        tf.mul(
          tf.matMul(
            tf.sub(tf.tensor2d(x.subarray(s * d, (s + rows) * d), [rows, d]), meanT),
            basisT,
          ),
          scaleT,
        ),
      );
      try {
        out.set(await y.data(), s * k);
      } finally {
        y.dispose();
      }
    }
  } finally {
    tf.dispose([meanT, basisT, scaleT]);
  }
  return out;
}
