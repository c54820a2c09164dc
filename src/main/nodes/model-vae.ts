/** Runs model.vae: trains the weight VAE on the zoo's vectors. */
import { modelVaeSpec } from '../../shared/nodes/model-vae.ts';
import { trainVae } from '../engine/vae/train.ts';
import { controlOf, nodeRunner } from './define.ts';
import { one } from './values.ts';

export const run = nodeRunner(modelVaeSpec, async (ctx, inputs) => {
  const { zoo } = one(inputs, 'zoo', 'zoo');
  const n = zoo.manifest.members.length;
  const dim = zoo.manifest.layout.size;
  const { vae, history } = await trainVae({
    vectors: zoo.vectors,
    n,
    dim,
    config: ctx.config,
    rng: ctx.rng.fork('vae'),
    control: controlOf(ctx),
  });
  const last = history.at(-1);
  return {
    outputs: { vae: { type: 'vae', vae, dispose: () => vae.dispose() } },
    summary: {
      latentDim: vae.latentDim,
      metrics: {
        members: n,
        ...(last ? { loss: last.loss, recon: last.recon, kl: last.kl } : {}),
      },
    },
  };
});
