/**
 * Seeded, stratified splits of sample indices. Tasks draw their training samples from one pool
 * and their test samples from the other, so no test sample of any task was ever trained on.
 */
import { InputError } from '../errors.ts';
import type { Rng } from '../rng.ts';

/** Sample indices grouped by class, each group ascending. Labels must lie in 0..numClasses-1. */
export function indicesByClass(
  labels: Int32Array,
  numClasses: number,
  subset?: Int32Array,
): Int32Array[] {
  const counts = new Int32Array(numClasses);
  const idx = subset ?? null;
  const n = idx ? idx.length : labels.length;
  for (let i = 0; i < n; i++) {
    const s = idx ? idx[i] : i;
    const c = labels[s];
    if (c < 0 || c >= numClasses) {
      throw new InputError(`label ${c} of sample ${s} is outside 0..${numClasses - 1}`, 'labels');
    }
    counts[c]++;
  }
  const groups = Array.from({ length: numClasses }, (_, c) => new Int32Array(counts[c]));
  const fill = new Int32Array(numClasses);
  for (let i = 0; i < n; i++) {
    const s = idx ? idx[i] : i;
    const c = labels[s];
    groups[c][fill[c]++] = s;
  }
  for (const g of groups) g.sort();
  return groups;
}

/** Result of stratifiedSplit: both pools ascending, disjoint, together all samples. */
export interface Split {
  readonly train: Int32Array;
  readonly test: Int32Array;
}

/**
 * Split every class separately: round(trainFraction × count) of its samples (drawn with `rng`)
 * go to `train`, the rest to `test`. A class with at least 2 samples keeps at least one in each.
 */
export function stratifiedSplit(
  labels: Int32Array,
  numClasses: number,
  trainFraction: number,
  rng: Rng,
): Split {
  if (!(trainFraction > 0 && trainFraction < 1)) {
    throw new InputError(`must be in (0, 1), got ${trainFraction}`, 'trainFraction');
  }
  const groups = indicesByClass(labels, numClasses);
  const train: number[] = [];
  const test: number[] = [];
  for (let c = 0; c < numClasses; c++) {
    const g = groups[c];
    const perm = rng.fork(`class:${c}`).permutation(g.length);
    let nTrain = Math.round(trainFraction * g.length);
    if (g.length >= 2) nTrain = Math.min(g.length - 1, Math.max(1, nTrain));
    for (let i = 0; i < g.length; i++) (i < nTrain ? train : test).push(g[perm[i]]);
  }
  const tr = Int32Array.from(train).sort();
  const te = Int32Array.from(test).sort();
  return { train: tr, test: te };
}
