/**
 * Small dense linear algebra in float64 JS, for the parts of PCA that are too small to be worth a
 * tensor round trip (a p×p symmetric eigenproblem, orthonormalising a D×p basis) and where float64
 * keeps the result deterministic and accurate on every backend.
 */
import type { Rng } from '../rng.ts';

/** Eigen-decomposition of a symmetric matrix: values descending, vectors as columns. */
export interface SymEigen {
  /** Eigenvalues, descending. */
  readonly values: Float64Array;
  /** Row-major n×n; column j is the unit eigenvector of values[j]. */
  readonly vectors: Float64Array;
}

/**
 * Cyclic Jacobi rotations on a symmetric n×n matrix (row-major; only symmetric input is valid).
 * O(n³) per sweep and very accurate; fast when the input is nearly diagonal, as it is after the
 * first few subspace iterations.
 */
export function symmetricEigen(matrix: ArrayLike<number>, n: number, maxSweeps = 100): SymEigen {
  const a = Float64Array.from(matrix);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let norm = 0;
  for (let i = 0; i < n * n; i++) norm += a[i] * a[i];
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) off += a[i * n + j] ** 2;
    if (off <= 1e-30 * norm || off === 0) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (apq === 0) continue;
        const app = a[p * n + p];
        const aqq = a[q * n + q];
        if (Math.abs(apq) < 1e-300) {
          a[p * n + q] = 0;
          a[q * n + p] = 0;
          continue;
        }
        const theta = (aqq - app) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        // A ← Aᵀ-rotated: columns p, q then rows p, q; V ← V·J.
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p];
          const akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k];
          const aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        a[p * n + q] = 0;
        a[q * n + p] = 0;
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p];
          const vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort(
    (i, j) => a[j * n + j] - a[i * n + i] || i - j,
  );
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((src, dst) => {
    values[dst] = a[src * n + src];
    for (let k = 0; k < n; k++) vectors[k * n + dst] = v[k * n + src];
  });
  return { values, vectors };
}

/**
 * Orthonormalise columns in place (modified Gram-Schmidt, applied twice for stability). A column
 * that collapses (the input has lower rank) is replaced by a random direction from `rng`.
 */
export function orthonormalizeColumns(cols: Float64Array[], rng: Rng): void {
  const dim = cols.length > 0 ? cols[0].length : 0;
  for (let j = 0; j < cols.length; j++) {
    const c = cols[j];
    const before = Math.sqrt(dot(c, c));
    for (let attempt = 0; attempt < 5; attempt++) {
      for (let pass = 0; pass < 2; pass++) {
        for (let i = 0; i < j; i++) {
          const r = dot(cols[i], c);
          const q = cols[i];
          for (let d = 0; d < dim; d++) c[d] -= r * q[d];
        }
      }
      const nrm = Math.sqrt(dot(c, c));
      if (nrm > 1e-10 * Math.max(before, 1e-300) && nrm > 1e-300) {
        for (let d = 0; d < dim; d++) c[d] /= nrm;
        break;
      }
      for (let d = 0; d < dim; d++) c[d] = rng.normal();
    }
  }
}

/** Inner product of two equal-length vectors. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
