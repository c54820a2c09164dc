import { describe, expect, it } from 'vitest';
import {
  addNoise,
  averageVectors,
  fitKde,
  ncmAccuracy,
  ncmPredict,
  classMeans,
  rms,
  sampleKde,
} from '../../../../src/main/engine/eval/baselines.ts';
import {
  agreement,
  median,
  nearestZoo,
  zooNearestMedian,
} from '../../../../src/main/engine/eval/memorisation.ts';
import { InputError } from '../../../../src/main/engine/errors.ts';
import { Rng } from '../../../../src/main/engine/rng.ts';

describe('S_KDE30', () => {
  it('keeps the top fraction by score and samples around those centres only', () => {
    // 10 latents of dim 2: row i = [i, -i]; scores favour rows 7, 8, 9.
    const lat = new Float32Array(20).map((_, j) => (j % 2 === 0 ? j / 2 : -(j - 1) / 2));
    const scores = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => (i >= 7 ? 1 : 0.1 * i));
    const kde = fitKde(lat, 10, 2, scores, 0.3, 0.002);
    expect(kde.count).toBe(3);
    expect(Array.from(kde.points)).toEqual([7, -7, 8, -8, 9, -9]);
    const s = sampleKde(kde, 200, new Rng(1));
    for (let i = 0; i < 200; i++) {
      const x = s[2 * i];
      const y = s[2 * i + 1];
      const nearest = (v: number) => Math.min(...[7, 8, 9].map((c) => Math.abs(Math.abs(v) - c)));
      expect(nearest(x)).toBeLessThan(0.02);
      expect(nearest(y)).toBeLessThan(0.02);
    }
    // Dimensions pick centres independently: some samples mix two centres.
    let mixed = 0;
    for (let i = 0; i < 200; i++) if (Math.round(s[2 * i]) !== -Math.round(s[2 * i + 1])) mixed++;
    expect(mixed).toBeGreaterThan(50);
  });

  it('refuses a top fraction outside (0, 1]', () => {
    expect(() => fitKde(new Float32Array(4), 2, 2, [1, 2], 0, 0.1)).toThrow(InputError);
  });
});

describe('weight baselines', () => {
  it('averages vectors and adds noise relative to the RMS', () => {
    const avg = averageVectors(new Float32Array([1, 2, 3, 5]), 2, 2);
    expect(Array.from(avg)).toEqual([2, 3.5]);
    const base = new Float32Array(2000).fill(2);
    const noisy = addNoise(base, 0.1, new Rng(3));
    let s = 0;
    for (let i = 0; i < 2000; i++) s += (noisy[i] - 2) ** 2;
    expect(Math.sqrt(s / 2000)).toBeCloseTo(0.2, 1);
    expect(rms(base)).toBeCloseTo(2);
  });
});

describe('nearest class mean', () => {
  it('classifies by the closest class mean', () => {
    const x = new Float32Array([0, 0, 0, 1, 10, 10, 10, 11]);
    const y = new Int32Array([0, 0, 1, 1]);
    const means = classMeans(x, y, 2, 2);
    expect(Array.from(means)).toEqual([0, 0.5, 10, 10.5]);
    expect(Array.from(ncmPredict(means, 2, 2, new Float32Array([1, 1, 9, 9])))).toEqual([0, 1]);
    expect(
      ncmAccuracy(x, y, new Float32Array([1, 1, 9, 9, 0, 0]), new Int32Array([0, 1, 1]), 2, 2),
    ).toBeCloseTo(2 / 3);
  });

  it('refuses a class with no training samples', () => {
    expect(() => classMeans(new Float32Array(2), new Int32Array([0]), 2, 2)).toThrow(/class 1/);
  });
});

describe('memorisation metrics', () => {
  const zoo = new Float32Array([0, 0, 1, 0, 10, 0, 10, 1]);
  it('finds the nearest zoo row with L2 and cosine distances', () => {
    const nn = nearestZoo(new Float32Array([9, 0.2]), zoo, 4, 2);
    expect(nn.index).toBe(2);
    expect(nn.l2).toBeCloseTo(Math.hypot(1, 0.2), 5);
    expect(nn.cosine).toBeCloseTo(1 - 9 / Math.hypot(9, 0.2), 5);
  });
  it('gives the median nearest-neighbour distance inside the zoo, optionally across runs', () => {
    expect(zooNearestMedian(zoo, 4, 2)).toBeCloseTo(1);
    // Rows {0,1} and {2,3} are two runs: across runs the nearest is ~9 away.
    const run = (i: number) => (i < 2 ? 0 : 1);
    expect(zooNearestMedian(zoo, 4, 2, (i, j) => run(i) === run(j))).toBeCloseTo(
      median([Math.hypot(9, 0), Math.hypot(9, 0), 9, 9]),
      0,
    );
  });
  it('measures prediction agreement', () => {
    expect(agreement(new Int32Array([1, 2, 3, 4]), new Int32Array([1, 2, 0, 4]))).toBe(0.75);
    expect(median([3, 1, 2, 10])).toBe(2.5);
  });
});
