/** Runs model.diffusion: trains the conditional DDPM on the zoo's VAE latents. */
import { modelDiffusionSpec } from '../../shared/nodes/model-diffusion.ts';
import { trainDiffusion } from '../engine/diffusion/train.ts';
import { controlOf, nodeRunner } from './define.ts';
import { memberSupportSets, zooPairs } from './generator.ts';

export const run = nodeRunner(modelDiffusionSpec, async (ctx, inputs) => {
  const zoo = inputs.zoo;
  const { vae } = inputs.vae;
  const { encoder } = inputs.encoder;
  const { data: feat } = inputs.features;
  const tasksV = inputs.tasks;
  const pairs = zooPairs(zoo, tasksV, ctx.nodeId);
  const n = pairs.groups.length;
  const perClass = encoder.shape.perClass;
  const d = feat.sampleShape[0];
  encoder.checkGeometry(pairs.k, perClass, d, ctx.nodeId);
  const latents = await vae.encodeMean(zoo.zoo.vectors, n);
  const sets = memberSupportSets(feat, pairs, perClass, ctx.rng.fork('support'));
  const conds = await encoder.embedBatch(sets, n, pairs.k, perClass, d);
  const { model, history, shards, threads } = await trainDiffusion({
    latents,
    conds,
    n,
    latentDim: vae.latentDim,
    condDim: encoder.embedDim,
    config: ctx.config,
    rng: ctx.rng.fork('diffusion'),
    control: controlOf(ctx),
  });
  return {
    outputs: { diffusion: { type: 'diffusion', model, dispose: () => model.dispose() } },
    summary: {
      metrics: {
        pairs: n,
        steps: ctx.config.steps,
        shards,
        threads,
        loss: history[history.length - 1]?.loss ?? NaN,
      },
    },
  };
});
