/** Runs model.encoder: trains the dataset encoder against the frozen VAE latents of the zoo. */
import { modelEncoderSpec } from '../../shared/nodes/model-encoder.ts';
import { taskSupportSet } from '../engine/data/tasks.ts';
import { trainEncoder } from '../engine/encoder/encoder.ts';
import { controlOf, nodeRunner } from './define.ts';
import { memberSupportSets, zooPairs } from './generator.ts';

export const run = nodeRunner(modelEncoderSpec, async (ctx, inputs) => {
  const zoo = inputs.zoo;
  const { vae } = inputs.vae;
  const { data: feat } = inputs.features;
  const tasksV = inputs.tasks;
  const pairs = zooPairs(zoo, tasksV, ctx.nodeId);
  const n = pairs.groups.length;
  const perClass = ctx.config.perClass;
  const latents = await vae.encodeMean(zoo.zoo.vectors, n);
  const sets = memberSupportSets(feat, pairs, perClass, ctx.rng.fork('support'));
  const { encoder, losses } = await trainEncoder({
    sets,
    latents,
    count: n,
    shape: {
      numClasses: pairs.k,
      perClass,
      featDim: feat.sampleShape[0],
      latentDim: vae.latentDim,
    },
    groups: pairs.groups,
    resample: (i, r) => taskSupportSet(feat, pairs.tasks[pairs.groups[i]], perClass, r).x,
    config: ctx.config,
    rng: ctx.rng.fork('encoder'),
    control: controlOf(ctx),
  });
  return {
    outputs: { encoder: { type: 'encoder', encoder, dispose: () => encoder.dispose() } },
    summary: {
      kind: ctx.config.kind,
      metrics: {
        pairs: n,
        embedDim: encoder.embedDim,
        lossFirst: losses[0] ?? NaN,
        loss: losses[losses.length - 1] ?? NaN,
      },
    },
  };
});
