/** Runs model.vae: trains the weight VAE on the zoo's vectors. */
import { modelVaeSpec } from '../../shared/nodes/model-vae.ts';
import { LATENTS_SUMMARY_KEY } from '../../shared/schemas/latents.ts';
import type * as tf from '@tensorflow/tfjs';
import {
  predictorMetrics,
  trainPredictorOnZoo,
  type AccuracyPredictor,
} from '../engine/predictor/predictor.ts';
import { buildLatentProjection, type TaggedLatents } from '../engine/vae/latents.ts';
import { trainVae } from '../engine/vae/train.ts';
import { controlOf, nodeRunner } from './define.ts';

export const run = nodeRunner(modelVaeSpec, async (ctx, inputs) => {
  const { zoo } = inputs.zoo;
  const members = zoo.manifest.members;
  const n = members.length;
  const dim = zoo.manifest.layout.size;
  // The trainer takes (and strictly checks) the VAE's own keys; g's settings are used here.
  const { predictor: predictorConfig, ...vaeConfig } = ctx.config;
  // Eq. 7 (App. D): first the accuracy predictor g on the zoo (its members' training accuracy;
  // held-out tasks measure it), then the VAE with ‖g(w) − g(ŵ)‖² in its loss. g stays frozen.
  let g: AccuracyPredictor | null = null;
  let predictorSummary: Record<string, number> = {};
  if (ctx.config.predictorWeight > 0) {
    const t0 = performance.now();
    const trained = await trainPredictorOnZoo({
      vectors: zoo.vectors,
      dim,
      members,
      config: predictorConfig,
      rng: ctx.rng.fork('predictor'),
      control: controlOf(ctx),
    });
    g = trained.predictor;
    predictorSummary = {
      ...predictorMetrics(trained.validation),
      predictorSeconds: (performance.now() - t0) / 1000,
    };
  }
  const predictor = g;
  let result: Awaited<ReturnType<typeof trainVae>>;
  try {
    result = await trainVae({
      vectors: zoo.vectors,
      n,
      dim,
      config: vaeConfig,
      rng: ctx.rng.fork('vae'),
      control: controlOf(ctx),
      ...(predictor ? { predictor: (w: tf.Tensor2D) => predictor.embed(w) } : {}),
    });
  } finally {
    predictor?.dispose();
  }
  const { vae, history, shards, threads } = result;
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
        shards,
        threads,
        ...(last ? { loss: last.loss, recon: last.recon, kl: last.kl } : {}),
        ...(last?.predictor !== undefined ? { predictorTerm: last.predictor } : {}),
        ...predictorSummary,
      },
    },
  };
});
