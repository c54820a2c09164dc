import { describe, expect, it } from 'vitest';
import { InputError } from '../../../../src/main/engine/errors.ts';
import {
  applyFeatures,
  checkFeatures,
  exportFeaturesOf,
  foldFeatures,
} from '../../../../src/main/engine/export/features.ts';
import { pcaTransform } from '../../../../src/main/engine/features/pca.ts';
import type { PcaState } from '../../../../src/shared/schemas/features.ts';

const d = 5;
const k = 3;
const state: PcaState = {
  kind: 'pca',
  version: 1,
  inputShape: [d],
  components: k,
  whiten: true,
  mean: [0.1, 0.2, 0.3, 0.4, 0.5],
  basis: Array.from({ length: d * k }, (_, i) => Math.sin(i + 1)),
  eigenvalues: [4, 1, 0.25],
  explainedVarianceRatio: [0.5, 0.2, 0.1],
  totalVariance: 8,
  fitSamples: 10,
  iterations: 3,
};
const raw = Float32Array.from({ length: 2 * d }, (_, i) => (i * 37) % 256);

describe('export feature pipeline', () => {
  it('computes what the extractor computes, on raw values scaled by input_scale', async () => {
    const f = exportFeaturesOf(state, 1 / 255);
    const want = await pcaTransform(
      state,
      raw.map((v) => v / 255),
      2,
    );
    const got = applyFeatures(f, raw, 2);
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i], 4));
    // The folded affine map (the tfjs 'features' layer) gives the same numbers.
    const { kernel, bias } = foldFeatures(f);
    for (let r = 0; r < 2; r++) {
      for (let j = 0; j < k; j++) {
        let v = bias[j];
        for (let i = 0; i < d; i++) v += raw[r * d + i] * kernel[i * k + j];
        expect(v).toBeCloseTo(want[r * k + j], 4);
      }
    }
  });

  it('refuses a pipeline whose output does not fit the model input', () => {
    const f = exportFeaturesOf(state, 1 / 255);
    expect(() => checkFeatures(f, k)).not.toThrow();
    expect(() => checkFeatures(f, 4)).toThrow(InputError);
    expect(() => checkFeatures({ ...f, inputScale: 0 }, k)).toThrow(/input scale/);
  });
});
