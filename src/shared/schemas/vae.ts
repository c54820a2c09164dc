/**
 * Config of the weight VAE (D2NWG stage 2, Eq. 1). Defaults are sized for a CPU and a zoo of a few
 * hundred vectors of a few thousand weights; the paper's GPU model (latent 1024, conv blocks) is
 * far larger. Pure TS + zod so the renderer's inspector and the engine share one definition.
 */
import { z } from 'zod';
import { strictObject } from '../issues.ts';
import { Shards } from './shards.ts';

/** How weight vectors are standardised before the VAE sees them (stats are saved with the model). */
export const VaeNormalise = z.enum(['per-dim', 'global', 'none']);
export type VaeNormalise = z.infer<typeof VaeNormalise>;

export const VaeConfig = strictObject({
  /** Encoder/decoder family: a plain MLP, or a 1D convolution over the flattened vector. */
  arch: z.enum(['mlp', 'conv1d']).default('mlp'),
  /** Hidden widths of the encoder, outermost first; the decoder mirrors them. */
  hidden: z.array(z.number().int().positive()).min(1).max(6).default([256, 128]),
  /** Size of the latent the diffusion model works in. */
  latentDim: z.number().int().positive().max(4096).default(64),
  /** Weight of the KL term (Eq. 1); tiny, as in latent diffusion, so the latent stays informative. */
  klWeight: z.number().nonnegative().default(1e-6),
  /** Reconstruction loss: mean squared error, or L1 as the official autoencoder uses. */
  recon: z.enum(['mse', 'l1']).default('mse'),
  /** Hidden activation. */
  activation: z.enum(['leaky_relu', 'elu', 'tanh']).default('leaky_relu'),
  /** Full passes over the zoo. */
  epochs: z.number().int().positive().max(100_000).default(300),
  /** Vectors per Adam step. */
  batchSize: z.number().int().positive().default(32),
  /** Data-parallel shards of each step's batch (see shards.ts). */
  shards: Shards,
  /** Adam learning rate. */
  lr: z.number().positive().default(1e-3),
  /** Learning-rate schedule over the run: constant, or cosine decay to 5% of lr. */
  lrSchedule: z.enum(['constant', 'cosine']).default('cosine'),
  /** Decoupled weight decay (AdamW); 0 = plain Adam. */
  weightDecay: z.number().nonnegative().default(0),
  /** Layer norm before each hidden activation. */
  layerNorm: z.boolean().default(false),
  /** Adam beta1 (the paper uses 0.5; 0.9 trains as well or better on CPU-sized runs). */
  beta1: z.number().min(0).max(0.9999).default(0.9),
  /** Adam beta2 (paper 0.9). */
  beta2: z.number().min(0).max(0.99999).default(0.999),
  /** Std of Gaussian noise added to normalised input vectors during training (p-diff style). */
  inputNoise: z.number().nonnegative().default(0.001),
  /** Std of Gaussian noise added to the latent during training, so nearby latents decode well. */
  latentNoise: z.number().nonnegative().default(0.1),
  /** Standardisation of the weight vectors before encoding; undone by decode. */
  normalise: VaeNormalise.default('per-dim'),
  /** Weight of the optional accuracy-predictor consistency term (App. D, Eq. 7); 0 disables it. */
  predictorWeight: z.number().nonnegative().default(0),
  /** Floor on the per-dimension std used by 'per-dim' normalisation (e.g. zero padding). */
  stdFloor: z.number().positive().default(1e-3),
  /** Channels of the conv1d arch (one block each); ignored by the MLP. */
  convChannels: z.array(z.number().int().positive()).min(1).max(4).default([8, 16]),
  /** Kernel = stride of each conv1d block (non-overlapping windows); ignored by the MLP. */
  convKernel: z.number().int().min(2).max(64).default(4),
});
export type VaeConfig = z.infer<typeof VaeConfig>;
/** What callers may pass: every field may be left out and takes its default. */
export type VaeConfigInput = z.input<typeof VaeConfig>;
