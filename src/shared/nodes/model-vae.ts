/** Weight VAE node (D2NWG stage 2): compresses zoo weight vectors into the latent space the diffusion model works in. */
import type { z } from 'zod';
import { PredictorConfig } from '../schemas/predictor.ts';
import { VaeConfig } from '../schemas/vae.ts';
import { defineNode } from './spec.ts';

/** The VAE's settings, and those of the accuracy predictor g its Eq. 7 term uses. */
export const ModelVaeConfig = VaeConfig.extend({
  /** The accuracy predictor g (trained first when predictorWeight > 0). */
  predictor: PredictorConfig.prefault({}),
});
export type ModelVaeConfig = z.infer<typeof ModelVaeConfig>;

export const modelVaeSpec = defineNode({
  type: 'model.vae',
  version: 1,
  category: 'Model',
  title: 'Weight VAE',
  help:
    'Trains a variational autoencoder on the flattened weight vectors of the zoo (paper Eq. 1: ' +
    'reconstruction + a tiny KL term). Vectors are standardised first; the latent size sets how ' +
    'much the diffusion model has to learn. Sized for a CPU: an MLP (or 1D-conv) encoder and a ' +
    'mirrored decoder. Reports the reconstruction error and the accuracy of reconstructed models. ' +
    'With predictorWeight > 0 it first trains the accuracy predictor g on the zoo and adds ' +
    "‖g(w) − g(decoded w)‖² to the loss (paper App. D, Eq. 7); `predictor` sets g's size and training.",
  config: ModelVaeConfig,
  inputs: [{ id: 'zoo', label: 'Zoo', type: 'zoo' }],
  outputs: [{ id: 'vae', label: 'VAE', type: 'vae' }],
  cacheable: true,
});
