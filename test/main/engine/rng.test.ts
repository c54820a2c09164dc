import { describe, expect, it } from 'vitest';
import { Rng, hashString } from '../../../src/main/engine/rng.ts';

describe('Rng', () => {
  it('gives the same stream for the same seed and different streams for different seeds', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const xa = Array.from({ length: 5 }, () => a.nextUint32());
    const xb = Array.from({ length: 5 }, () => b.nextUint32());
    const xc = Array.from({ length: 5 }, () => c.nextUint32());
    expect(xa).toEqual(xb);
    expect(xa).not.toEqual(xc);
  });

  it('draws uniforms in [0,1) with the right mean and normals with unit variance', () => {
    const r = new Rng(1);
    const n = 20000;
    let su = 0;
    let sn = 0;
    let sn2 = 0;
    for (let i = 0; i < n; i++) {
      const u = r.next();
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(1);
      su += u;
      const z = r.normal();
      sn += z;
      sn2 += z * z;
    }
    expect(su / n).toBeCloseTo(0.5, 1);
    expect(sn / n).toBeCloseTo(0, 1);
    expect(sn2 / n).toBeCloseTo(1, 1);
  });

  it('fastNormalArray (polar method): reproducible, odd lengths, N(mean, std²) moments and tails', () => {
    const n = 100_001;
    const a = new Rng(5).fastNormalArray(n, 0.5, 2);
    expect(a).toHaveLength(n);
    const again = new Rng(5).fastNormalArray(n, 0.5, 2);
    expect(again.every((x, i) => x === a[i])).toBe(true);
    expect(new Rng(6).fastNormalArray(8)).not.toEqual(new Rng(5).fastNormalArray(8));
    let s1 = 0;
    let s2 = 0;
    let s4 = 0;
    let beyond2 = 0;
    for (const x of a) {
      const z = (x - 0.5) / 2;
      s1 += z;
      s2 += z * z;
      s4 += z ** 4;
      if (Math.abs(z) > 2) beyond2 += 1;
    }
    expect(Math.abs(s1 / n)).toBeLessThan(0.01);
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.02);
    // Gaussian kurtosis 3 and P(|z| > 2) = 4.55 %: a uniform or a wrong scale would miss both.
    expect(Math.abs(s4 / n - 3)).toBeLessThan(0.1);
    expect(Math.abs(beyond2 / n - 0.0455)).toBeLessThan(0.003);
    expect(new Rng(1).fastNormalArray(0)).toHaveLength(0);
  });

  it('forks independent, reproducible child streams without advancing the parent', () => {
    const r = new Rng(7);
    const before = new Rng(7).nextUint32();
    const f1 = r.fork('zoo').nextUint32();
    const f2 = new Rng(7).fork('zoo').nextUint32();
    expect(f1).toBe(f2);
    expect(r.fork('vae').nextUint32()).not.toBe(f1);
    expect(r.nextUint32()).toBe(before);
  });

  it('samples distinct indices and permutations', () => {
    const r = new Rng(3);
    const s = Array.from(r.sample(10, 10)).sort((a, b) => a - b);
    expect(s).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(() => r.sample(3, 4)).toThrow(/cannot sample 4/);
    expect(hashString('a')).not.toBe(hashString('b'));
  });
  it('state() / fromState continue a stream where it was, through a structured clone', () => {
    const a = new Rng(42);
    a.next();
    a.normal(); // leaves a spare normal in the state
    const b = Rng.fromState(structuredClone(a.state()));
    const drawsA = [a.normal(), a.next(), a.nextUint32(), a.normal()];
    const drawsB = [b.normal(), b.next(), b.nextUint32(), b.normal()];
    expect(drawsB).toEqual(drawsA);
    expect(b.seed).toBe(42);
  });
});
