/** Sampler node (D2NWG stage 5): generates classifier weights for target tasks. */
import { z } from 'zod';
import { ClassHeadConfigSchema } from '../schemas/classhead.ts';
import { SamplerConfig } from '../schemas/diffusion.ts';
import { PredictorConfig } from '../schemas/predictor.ts';
import { migrateSplitToSplits, SplitsSchema } from './eval-finetune.ts';
import { defineNode } from './spec.ts';

export const SampleGenerateConfig = SamplerConfig.extend({
  /** Weight vectors sampled per target task (N). */
  samplesPerTask: z.number().int().min(1).max(1000).default(10),
  /** Which task splits of the Tasks node to generate for (use the same as the Evaluate nodes). */
  splits: SplitsSchema.default(['seen']),
  /** Generate for at most this many tasks of each split (the first ones). */
  maxTasks: z.number().int().min(1).max(100_000).default(5),
  /** Rank the samples of each task, best first (by `rankBy`). */
  rank: z.boolean().default(true),
  /**
   * 'support': by accuracy on the task's training samples. 'predictor': by the accuracy predictor
   * g (paper App. D), trained here on the zoo; it needs no labelled data of the target task.
   */
  rankBy: z.enum(['support', 'predictor']).default('support'),
  /**
   * The output layer of each sample. 'generated': as decoded. 'prototypes' (class means) or
   * 'discriminant' (LDA, shared covariance): refitted in closed form on the generated body's hidden
   * features (an MLP's last hidden layer, a CNN's pooled channels), so output i is the task's
   * class i even for a class tuple the generator never saw. 'class': generated class by class from
   * the support set by a head generator trained here on the zoo (no fitting; `classHead`).
   */
  head: z.enum(['generated', 'prototypes', 'discriminant', 'class']).default('generated'),
  /** The class-head generator of head 'class' (trained on the zoo's checkpoints and tasks). */
  classHead: ClassHeadConfigSchema.prefault({}),
  /** Labelled samples a refitted head is fitted on: the support set, or all training samples. */
  headFrom: z.enum(['support', 'train']).default('support'),
  /** Shrinkage of the LDA covariance toward a scaled identity ('discriminant'; 1 = prototypes). */
  headShrinkage: z.number().min(0).max(1).default(0.1),
  /** The accuracy predictor g trained on the zoo for rankBy 'predictor'. */
  predictor: PredictorConfig.prefault({}),
});
export type SampleGenerateConfig = z.infer<typeof SampleGenerateConfig>;

export const sampleGenerateSpec = defineNode({
  type: 'sample.generate',
  version: 2,
  category: 'Sampling',
  title: 'Sampler',
  help:
    'For each target task: encode its support set, sample N latents with DDPM or DDIM ' +
    '(classifier-free guidance optional), and decode them with the VAE into weight vectors of the ' +
    "zoo's architecture. Generation sees only the support set. One Sampler serves every split " +
    'it lists (seen, unseen-combo, unseen-class: the same tasks as the Evaluate nodes). Feed the ' +
    'result to Evaluate ' +
    '(init = d2nwg) or Export weights. Samples are ranked best first, by accuracy on the ' +
    "task's training samples or by the accuracy predictor g (trained on the zoo's members, no " +
    'labels needed). The output layer can be refitted on the generated body (class prototypes or ' +
    'LDA, from the support set or the training samples), which maps output i to class i of an ' +
    'unseen task.',
  config: SampleGenerateConfig,
  inputs: [
    { id: 'diffusion', label: 'Diffusion', type: 'diffusion' },
    { id: 'vae', label: 'VAE', type: 'vae', inheritFrom: ['diffusion'] },
    { id: 'encoder', label: 'Encoder', type: 'encoder', inheritFrom: ['diffusion'] },
    // Target features and tasks: another task set (Unseen-dataset tasks) may override the
    // model's own; the tasks must still be those of the features.
    {
      id: 'features',
      label: 'Features',
      type: 'features',
      inheritFrom: ['diffusion'],
      onConflict: 'override',
    },
    { id: 'tasks', label: 'Target tasks', type: 'tasks', inheritFrom: ['features'] },
    { id: 'zoo', label: 'Zoo (architecture)', type: 'zoo', inheritFrom: ['diffusion'] },
  ],
  outputs: [{ id: 'weights', label: 'Weights', type: 'weights' }],
  cacheable: true,
  migrate: migrateSplitToSplits,
});
