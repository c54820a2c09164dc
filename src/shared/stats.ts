/** Small statistics over plain number lists; pure TS, usable from every layer. */

/**
 * Mean and population standard deviation (divide by n: the spread of exactly these values, e.g.
 * the accuracy of each task of a split, not an estimate for a larger population). An empty list
 * has neither: both are NaN, so a caller cannot mistake "nothing measured" for "no spread".
 */
export function meanStd(values: readonly number[]): { mean: number; std: number } {
  const n = values.length;
  if (n === 0) return { mean: Number.NaN, std: Number.NaN };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const v = values.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
  return { mean, std: Math.sqrt(v) };
}
