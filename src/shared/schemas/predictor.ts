/**
 * Config of the accuracy predictor g (D2NWG App. D): an MLP from a flattened weight vector to the
 * accuracy those weights reach on their own task. Its last hidden layer is the embedding g(w) that
 * Eq. 7 keeps consistent through the VAE; its output ranks generated samples.
 */
import { z } from 'zod';
import { strictObject } from '../issues.ts';

export const PredictorConfig = strictObject({
  /** Hidden widths, first layer first; the last one is the embedding g(w) of Eq. 7. */
  hidden: z.array(z.number().int().positive().max(4096)).min(1).max(4).default([64, 16]),
  /** Full passes over the training members. */
  epochs: z.number().int().positive().max(100_000).default(100),
  /** Members per Adam step. */
  batchSize: z.number().int().positive().default(64),
  /** Adam learning rate. */
  lr: z.number().positive().max(1).default(3e-3),
  /** Decoupled weight decay (AdamW): a zoo holds few members per task, so g overfits easily. */
  weightDecay: z.number().nonnegative().default(0.05),
  /**
   * Fraction of the members held out to measure the predictor (error and rank correlation); held
   * out by task when tasks are known, so the number says how g does on weights it never saw.
   */
  valFraction: z.number().min(0).max(0.5).default(0.2),
  /** Floor on the per-dimension std of the weight standardisation (e.g. zero padding). */
  stdFloor: z.number().positive().default(1e-3),
});
export type PredictorConfig = z.infer<typeof PredictorConfig>;
export type PredictorConfigInput = z.input<typeof PredictorConfig>;
