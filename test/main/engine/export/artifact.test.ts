import { describe, expect, it } from 'vitest';
import {
  decodeWeightsArtifact,
  encodeWeightsArtifact,
} from '../../../../src/main/engine/export/artifact.ts';
import { layoutOf } from '../../../../src/main/engine/nn/architecture.ts';

const layout = layoutOf({ kind: 'mlp', inputDim: 2, hidden: [3], outputs: 2, activation: 'tanh' });

describe('weights artifact', () => {
  it('keeps the feature pipeline, the task and per-sample test accuracy', () => {
    const v = [new Float32Array(layout.size).fill(0.5), new Float32Array(layout.size).fill(-1)];
    const features = {
      kind: 'pca',
      inputShape: [3],
      inputScale: 1 / 255,
      mean: Float32Array.of(1, 2, 3),
      basis: Float32Array.of(1, 0, 0, 1, 0, 0),
      scale: Float32Array.of(2, 3),
    };
    const enc = encodeWeightsArtifact(layout, v, {
      sampleMetrics: [{ testAccuracy: 0.8 }, { testAccuracy: 0.6 }],
      accuracyOn: 'the 4 test samples of task t0',
      task: { id: 't0', split: 'seen', classes: [3, 1], classNames: ['d', 'b'] },
      features,
    });
    const meta: unknown = JSON.parse(JSON.stringify(enc.meta));
    const dec = decodeWeightsArtifact(enc.bytes, meta, 'test');
    expect(dec.vectors).toEqual(v);
    expect(dec.features).toEqual(features);
    expect(dec.meta.task?.classNames).toEqual(['d', 'b']);
    expect(dec.meta.sampleMetrics?.[1].testAccuracy).toBe(0.6);
    expect(dec.meta.accuracyOn).toBe('the 4 test samples of task t0');
  });

  it('decodes an artifact without a feature pipeline as before', () => {
    const enc = encodeWeightsArtifact(layout, new Float32Array(layout.size));
    const dec = decodeWeightsArtifact(enc.bytes, JSON.parse(JSON.stringify(enc.meta)), 'test');
    expect(dec.features).toBeNull();
  });
});
