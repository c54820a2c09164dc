/** Runs features.extract: fits the extractor on the tasks' train pool, then maps every sample. */
import { featuresExtractSpec } from '../../shared/nodes/features-extract.ts';
import { applyExtractor, fitExtractor } from '../engine/features/extractor.ts';
import { Rng } from '../engine/rng.ts';
import { controlOf, nodeRunner } from './define.ts';

/**
 * The stream the extractor is fitted with. It matches the zoo builder's (`Rng(seed).fork
 * ('features')`), so the zoo node can check that it trains on exactly these features.
 */
export function featureRng(seed: number): Rng {
  return new Rng(seed).fork('features');
}

export const run = nodeRunner(featuresExtractSpec, async (ctx, inputs) => {
  const { data } = inputs.dataset;
  const { tasks } = inputs.tasks;
  const control = controlOf(ctx);
  const ex = await fitExtractor(
    ctx.config.extractor,
    data,
    tasks.trainPool,
    featureRng(ctx.seed),
    control,
  );
  const feats = await applyExtractor(ex, data, control);
  return {
    outputs: {
      features: {
        type: 'features',
        data: feats,
        state: ex.state(),
        config: ctx.config.extractor,
        seed: ctx.seed,
      },
    },
    summary: {
      kind: ex.kind,
      metrics: { dim: ex.dim, samples: feats.labels.length, fitSamples: tasks.trainPool.length },
    },
  };
});
