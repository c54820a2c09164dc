/**
 * Reference classifier node: a zero-training classifier on the task's features (nearest class
 * mean, or linear discriminant analysis), reported like an Evaluate node at epoch 0, so a Compare
 * table shows what generated weights must beat without any training.
 */
import { z } from 'zod';
import { QualityEvalSchema } from '../schemas/quality.ts';
import { EvalFinetuneConfig, migrateSplitToSplits } from './eval-finetune.ts';
import { defineNode } from './spec.ts';

export const REFERENCE_METHODS = ['ncm', 'lda'] as const;

/** The Evaluate node's label, splits and task count, plus the classifier's own settings. */
export const EvalReferenceConfig = EvalFinetuneConfig.pick({
  label: true,
  splits: true,
  maxTasks: true,
  perClass: true,
}).extend({
  /** 'ncm': nearest class mean (Euclidean); 'lda': shared-covariance linear discriminant. */
  method: z.enum(REFERENCE_METHODS).default('ncm'),
  /** Fitted on all of each task's training samples, or on a support set of `perClass` per class. */
  samples: z.enum(['train', 'support']).default('train'),
  /** Shrinkage of the LDA covariance toward a scaled identity (1 = nearest class mean). */
  shrinkage: QualityEvalSchema.shape.ldaShrinkage,
});
export type EvalReferenceConfig = z.infer<typeof EvalReferenceConfig>;

export const evalReferenceSpec = defineNode({
  type: 'eval.reference',
  version: 2,
  category: 'Evaluation',
  title: 'Reference classifier',
  help:
    'A classifier that needs no training, fitted on the same features as the generated weights: ' +
    'ncm (nearest class mean) or lda (linear discriminant analysis with a shrunk shared ' +
    "covariance), from all of each task's training samples or from a few per class. Reports test " +
    'accuracy at epoch 0 (no fine-tuning applies), one row per split, for a Compare table next ' +
    'to the Evaluate nodes: what generated weights must beat on each split without training.',
  config: EvalReferenceConfig,
  inputs: [
    { id: 'features', label: 'Features', type: 'features' },
    { id: 'tasks', label: 'Target tasks', type: 'tasks', inheritFrom: ['features'] },
  ],
  outputs: [{ id: 'metrics', label: 'Results', type: 'metrics' }],
  cacheable: true,
  migrate: migrateSplitToSplits,
});
