/** Runs model.vae: trains the weight VAE on the zoo's vectors. */
import { modelVaeSpec } from '../../shared/nodes/model-vae.ts';
import { LATENTS_SUMMARY_KEY } from '../../shared/schemas/latents.ts';
import { buildLatentProjection, type TaggedLatents } from '../engine/vae/latents.ts';
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
  // The zoo in latent space (means μ(w), one per checkpoint, tagged with its task), for the app's
  // 2-D latent map; the Sampler adds its samples on the same axes.
  const zooLatents: TaggedLatents = {
    latents: await vae.encodeMean(zoo.vectors, n),
    n,
    taskIds: zoo.manifest.members.map((m) => m.taskId),
  };
  return {
    outputs: { vae: { type: 'vae', vae, zooLatents, dispose: () => vae.dispose() } },
    summary: {
      latentDim: vae.latentDim,
      [LATENTS_SUMMARY_KEY]: buildLatentProjection({ latentDim: vae.latentDim, zoo: zooLatents }),
      metrics: {
        members: n,
        ...(last ? { loss: last.loss, recon: last.recon, kl: last.kl } : {}),
      },
    },
  };
});
