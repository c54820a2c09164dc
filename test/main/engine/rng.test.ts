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
});
