import { z } from 'zod';
import { strictObject } from '../issues.ts';

/**
 * The class-head generator (engine/eval/classhead.ts): a small MLP, shared over classes and hidden
 * units, that writes each class's output row from that class's own support samples in the body's
 * feature space, trained on the zoo (each checkpoint's body, episodes of its task's training
 * samples) to maximise the query accuracy. At sampling time it gives every generated body its head
 * with no fitting: the `d2nwg_class_head` rows. Output i follows class i for any class tuple.
 */
export const ClassHeadConfigSchema = strictObject({
  /** Train the generator and report d2nwg_class_head. */
  enabled: z.boolean().default(true),
  /** Width of the generator's two hidden layers. */
  hidden: z.number().int().min(1).max(1024).default(32),
  /** Optimisation steps (episodes of `batchMembers` zoo checkpoints). */
  steps: z.number().int().min(1).max(1_000_000).default(600),
  /** Zoo checkpoints per step. */
  batchMembers: z.number().int().min(1).max(4096).default(16),
  /** Query samples per class of each episode (drawn apart from its support samples). */
  queryPerClass: z.number().int().min(1).max(100_000).default(20),
  /** At most this many zoo checkpoints (a seeded subsample) are used for training. */
  maxMembers: z.number().int().min(1).max(1_000_000).default(400),
  /** Adam learning rate (cosine schedule). */
  lr: z.number().positive().max(10).default(3e-3),
  /**
   * Weight of the squared distance to the checkpoint's own output rows (weights and bias) beside
   * the query cross-entropy (0 = accuracy only).
   */
  rowWeight: z.number().min(0).max(1000).default(0),
  /**
   * Hops over the support features' within-class correlation the generator reads per unit
   * (engine/eval/classhead.ts classInputs); 0 = each unit's own statistics only.
   */
  hops: z.number().int().min(0).max(4).default(2),
});
export type ClassHeadConfig = z.infer<typeof ClassHeadConfigSchema>;
