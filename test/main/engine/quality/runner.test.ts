import { describe, expect, it } from 'vitest';
import { QualityReportSchema } from '../../../../src/shared/schemas/quality.ts';
import { resolveQualityConfig } from '../../../../src/main/engine/quality/config.ts';
import { runQuality } from '../../../../src/main/engine/quality/runner.ts';
import { expectNoLeakedTensors } from '../../../helpers/tf.ts';

/** A config small enough to run twice in a unit test (numbers are meaningless, plumbing is not). */
const MICRO = {
  features: { kind: 'pca', components: 6, whiten: true },
  tasks: { k: 3, nTrain: 12, nTest: 10, numSeen: 2, numUnseenCombo: 1, numUnseenClass: 1 },
  zoo: {
    architecture: { kind: 'mlp', hidden: [4] },
    train: { epochs: 2, keepLast: 2, seeds: 1, batchSize: 16 },
    workers: 0,
  },
  vae: { hidden: [16], latentDim: 4, epochs: 3 },
  encoder: { dModel: 4, heads: 2, inducing: 2, embedDim: 4, epochs: 2, perClass: 3 },
  diffusion: { steps: 5, denoiser: { width: 16, depth: 1, timeEmbDim: 8 } },
  sampler: { steps: 3 },
  eval: {
    finetuneEpochs: [0, 1],
    samplesPerTask: 2,
    soupTopK: 2,
    finetuneSamples: 1,
    maxTasksPerSplit: 1,
  },
};

describe('quality benchmark runner', () => {
  it('is deterministic for a config and seed, and fills the fixed report schema', async () => {
    const cfg = resolveQualityConfig('smoke', MICRO);
    const a = await expectNoLeakedTensors(() => runQuality({ config: cfg }));
    const b = await runQuality({ config: cfg });
    QualityReportSchema.parse(a);
    expect(a.protocol).toBe('d2nwg-quality/1');
    expect(a.config).toMatchObject({ seed: cfg.seed, preset: 'smoke' });
    const strip = (r: typeof a) =>
      r.results.map((x) => [x.split, x.method, x.epoch, x.accuracy_mean]);
    expect(strip(b)).toEqual(strip(a));
    expect(b.memorisation.sample_to_zoo_median).toBe(a.memorisation.sample_to_zoo_median);
    const methods = new Set(a.results.map((r) => r.method));
    for (const m of [
      'randinit',
      'pretrained_source',
      'zoo',
      'kde30',
      'noise_nearest',
      'weight_avg',
      'ncm',
      'd2nwg_mean',
      'd2nwg_best',
      'd2nwg_soup',
    ]) {
      expect(methods.has(m), m).toBe(true);
    }
    expect(new Set(a.results.map((r) => r.split))).toEqual(
      new Set(['seen', 'unseen-combo', 'unseen-class']),
    );
    // The zoo reference exists on seen tasks only.
    expect(a.results.filter((r) => r.method === 'zoo').every((r) => r.split === 'seen')).toBe(true);
  });

  it('refuses a config whose zoo would hold a single task', async () => {
    expect(() =>
      resolveQualityConfig('smoke', { ...MICRO, tasks: { ...MICRO.tasks, numSeen: 1 } }),
    ).toThrow(/at least 2 seen tasks/);
  });
});
