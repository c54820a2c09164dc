import { describe, expect, it } from 'vitest';
import { classMeans, ncmAccuracy, ncmPredict } from '../../../../src/main/engine/eval/baselines.ts';
import {
  fitDiscriminant,
  ldaAccuracy,
  linearPredict,
} from '../../../../src/main/engine/eval/discriminant.ts';
import { InputError } from '../../../../src/main/engine/errors.ts';
import { Rng } from '../../../../src/main/engine/rng.ts';

/** n samples per class around `means` (k × p) with per-feature stds `stds` (shared covariance). */
function gaussians(means: number[][], stds: number[], n: number, rng: Rng) {
  const k = means.length;
  const p = stds.length;
  const x = new Float32Array(k * n * p);
  const y = new Int32Array(k * n);
  for (let i = 0; i < k * n; i++) {
    const c = i % k;
    y[i] = c;
    for (let f = 0; f < p; f++) x[i * p + f] = means[c][f] + stds[f] * rng.normal();
  }
  return { x, y };
}

describe('linear discriminant analysis', () => {
  it('uses the shared covariance where the nearest class mean cannot', () => {
    // Classes 6 apart along a feature with std 5, and 0.6 apart along one with std 0.1: the
    // Euclidean nearest mean follows the first (~73% correct), LDA the second (~99.9%).
    const means = [
      [-3, -0.3],
      [3, 0.3],
    ];
    const rng = new Rng(3);
    const train = gaussians(means, [5, 0.1], 200, rng);
    const test = gaussians(means, [5, 0.1], 500, rng);
    const lda = ldaAccuracy(train.x, train.y, test.x, test.y, 2, 2, 0);
    const ncm = ncmAccuracy(train.x, train.y, test.x, test.y, 2, 2);
    expect(lda).toBeGreaterThan(0.97);
    expect(ncm).toBeLessThan(0.85);
  });

  it('is the nearest class mean at shrinkage 1', () => {
    const rng = new Rng(5);
    const means = [0, 1, 2, 3].map(() => Array.from(rng.normalArray(6, 0, 1.5)));
    const train = gaussians(means, [1, 2, 0.5, 1, 3, 1], 15, rng);
    const test = gaussians(means, [1, 2, 0.5, 1, 3, 1], 50, rng);
    const model = fitDiscriminant(train.x, train.y, 4, 6, 1);
    expect(Array.from(linearPredict(model, test.x))).toEqual(
      Array.from(ncmPredict(classMeans(train.x, train.y, 4, 6), 4, 6, test.x)),
    );
  });

  it('relabelling the classes permutes the output columns exactly', () => {
    const rng = new Rng(9);
    const means = [0, 1, 2].map(() => Array.from(rng.normalArray(4, 0, 2)));
    const { x, y } = gaussians(means, [1, 1, 1, 1], 20, rng);
    const perm = [2, 0, 1];
    const a = fitDiscriminant(x, y, 3, 4);
    const b = fitDiscriminant(
      x,
      y.map((c) => perm[c]),
      3,
      4,
    );
    for (let f = 0; f < 4; f++) {
      for (let c = 0; c < 3; c++) expect(b.weights[f * 3 + perm[c]]).toBe(a.weights[f * 3 + c]);
    }
    for (let c = 0; c < 3; c++) expect(b.bias[perm[c]]).toBe(a.bias[c]);
  });

  it('fits fewer samples than features when shrunk (a 5-shot support set)', () => {
    const rng = new Rng(11);
    const means = [0, 1, 2].map(() => Array.from(rng.normalArray(32, 0, 1)));
    const stds = new Array(32).fill(0.5);
    const train = gaussians(means, stds, 5, rng);
    const test = gaussians(means, stds, 40, rng);
    const model = fitDiscriminant(train.x, train.y, 3, 32, 0.5);
    expect(model.weights.every(Number.isFinite)).toBe(true);
    const pred = linearPredict(model, test.x);
    expect(pred.filter((c, i) => c === test.y[i]).length / pred.length).toBeGreaterThan(0.9);
  });

  it('rejects bad input with specific errors', () => {
    const x = new Float32Array([0, 1, 2, 3, 4, 5]);
    const y = new Int32Array([0, 1, 0]);
    expect(() => fitDiscriminant(x, y, 2, 2, 1.5)).toThrow(/shrinkage must be in \[0, 1\]/);
    expect(() => fitDiscriminant(x, y, 1, 2)).toThrow(/at least 2 classes/);
    expect(() => fitDiscriminant(x, y, 3, 2)).toThrow(/class 2 has no samples/);
    expect(() => fitDiscriminant(x, new Int32Array([0, 1, 5]), 2, 2)).toThrow(
      /label 5 of sample 2/,
    );
    expect(() => fitDiscriminant(x, y, 2, 3)).toThrow(
      /6 feature values do not hold 3 samples of 3/,
    );
    expect(() => ldaAccuracy(x, y, x.subarray(1), y, 2, 2)).toThrow(
      /5 test values do not hold 3 samples of 2/,
    );
    const bad = Float32Array.from(x);
    bad[3] = Number.NaN;
    expect(() => fitDiscriminant(bad, y, 2, 2)).toThrow(InputError);
    expect(() => fitDiscriminant(bad, y, 2, 2)).toThrow(/feature 1 of sample 1 is NaN/);
  });
});
