import { describe, expect, it } from 'vitest';
import {
  buildLatentProjection,
  fitPca2,
  projectPca2,
} from '../../../../src/main/engine/vae/latents.ts';
import { Rng } from '../../../../src/main/engine/rng.ts';
import { LatentProjection } from '../../../../src/shared/schemas/latents.ts';

/**
 * n points in `dim` dimensions: a large spread along unit direction `a`, a smaller one along `b`
 * (orthogonal to a), little noise elsewhere, all shifted by `offset`.
 */
function anisotropic(n: number, dim: number, rng: Rng) {
  const a = new Float64Array(dim);
  const b = new Float64Array(dim);
  a[0] = 0.6;
  a[2] = -0.8; // |a| = 1
  b[1] = -1;
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const u = 5 * rng.normal();
    const v = 2 * rng.normal();
    for (let j = 0; j < dim; j++) {
      out[i * dim + j] = 3 + j + u * a[j] + v * b[j] + 0.05 * rng.normal();
    }
  }
  return { rows: out, a, b };
}

const dot = (x: ArrayLike<number>, y: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * y[i];
  return s;
};
const mean = (xs: ArrayLike<number>) => Array.from(xs).reduce((s, v) => s + v, 0) / xs.length;
const variance = (xs: ArrayLike<number>) => {
  const m = mean(xs);
  return Array.from(xs).reduce((s, v) => s + (v - m) ** 2, 0) / (xs.length - 1);
};

describe('2-D PCA of latents', () => {
  it('finds the two directions of largest spread, ordered, with a fixed sign', () => {
    const dim = 6;
    const n = 400;
    const { rows, a, b } = anisotropic(n, dim, new Rng(3));
    const pca = fitPca2(rows, n, dim);
    // PC1 ∥ a, PC2 ∥ b; the largest loading is positive (a's is -0.8 → flipped, b's -1 → flipped).
    expect(Math.abs(dot(pca.axes[0], a))).toBeGreaterThan(0.999);
    expect(Math.abs(dot(pca.axes[1], b))).toBeGreaterThan(0.999);
    expect(pca.axes[0][2]).toBeGreaterThan(0);
    expect(pca.axes[1][1]).toBeGreaterThan(0);
    expect(dot(pca.axes[0], pca.axes[1])).toBeCloseTo(0, 10);
    expect(dot(pca.axes[0], pca.axes[0])).toBeCloseTo(1, 10);
    expect(pca.variance[0]).toBeGreaterThan(pca.variance[1]);
    expect(pca.variance[0] + pca.variance[1]).toBeLessThanOrEqual(pca.totalVariance * (1 + 1e-9));
    for (let j = 0; j < dim; j++) expect(pca.mean[j]).toBeCloseTo(3 + j, 0);
  });

  it('centres the fitting points and orders the axis variances', () => {
    const dim = 5;
    const n = 300;
    const { rows } = anisotropic(n, dim, new Rng(11));
    const pca = fitPca2(rows, n, dim);
    const { x, y } = projectPca2(pca, rows, n);
    expect(mean(x)).toBeCloseTo(0, 6);
    expect(mean(y)).toBeCloseTo(0, 6);
    expect(variance(x)).toBeCloseTo(pca.variance[0], 6);
    expect(variance(y)).toBeCloseTo(pca.variance[1], 6);
    expect(variance(x)).toBeGreaterThan(variance(y));
  });

  it('is deterministic: the same latents give bit-identical projections', () => {
    const dim = 8;
    const n = 120;
    const { rows } = anisotropic(n, dim, new Rng(5));
    const p1 = buildLatentProjection({
      latentDim: dim,
      zoo: { latents: rows, n, taskIds: Array.from({ length: n }, (_, i) => `t${i % 7}`) },
    });
    const p2 = buildLatentProjection({
      latentDim: dim,
      zoo: {
        latents: Float32Array.from(rows),
        n,
        taskIds: Array.from({ length: n }, (_, i) => `t${i % 7}`),
      },
    });
    expect(p2).toEqual(p1);
    // A shifted copy of the same cloud gets the same picture (PCA centres on the zoo mean).
    const shifted = rows.map((v) => v + 10);
    const p3 = buildLatentProjection({
      latentDim: dim,
      zoo: { latents: shifted, n, taskIds: Array.from({ length: n }, (_, i) => `t${i % 7}`) },
    });
    p3.zoo.x.forEach((v, i) => expect(v).toBeCloseTo(p1.zoo.x[i], 3));
  });

  it('projects samples on the zoo axes and tags every point with its task', () => {
    const dim = 4;
    const rng = new Rng(9);
    const zoo = anisotropic(60, dim, rng).rows;
    // Two samples: the zoo mean (→ origin) and the mean plus 2 along PC1.
    const pca = fitPca2(zoo, 60, dim);
    const samples = new Float32Array(2 * dim);
    for (let j = 0; j < dim; j++) {
      samples[j] = pca.mean[j];
      samples[dim + j] = pca.mean[j] + 2 * pca.axes[0][j];
    }
    const zooTasks = Array.from({ length: 60 }, (_, i) => (i < 30 ? 'a' : 'b'));
    const p = buildLatentProjection({
      latentDim: dim,
      zoo: { latents: zoo, n: 60, taskIds: zooTasks },
      samples: { latents: samples, n: 2, taskIds: ['b', 'new'] },
    });
    expect(p.tasks).toEqual(['a', 'b', 'new']);
    expect(p.zoo.task.slice(0, 2)).toEqual([0, 0]);
    expect(p.zoo.task.at(-1)).toBe(1);
    expect(p.samples?.task).toEqual([1, 2]);
    expect(p.samples?.x[0]).toBeCloseTo(0, 3);
    expect(p.samples?.y[0]).toBeCloseTo(0, 3);
    expect(p.samples?.x[1]).toBeCloseTo(2, 3);
    expect(p.samples?.y[1]).toBeCloseTo(0, 3);
    expect(p.explained[0]).toBeGreaterThan(p.explained[1]);
    expect(p.explained[0] + p.explained[1]).toBeLessThanOrEqual(1);
    expect(LatentProjection.parse(p)).toEqual(p);
  });

  it('drops non-finite latents and copes with one point or a 1-d latent', () => {
    const rows = new Float32Array([1, 2, NaN, 0, 3, 4, 5, 7]);
    const p = buildLatentProjection({
      latentDim: 2,
      zoo: { latents: rows, n: 4, taskIds: ['a', 'a', 'b', 'b'] },
    });
    expect(p.dropped).toBe(1);
    expect(p.zoo.x).toHaveLength(3);
    expect(p.tasks).toEqual(['a', 'b']);
    expect(p.zoo.x.every(Number.isFinite)).toBe(true);

    const single = buildLatentProjection({
      latentDim: 3,
      zoo: { latents: new Float32Array([1, 2, 3]), n: 1, taskIds: ['only'] },
    });
    expect(single.zoo).toEqual({ x: [0], y: [0], task: [0] });
    expect(single.explained).toEqual([0, 0]);

    const line = buildLatentProjection({
      latentDim: 1,
      zoo: { latents: new Float32Array([1, 3]), n: 2, taskIds: ['a', 'b'] },
    });
    expect(line.zoo.x).toEqual([-1, 1]);
    expect(line.zoo.y).toEqual([0, 0]);
    expect(line.explained).toEqual([1, 0]);
  });

  it('refuses task ids that do not match the rows', () => {
    expect(() =>
      buildLatentProjection({
        latentDim: 2,
        zoo: { latents: new Float32Array(4), n: 2, taskIds: ['a'] },
      }),
    ).toThrow(/2 rows but 1 task ids/);
  });
});
