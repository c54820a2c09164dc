/**
 * Config of the dataset encoder (paper §3.3, App. E): it turns a support set (n feature vectors
 * per class, classes in output order) into the condition of the latent diffusion model, trained
 * CLIP-style against the frozen weight-VAE latents (Eq. 2).
 */
import { z } from 'zod';
import { strictObject } from '../issues.ts';

/**
 * Encoder families.
 * - 'set-transformer': the paper's intra-class ISAB→ISAB→PMA then inter-class SAB→SAB→PMA stack;
 *   invariant to the order of samples and of classes.
 * - 'mlp': App. E's two-layer MLP on the flattened K×n×d support set (order-sensitive by
 *   accident, not by design).
 * - 'ordered': intra-class set transformer per class, then the K class embeddings kept in class
 *   order (concatenated with their class-prototype projections), so output i of a generated head
 *   can be tied to class i. This is what lets unseen class tuples work.
 */
export const ENCODER_KINDS = ['set-transformer', 'mlp', 'ordered'] as const;
export type EncoderKind = (typeof ENCODER_KINDS)[number];

export const EncoderConfigSchema = strictObject({
  /** Encoder family; 'ordered' keeps class order, which the generated head needs. */
  kind: z.enum(ENCODER_KINDS).default('ordered'),
  /** Width of the attention blocks (paper: 128). */
  dModel: z.number().int().min(4).max(1024).default(64),
  /** Attention heads per block; must divide dModel (paper: 2). */
  heads: z.number().int().min(1).max(16).default(2),
  /** Inducing points of the ISAB blocks (paper: 32). */
  inducing: z.number().int().min(1).max(256).default(16),
  /** Size of the dataset embedding handed to the diffusion model as its condition. */
  embedDim: z.number().int().min(2).max(2048).default(64),
  /**
   * Feature vectors per class in a support set (paper: n = 5); up to all of a task's training
   * samples (tasks.nTrain), to compare with references fitted on all of them at equal data.
   */
  perClass: z.number().int().min(1).max(100_000).default(5),
  /** Training epochs over the (dataset, weight-latent) pairs. */
  epochs: z.number().int().min(0).max(100000).default(60),
  /** AdamW learning rate (paper: 1e-4; 3e-3 trained the small CPU encoders in 30 epochs). */
  lr: z.number().positive().max(1).default(3e-3),
  /** AdamW decoupled weight decay. */
  weightDecay: z.number().min(0).max(1).default(1e-4),
  /** Pairs per contrastive batch (the CLIP negatives come from the same batch). */
  batchSize: z.number().int().min(2).max(4096).default(32),
  /**
   * CLIP temperature τ in logits = z_w·z_Dᵀ/τ. Both sides are L2-normalised here, so the paper's
   * τ = 1 caps logits at ±1 and the loss barely moves (measured: 3.87 → 3.39 vs 4.7 → 1.5 at 0.1).
   */
  temperature: z.number().positive().max(100).default(0.1),
  /** The official code's soft targets softmax((z_D·z_Dᵀ + z_w·z_wᵀ)/2) instead of the identity. */
  softTargets: z.boolean().default(false),
  /** Fresh support sets are redrawn from the task's training pool each epoch (augmentation). */
  resampleSupport: z.boolean().default(true),
});
export type EncoderConfig = z.infer<typeof EncoderConfigSchema>;

/** Defaults as a value, for presets and tests. */
export function defaultEncoderConfig(): EncoderConfig {
  return EncoderConfigSchema.parse({});
}
