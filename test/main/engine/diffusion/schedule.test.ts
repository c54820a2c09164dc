import { describe, expect, it } from 'vitest';
import { makeSchedule } from '../../../../src/main/engine/diffusion/schedule.ts';
import { InputError } from '../../../../src/main/engine/errors.ts';

describe('makeSchedule', () => {
  it('linear: latent-diffusion endpoints, monotone β, cumulative product', () => {
    const s = makeSchedule(1000, 'linear');
    expect(s.betas.length).toBe(1000);
    expect(s.betas[0]).toBeCloseTo(0.0015, 12);
    expect(s.betas[999]).toBeCloseTo(0.0155, 12);
    // linear in √β: the midpoint of √β is the mean of the endpoints' roots
    const mid = (Math.sqrt(0.0015) + (Math.sqrt(0.0155) - Math.sqrt(0.0015)) * (500 / 999)) ** 2;
    expect(s.betas[500]).toBeCloseTo(mid, 12);
    let prod = 1;
    let worst = 0;
    let monotone = true;
    for (let t = 0; t < 1000; t++) {
      if (t > 0 && !(s.betas[t] > s.betas[t - 1])) monotone = false;
      const prev = prod;
      prod *= 1 - s.betas[t];
      const errs = [
        s.alphas[t] - (1 - s.betas[t]),
        s.alphasCumprodPrev[t] - prev,
        s.alphasCumprod[t] - prod,
        s.sqrtAlphasCumprod[t] ** 2 - prod,
        s.sqrtOneMinusAlphasCumprod[t] ** 2 - (1 - prod),
        s.posteriorVariance[t] - (s.betas[t] * (1 - prev)) / (1 - prod),
        s.posteriorMeanCoef1[t] - (s.betas[t] * Math.sqrt(prev)) / (1 - prod),
        s.posteriorMeanCoef2[t] - ((1 - prev) * Math.sqrt(1 - s.betas[t])) / (1 - prod),
      ];
      for (const e of errs) worst = Math.max(worst, Math.abs(e));
    }
    expect(monotone).toBe(true);
    expect(worst).toBeLessThan(1e-12);
    expect(s.posteriorVariance[0]).toBe(0);
    // ᾱ_{T−1} is small: x_T is almost pure noise.
    expect(s.alphasCumprod[999]).toBeLessThan(1e-3);
    expect(s.alphasCumprod[999]).toBeGreaterThan(1e-4);
  });

  it('cosine: β in (0, 0.999], ᾱ decreasing towards 0', () => {
    const s = makeSchedule(200, 'cosine');
    for (let t = 0; t < 200; t++) {
      expect(s.betas[t]).toBeGreaterThan(0);
      expect(s.betas[t]).toBeLessThanOrEqual(0.999);
      if (t > 0) expect(s.alphasCumprod[t]).toBeLessThan(s.alphasCumprod[t - 1]);
    }
    expect(s.alphasCumprod[199]).toBeLessThan(1e-3);
  });

  it('rejects impossible settings', () => {
    expect(() => makeSchedule(1, 'linear')).toThrow(InputError);
    expect(() => makeSchedule(10, 'linear', { linearStart: 0.1, linearEnd: 0.01 })).toThrow(
      InputError,
    );
  });
});
