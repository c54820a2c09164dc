import { describe, expect, it } from 'vitest';
import { indicesByClass, stratifiedSplit } from '../../../../src/main/engine/data/split.ts';
import { Rng } from '../../../../src/main/engine/rng.ts';
import { balancedLabels } from '../../../fixtures/datagen.ts';

describe('stratifiedSplit', () => {
  const labels = new Int32Array([...balancedLabels(3, 10), 0, 0, 0, 0, 0]); // class 0 has 15

  it('splits every class by the fraction, disjoint, covering all samples', () => {
    const s = stratifiedSplit(labels, 3, 0.8, new Rng(7));
    const byTrain = indicesByClass(labels, 3, s.train).map((g) => g.length);
    const byTest = indicesByClass(labels, 3, s.test).map((g) => g.length);
    expect(byTrain).toEqual([12, 8, 8]);
    expect(byTest).toEqual([3, 2, 2]);
    const all = [...s.train, ...s.test].sort((a, b) => a - b);
    expect(all).toEqual([...Array(labels.length).keys()]);
    expect([...s.train]).toEqual([...s.train].sort((a, b) => a - b));
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const a = stratifiedSplit(labels, 3, 0.5, new Rng(1));
    const b = stratifiedSplit(labels, 3, 0.5, new Rng(1));
    const c = stratifiedSplit(labels, 3, 0.5, new Rng(2));
    expect([...a.train]).toEqual([...b.train]);
    expect([...a.train]).not.toEqual([...c.train]);
  });

  it('keeps one sample on each side for tiny classes and rejects bad fractions', () => {
    const tiny = new Int32Array([0, 0, 1, 1, 1]);
    const s = stratifiedSplit(tiny, 2, 0.99, new Rng(3));
    expect(indicesByClass(tiny, 2, s.test).map((g) => g.length)).toEqual([1, 1]);
    expect(() => stratifiedSplit(tiny, 2, 1, new Rng(3))).toThrow(/trainFraction: must be in/);
    expect(() => indicesByClass(new Int32Array([0, 5]), 2)).toThrow(/label 5 of sample 1/);
  });
});
