import { describe, expect, it } from 'vitest';
import {
  dot,
  orthonormalizeColumns,
  symmetricEigen,
} from '../../../../src/main/engine/features/linalg.ts';
import { Rng } from '../../../../src/main/engine/rng.ts';

describe('symmetricEigen', () => {
  it('solves a 2×2 case with a known answer', () => {
    // [[2, 1], [1, 2]] has eigenvalues 3 (axis [1, 1]/√2) and 1 (axis [1, -1]/√2).
    const { values, vectors } = symmetricEigen([2, 1, 1, 2], 2);
    expect(values[0]).toBeCloseTo(3, 12);
    expect(values[1]).toBeCloseTo(1, 12);
    expect(Math.abs(vectors[0])).toBeCloseTo(Math.SQRT1_2, 12);
    expect(vectors[0] * vectors[2]).toBeCloseTo(0.5, 12);
  });

  it('reconstructs a random symmetric matrix: A·v = λ·v and V orthonormal', () => {
    const n = 12;
    const rng = new Rng(3);
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = i; j < n; j++) {
        const v = rng.normal();
        a[i * n + j] = v;
        a[j * n + i] = v;
      }
    }
    const { values, vectors } = symmetricEigen(a, n);
    for (let j = 0; j < n; j++) {
      if (j > 0) expect(values[j]).toBeLessThanOrEqual(values[j - 1]);
      for (let i = 0; i < n; i++) {
        let av = 0;
        for (let k = 0; k < n; k++) av += a[i * n + k] * vectors[k * n + j];
        expect(av).toBeCloseTo(values[j] * vectors[i * n + j], 10);
      }
      for (let m = 0; m <= j; m++) {
        let s = 0;
        for (let i = 0; i < n; i++) s += vectors[i * n + j] * vectors[i * n + m];
        expect(s).toBeCloseTo(m === j ? 1 : 0, 10);
      }
    }
  });
});

describe('orthonormalizeColumns', () => {
  it('orthonormalises and replaces dependent columns with new directions', () => {
    const cols = [
      Float64Array.from([1, 1, 0]),
      Float64Array.from([2, 2, 0]), // dependent on the first
      Float64Array.from([0, 0, 0]), // zero
    ];
    orthonormalizeColumns(cols, new Rng(1));
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j <= i; j++) expect(dot(cols[i], cols[j])).toBeCloseTo(i === j ? 1 : 0, 12);
    }
    expect(cols[0][0]).toBeCloseTo(Math.SQRT1_2, 12);
  });
});
