import { describe, expect, it } from 'vitest';
import {
  addNoise,
  addNoiseWithNorm,
  averageVectors,
  fitKde,
  ncmAccuracy,
  ncmPredict,
  classMeans,
  noiseFunctionMatched,
  noiseMatched,
  rms,
  sampleKde,
} from '../../../../src/main/engine/eval/baselines.ts';
import {
  agreement,
  l2Distance,
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
  it('takes the zoo-to-zoo median over evenly spaced rows above maxQueries, each against the whole zoo', () => {
    // 6 rows on a line at 0, 1, 3, 6, 10, 15: nearest-neighbour distances 1, 1, 2, 3, 4, 5.
    const line = new Float32Array([0, 0, 1, 0, 3, 0, 6, 0, 10, 0, 15, 0]);
    expect(zooNearestMedian(line, 6, 2)).toBeCloseTo(2.5);
    // Three queries: rows 0, 2 and 4 (distances 1, 2, 4), still searched against all six rows.
    expect(zooNearestMedian(line, 6, 2, undefined, 3)).toBeCloseTo(2);
    expect(zooNearestMedian(line, 6, 2, undefined, 1)).toBeCloseTo(1);
  });
  it('measures prediction agreement', () => {
    expect(agreement(new Int32Array([1, 2, 3, 4]), new Int32Array([1, 2, 0, 4]))).toBe(0.75);
    expect(median([3, 1, 2, 10])).toBe(2.5);
  });
});

describe('noise_matched (novelty-matched noise, arXiv 2506.07998)', () => {
  // A zoo of 6 random checkpoints of 300 weights, and 5 "generated" samples at various distances.
  const dim = 300;
  const count = 6;
  const zoo = new Rng(11).normalArray(count * dim, 0, 0.3);
  const samples = [0.05, 0.5, 1, 3, 0].map((scale, s) => {
    const base = zoo.subarray((s % count) * dim, ((s % count) + 1) * dim);
    const off = new Rng(100 + s).normalArray(dim, 0, scale / Math.sqrt(dim));
    return base.map((v, j) => v + off[j]);
  });

  it("puts each copy at the sample's nearest-zoo distance from that checkpoint", () => {
    const copies = noiseMatched(samples, zoo, count, dim, new Rng(7));
    expect(copies).toHaveLength(samples.length);
    samples.forEach((v, s) => {
      const nn = nearestZoo(v, zoo, count, dim);
      const c = copies[s];
      expect(c.vector).toBeInstanceOf(Float32Array);
      expect(c.vector).toHaveLength(dim);
      expect(c.sourceIndex).toBe(nn.index);
      expect(c.distance).toBeCloseTo(nn.l2, 6);
      const src = zoo.subarray(c.sourceIndex * dim, (c.sourceIndex + 1) * dim);
      // Float32 storage of the copy: equal to the sample's distance up to float rounding.
      expect(Math.abs(l2Distance(c.vector, src) - nn.l2)).toBeLessThanOrEqual(1e-5 * (1 + nn.l2));
      // The copy is no closer to any other zoo row than to its source... up to float rounding.
      expect(nearestZoo(c.vector, zoo, count, dim).l2).toBeLessThanOrEqual(nn.l2 + 1e-5);
    });
    // A sample sitting on a checkpoint gets that checkpoint back unchanged.
    expect(Array.from(copies[4].vector)).toEqual(Array.from(zoo.subarray(4 * dim, 5 * dim)));
  });

  it('is isotropic noise of std d/√D and deterministic for a seed', () => {
    const base = new Float32Array(20000).fill(1);
    const noisy = addNoiseWithNorm(base, 5, new Rng(3));
    const diff = Array.from(noisy, (v) => v - 1);
    const mean = diff.reduce((a, b) => a + b, 0) / diff.length;
    const std = Math.sqrt(diff.reduce((a, b) => a + (b - mean) ** 2, 0) / diff.length);
    expect(l2Distance(noisy, base)).toBeCloseTo(5, 4);
    expect(Math.abs(mean)).toBeLessThan(0.002);
    expect(std).toBeCloseTo(5 / Math.sqrt(20000), 3);

    const a = noiseMatched(samples, zoo, count, dim, new Rng(7));
    const b = noiseMatched(samples, zoo, count, dim, new Rng(7));
    const c = noiseMatched(samples, zoo, count, dim, new Rng(8));
    expect(a.map((x) => Array.from(x.vector))).toEqual(b.map((x) => Array.from(x.vector)));
    expect(Array.from(c[2].vector)).not.toEqual(Array.from(a[2].vector));
  });

  it('refuses mismatched shapes and a negative norm', () => {
    expect(() => noiseMatched([new Float32Array(dim - 1)], zoo, count, dim, new Rng(1))).toThrow(
      /sample 0 has 299 weights/,
    );
    expect(() => noiseMatched(samples, zoo, count + 1, dim, new Rng(1))).toThrow(InputError);
    expect(() => addNoiseWithNorm(new Float32Array(3), -1, new Rng(1))).toThrow(/≥ 0/);
  });
});

describe('noiseFunctionMatched', () => {
  // A stand-in classifier whose prediction on reference input i is the sign of weight i: the
  // agreement of two weight vectors is then the fraction of the first 40 weights of equal sign.
  const m = 40;
  let calls = 0;
  const predict = (ws: readonly Float32Array[]) => {
    calls++;
    return Promise.resolve(
      ws.map((w) => Int32Array.from({ length: m }, (_, i) => (w[i] > 0 ? 1 : 0))),
    );
  };
  const agree = (a: Float32Array, b: Float32Array) => {
    let s = 0;
    for (let i = 0; i < m; i++) if (a[i] > 0 === b[i] > 0) s++;
    return s / m;
  };

  it('grows noise until the copy disagrees with its source as often as the sample does', async () => {
    const dim = 60;
    const count = 5;
    const rng = new Rng(21);
    const zoo = rng.normalArray(count * dim);
    const samples = [0, 3].map((r) => {
      const v = Float32Array.from(zoo.subarray(r * dim, (r + 1) * dim));
      for (let i = 0; i < 8; i++) v[i] = -v[i]; // flips 8 of 40 predictions: agreement 0.8
      return v;
    });
    const copies = await noiseFunctionMatched({
      samples,
      zoo,
      count,
      dim,
      predict,
      rng: new Rng(5),
    });
    expect(copies).toHaveLength(2);
    for (const [s, c] of copies.entries()) {
      const source = zoo.subarray(c.sourceIndex * dim, (c.sourceIndex + 1) * dim);
      expect(c.targetAgreement).toBeCloseTo(agree(samples[s], Float32Array.from(source)), 9);
      expect(c.agreement).toBeCloseTo(agree(c.vector, Float32Array.from(source)), 9);
      expect(c.agreement).toBeLessThanOrEqual(c.targetAgreement);
      expect(c.distance).toBeGreaterThan(0);
      expect(l2Distance(c.vector, source)).toBeCloseTo(c.distance, 3);
      // Smallest such norm (to the bisection's resolution): 2 % less noise agrees more.
      const dir = c.vector.map((x, i) => (x - source[i]) / c.distance);
      const less = source.map((x, i) => x + 0.98 * c.distance * dir[i]);
      expect(agree(less, Float32Array.from(source))).toBeGreaterThanOrEqual(c.agreement);
    }
    const again = await noiseFunctionMatched({
      samples,
      zoo,
      count,
      dim,
      predict,
      rng: new Rng(5),
    });
    expect(Array.from(again[0].vector)).toEqual(Array.from(copies[0].vector));
    // The searches run in lockstep, one batched prediction a round (not one per copy), and each
    // is the search it would be alone: the first sample's copy equals its copy searched alone.
    calls = 0;
    const alone = await noiseFunctionMatched({
      samples: samples.slice(0, 1),
      zoo,
      count,
      dim,
      predict,
      rng: new Rng(5),
    });
    const roundsAlone = calls;
    expect(Array.from(alone[0].vector)).toEqual(Array.from(copies[0].vector));
    expect(alone[0].agreement).toBe(copies[0].agreement);
    calls = 0;
    await noiseFunctionMatched({ samples, zoo, count, dim, predict, rng: new Rng(5) });
    expect(calls).toBeLessThanOrEqual(2 + 30 + 12);
    expect(calls).toBeLessThan(2 * roundsAlone);
  });

  it('refuses samples of the wrong length', async () => {
    const zoo = new Float32Array(2 * 10);
    await expect(
      noiseFunctionMatched({
        samples: [new Float32Array(9)],
        zoo,
        count: 2,
        dim: 10,
        predict,
        rng: new Rng(1),
      }),
    ).rejects.toThrow(/sample 0 has 9 weights/);
  });
});
