/** Latent diffusion node (D2NWG stage 4): learns p(latent | dataset embedding). */
import { DiffusionConfig } from '../schemas/diffusion.ts';
import { defineNode } from './spec.ts';

export const modelDiffusionSpec = defineNode({
  type: 'model.diffusion',
  version: 1,
  category: 'Model',
  title: 'Latent diffusion',
  help:
    'Trains a DDPM on the VAE latents of the zoo (paper §3.4), conditioned on the frozen dataset ' +
    "encoder's embedding of each member's task. eps-prediction with an L2 loss, the " +
    'latent-diffusion "linear" schedule, EMA weights and latents scaled to unit variance. The ' +
    'denoiser is a residual MLP with a time embedding, sized for a CPU, or (denoiser.kind = ' +
    "unet1d) a 1-D UNet over the latent, closer to the paper's UNet; its latent size must halve " +
    'once per extra level.',
  config: DiffusionConfig,
  inputs: [
    { id: 'zoo', label: 'Zoo', type: 'zoo', inheritFrom: ['encoder'] },
    { id: 'vae', label: 'VAE', type: 'vae', inheritFrom: ['encoder'] },
    { id: 'encoder', label: 'Encoder', type: 'encoder' },
    { id: 'features', label: 'Features', type: 'features', inheritFrom: ['encoder'] },
    { id: 'tasks', label: 'Tasks', type: 'tasks', inheritFrom: ['features'] },
  ],
  outputs: [{ id: 'diffusion', label: 'Diffusion', type: 'diffusion' }],
  cacheable: true,
});
