/**
 * Feature extractors: the stand-in for the paper's frozen CLIP image encoder. Zoo models are small
 * classifiers on these features and the dataset encoder reads support sets of them. Config and
 * saved state are shared so the canvas, the CLI and saved files validate alike.
 */
import { z } from 'zod';
import { strictObject } from '../issues.ts';

/** How samples become feature vectors. */
export const FeatureConfigSchema = z.discriminatedUnion('kind', [
  strictObject({
    kind: z.literal('pixels'),
    /** Subtract the per-dimension mean and divide by the std, both fitted on the train pool. */
    standardise: z.boolean().default(false),
  }),
  strictObject({
    kind: z.literal('pca'),
    /** Number of principal components kept (the feature dimension). */
    components: z.number().int().min(1).max(4096).default(64),
    /** Divide each component by its std, so every feature has unit variance on the train pool. */
    whiten: z.boolean().default(false),
  }),
  strictObject({
    kind: z.literal('image-encoder'),
    /** A local image-encoder model (the paper uses CLIP). Not implemented yet. */
    modelPath: z.string().min(1),
  }),
]);
export type FeatureConfig = z.infer<typeof FeatureConfigSchema>;
export type FeatureConfigInput = z.input<typeof FeatureConfigSchema>;

const shape = z.array(z.number().int().min(1)).min(1);
const finite = z.array(z.number().refine(Number.isFinite, 'must be finite'));

/** A fitted 'pixels' extractor. */
export const PixelsStateSchema = z.object({
  kind: z.literal('pixels'),
  /** Format version of this state. */
  version: z.literal(1),
  /** Shape of one input sample. */
  inputShape: shape,
  /** Whether mean/std standardisation is applied. */
  standardise: z.boolean(),
  /** Per-dimension mean (present when standardise). */
  mean: finite.optional(),
  /** Per-dimension std, floored so that constant pixels do not divide by zero (when standardise). */
  std: finite.optional(),
});

/** A fitted 'pca' extractor. */
export const PcaStateSchema = z.object({
  kind: z.literal('pca'),
  /** Format version of this state. */
  version: z.literal(1),
  /** Shape of one input sample. */
  inputShape: shape,
  /** Number of components k. */
  components: z.number().int().min(1),
  /** Whether components are divided by sqrt(eigenvalue). */
  whiten: z.boolean(),
  /** Mean of the fitting samples, length D. */
  mean: finite,
  /** Principal axes, row-major [D, k], orthonormal columns, largest variance first. */
  basis: finite,
  /** Variance along each axis (covariance eigenvalues), length k, descending. */
  eigenvalues: finite,
  /** Fraction of the total variance each component explains, length k. */
  explainedVarianceRatio: finite,
  /** Sum of the variances of all D input dimensions. */
  totalVariance: z.number().min(0),
  /** Samples the PCA was fitted on. */
  fitSamples: z.number().int().min(1),
  /** Subspace iterations run until the eigenvalues settled. */
  iterations: z.number().int().min(0),
  /** Largest ‖Cq − λq‖ / λ₁ over the kept axes at the end (convergence quality). */
  maxResidual: z.number().min(0).optional(),
});

/** Everything needed to rebuild a fitted extractor (JSON-able). */
export const FeatureStateSchema = z.discriminatedUnion('kind', [PixelsStateSchema, PcaStateSchema]);
export type PixelsState = z.infer<typeof PixelsStateSchema>;
export type PcaState = z.infer<typeof PcaStateSchema>;
export type FeatureState = z.infer<typeof FeatureStateSchema>;
