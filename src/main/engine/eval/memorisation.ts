/**
 * Memorisation diagnostics (arXiv 2506.07998): a generator that only replays its training
 * checkpoints must show up as samples sitting much closer to a zoo member than zoo members sit to
 * each other, with near-identical predictions.
 */

/** Nearest zoo vector of one sample. */
export interface NearestZoo {
  /** Row index into the zoo. */
  readonly index: number;
  /** Euclidean distance. */
  readonly l2: number;
  /** 1 − cosine similarity. */
  readonly cosine: number;
}

function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, dim: number): number {
  let s = 0;
  for (let j = 0; j < dim; j++) s += a[ao + j] * b[bo + j];
  return s;
}

/** Squared norms of the rows of a count × dim matrix. */
export function rowNorms2(m: Float32Array, count: number, dim: number): Float64Array {
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = dot(m, i * dim, m, i * dim, dim);
  return out;
}

/** The zoo row nearest (L2) to `v`; rows listed in `exclude` are skipped. */
export function nearestZoo(
  v: Float32Array,
  zoo: Float32Array,
  count: number,
  dim: number,
  zooNorms2: Float64Array = rowNorms2(zoo, count, dim),
  exclude?: (row: number) => boolean,
): NearestZoo {
  const vn = dot(v, 0, v, 0, dim);
  let best = -1;
  let bestD = Infinity;
  let bestDot = 0;
  for (let i = 0; i < count; i++) {
    if (exclude?.(i)) continue;
    const d = dot(v, 0, zoo, i * dim, dim);
    const dist2 = vn + zooNorms2[i] - 2 * d;
    if (dist2 < bestD) {
      bestD = dist2;
      best = i;
      bestDot = d;
    }
  }
  const denom = Math.sqrt(vn * (best >= 0 ? zooNorms2[best] : 0)) || 1;
  return { index: best, l2: Math.sqrt(Math.max(0, bestD)), cosine: 1 - bestDot / denom };
}

/** Euclidean distance between two vectors of the same length (accumulated in float64). */
export function l2Distance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`l2Distance: lengths ${a.length} ≠ ${b.length}`);
  let s = 0;
  for (let j = 0; j < a.length; j++) s += (a[j] - b[j]) ** 2;
  return Math.sqrt(s);
}

/** Median of a list (NaN when empty). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Query rows zooNearestMedian measures at most: every row up to this size, an even spread above. */
export const ZOO_NEAREST_MAX_QUERIES = 2000;

/**
 * Median over zoo rows of the L2 distance to their nearest other row. `sameRun(i, j)` optionally
 * also excludes rows of the same training run (consecutive checkpoints are trivially close).
 * Above `maxQueries` rows, the median is taken over that many evenly spaced rows (each still
 * searched against the whole zoo): the exact form is quadratic, hours at 20,000 checkpoints, and
 * a median over 2,000 rows is already precise to well under the spread it is compared with.
 */
export function zooNearestMedian(
  zoo: Float32Array,
  count: number,
  dim: number,
  sameRun?: (i: number, j: number) => boolean,
  maxQueries = ZOO_NEAREST_MAX_QUERIES,
): number {
  const norms = rowNorms2(zoo, count, dim);
  const queries = Math.min(count, Math.max(1, Math.floor(maxQueries)));
  const dists: number[] = [];
  for (let q = 0; q < queries; q++) {
    const i = Math.floor((q * count) / queries);
    const v = zoo.subarray(i * dim, (i + 1) * dim);
    const nn = nearestZoo(v, zoo, count, dim, norms, (j) => j === i || (sameRun?.(i, j) ?? false));
    if (nn.index >= 0) dists.push(nn.l2);
  }
  return median(dists);
}

/** Fraction of positions where two prediction vectors agree. */
export function agreement(a: Int32Array, b: Int32Array): number {
  if (a.length !== b.length || a.length === 0) return NaN;
  let s = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) s++;
  return s / a.length;
}
