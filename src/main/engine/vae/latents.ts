/**
 * The 2-D latent map the app plots: a PCA fitted on the zoo members' latent means (float64, a
 * latentDim × latentDim Jacobi eigenproblem, no tensors), with the generated samples projected on
 * the same axes. Deterministic: the same latents give the same picture bit for bit, and each
 * axis's sign is fixed (its largest loading is positive) so two runs are drawn the same way up.
 */
import {
  LATENTS_FORMAT,
  LATENTS_MAX_POINTS,
  type LatentPoints,
  type LatentProjection,
} from '../../../shared/schemas/latents.ts';
import { symmetricEigen } from '../features/linalg.ts';

/** Two principal axes of a set of latent vectors. */
export interface PcaAxes2 {
  /** Dimension of the vectors. */
  readonly dim: number;
  /** Mean of the fitting rows. */
  readonly mean: Float64Array;
  /** Unit axes, PC1 then PC2 (PC2 is zero when dim is 1). */
  readonly axes: readonly [Float64Array, Float64Array];
  /** Sample variance along each axis (PC1 ≥ PC2). */
  readonly variance: readonly [number, number];
  /** Sum of the per-dimension sample variances. */
  readonly totalVariance: number;
}

/** Indices of the rows whose `dim` values are all finite. */
function finiteRows(rows: Float32Array, n: number, dim: number): number[] {
  const keep: number[] = [];
  for (let i = 0; i < n; i++) {
    let ok = true;
    for (let j = 0; j < dim && ok; j++) ok = Number.isFinite(rows[i * dim + j]);
    if (ok) keep.push(i);
  }
  return keep;
}

/**
 * Fit the two leading principal axes of `n` rows (row-major n × dim) in float64. Rows holding a
 * NaN or ±Inf are left out. With fewer than two usable rows the variances are zero and the axes
 * are the first two coordinate axes.
 */
export function fitPca2(rows: Float32Array, n: number, dim: number): PcaAxes2 {
  if (!Number.isInteger(dim) || dim < 1) throw new Error(`fitPca2: dim must be ≥ 1, got ${dim}`);
  if (rows.length < n * dim) {
    throw new Error(`fitPca2: ${rows.length} values cannot hold ${n} rows of ${dim}`);
  }
  const use = finiteRows(rows, n, dim);
  const m = use.length;
  const mean = new Float64Array(dim);
  for (const i of use) for (let j = 0; j < dim; j++) mean[j] += rows[i * dim + j];
  if (m > 0) for (let j = 0; j < dim; j++) mean[j] /= m;
  const cov = new Float64Array(dim * dim);
  const c = new Float64Array(dim);
  for (const i of use) {
    for (let j = 0; j < dim; j++) c[j] = rows[i * dim + j] - mean[j];
    for (let a = 0; a < dim; a++) {
      const ca = c[a];
      if (ca === 0) continue;
      for (let b = a; b < dim; b++) cov[a * dim + b] += ca * c[b];
    }
  }
  const denom = Math.max(1, m - 1);
  let total = 0;
  for (let a = 0; a < dim; a++) {
    for (let b = a; b < dim; b++) {
      const v = cov[a * dim + b] / denom;
      cov[a * dim + b] = v;
      cov[b * dim + a] = v;
    }
    total += cov[a * dim + a];
  }
  const { values, vectors } = symmetricEigen(cov, dim);
  const axis = (k: number): Float64Array => {
    const v = new Float64Array(dim);
    if (k >= dim) return v;
    for (let j = 0; j < dim; j++) v[j] = vectors[j * dim + k];
    // Sign convention: the largest |loading| (first one on ties) is positive.
    let big = 0;
    for (let j = 1; j < dim; j++) if (Math.abs(v[j]) > Math.abs(v[big]) + 1e-12) big = j;
    if (v[big] < 0) for (let j = 0; j < dim; j++) v[j] = -v[j];
    return v;
  };
  const varOf = (k: number) => (k < dim ? Math.max(0, values[k]) : 0);
  return {
    dim,
    mean,
    axes: [axis(0), axis(1)],
    variance: [varOf(0), varOf(1)],
    totalVariance: Math.max(0, total),
  };
}

/** Coordinates of rows (row-major n × dim) on the two axes; NaN for a non-finite row. */
export function projectPca2(
  pca: PcaAxes2,
  rows: Float32Array,
  n: number,
): { readonly x: Float64Array; readonly y: Float64Array } {
  const { dim, mean, axes } = pca;
  if (rows.length < n * dim) {
    throw new Error(`projectPca2: ${rows.length} values cannot hold ${n} rows of ${dim}`);
  }
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let sx = 0;
    let sy = 0;
    for (let j = 0; j < dim; j++) {
      const d = rows[i * dim + j] - mean[j];
      sx += d * axes[0][j];
      sy += d * axes[1][j];
    }
    x[i] = sx;
    y[i] = sy;
  }
  return { x, y };
}

/** Latent vectors (row-major n × latentDim) with the task each belongs to. */
export interface TaggedLatents {
  readonly latents: Float32Array;
  readonly n: number;
  /** Task id of each row (length n). */
  readonly taskIds: readonly string[];
}

/** Five significant digits: enough for a scatter plot, a third of the JSON. */
const round = (v: number) => Number(v.toPrecision(5));

/**
 * The stored projection: PCA fitted on the zoo latents, zoo and (optionally) sample latents
 * projected on it, non-finite points dropped, sets over LATENTS_MAX_POINTS thinned evenly.
 */
export function buildLatentProjection(args: {
  readonly latentDim: number;
  readonly zoo: TaggedLatents;
  readonly samples?: TaggedLatents;
}): LatentProjection {
  const { latentDim, zoo, samples } = args;
  for (const [what, set] of [
    ['zoo', zoo],
    ['samples', samples],
  ] as const) {
    if (set && set.taskIds.length !== set.n) {
      throw new Error(
        `latent projection: ${what} has ${set.n} rows but ${set.taskIds.length} task ids`,
      );
    }
  }
  const pca = fitPca2(zoo.latents, zoo.n, latentDim);
  const tasks: string[] = [];
  const index = new Map<string, number>();
  const taskIndex = (id: string) => {
    let t = index.get(id);
    if (t === undefined) {
      t = tasks.length;
      tasks.push(id);
      index.set(id, t);
    }
    return t;
  };
  let dropped = 0;
  let thinned = 0;
  const points = (set: TaggedLatents): LatentPoints => {
    const { x, y } = projectPca2(pca, set.latents, set.n);
    const ok: number[] = [];
    for (let i = 0; i < set.n; i++) {
      taskIndex(set.taskIds[i]);
      if (Number.isFinite(x[i]) && Number.isFinite(y[i])) ok.push(i);
      else dropped++;
    }
    const keep =
      ok.length <= LATENTS_MAX_POINTS
        ? ok
        : Array.from(
            { length: LATENTS_MAX_POINTS },
            (_, k) => ok[Math.floor((k * ok.length) / LATENTS_MAX_POINTS)],
          );
    thinned += ok.length - keep.length;
    return {
      x: keep.map((i) => round(x[i])),
      y: keep.map((i) => round(y[i])),
      task: keep.map((i) => taskIndex(set.taskIds[i])),
    };
  };
  const zooPts = points(zoo);
  const samplePts = samples ? points(samples) : undefined;
  const share = (v: number) =>
    pca.totalVariance > 0 ? Math.min(1, Math.max(0, round(v / pca.totalVariance))) : 0;
  return {
    format: LATENTS_FORMAT,
    version: 1,
    method: 'pca',
    latentDim,
    explained: [share(pca.variance[0]), share(pca.variance[1])],
    tasks,
    zoo: zooPts,
    ...(samplePts ? { samples: samplePts } : {}),
    dropped,
    thinned,
  };
}
