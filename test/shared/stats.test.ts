import { describe, expect, it } from 'vitest';
import { errorMessage } from '../../src/shared/errors.ts';
import { meanStd } from '../../src/shared/stats.ts';

describe('meanStd', () => {
  it('gives the mean and the population standard deviation (divides by n)', () => {
    const { mean, std } = meanStd([1, 2, 3, 4]);
    expect(mean).toBe(2.5);
    expect(std).toBeCloseTo(Math.sqrt(1.25), 12);
  });

  it('gives std 0 for a single value and NaN for both when there is nothing to measure', () => {
    expect(meanStd([0.7])).toEqual({ mean: 0.7, std: 0 });
    const empty = meanStd([]);
    expect(Number.isNaN(empty.mean)).toBe(true);
    expect(Number.isNaN(empty.std)).toBe(true);
  });
});

describe('errorMessage', () => {
  it("is an Error's message, and the string form of anything else thrown", () => {
    expect(errorMessage(new TypeError('bad type'))).toBe('bad type');
    expect(errorMessage('plain')).toBe('plain');
    expect(errorMessage(42)).toBe('42');
  });
});
