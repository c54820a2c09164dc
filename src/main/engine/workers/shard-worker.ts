/**
 * Worker-thread entry for data-parallel training: a replica of the VAE or diffusion trainer that
 * computes its shards of every step and meets the other threads in the shared buffer (see
 * common/data-parallel.ts). It returns nothing: thread 0 holds the result.
 */
import type { ShardJob } from '../common/data-parallel.ts';
import { trainDiffusion, type TrainDiffusionArgs } from '../diffusion/train.ts';
import { Rng } from '../rng.ts';
import { trainVae, type TrainVaeArgs } from '../vae/train.ts';
import { serveJobs } from './serve.ts';

serveJobs(async (payload) => {
  const job = payload as ShardJob;
  const rng = new Rng(job.seed);
  if (job.stage === 'vae') {
    const { vae } = await trainVae({
      ...(job.args as unknown as TrainVaeArgs),
      rng,
      replica: job.group,
    });
    vae.dispose();
  } else {
    const { model } = await trainDiffusion({
      ...(job.args as unknown as TrainDiffusionArgs),
      rng,
      replica: job.group,
    });
    model.dispose();
  }
  return { result: null };
});
