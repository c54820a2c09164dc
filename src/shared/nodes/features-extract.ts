/** Features node: turns raw samples into the feature vectors zoo models and the encoder consume. */
import { z } from 'zod';
import { strictObject } from '../issues.ts';
import { FeatureConfigSchema } from '../schemas/features.ts';
import { defineNode } from './spec.ts';

export const FeaturesExtractConfig = strictObject({
  /** The extractor: raw pixels (optionally standardised) or PCA fitted on the train pool. */
  extractor: FeatureConfigSchema.default({ kind: 'pca', components: 64, whiten: false }),
});
export type FeaturesExtractConfig = z.infer<typeof FeaturesExtractConfig>;

export const featuresExtractSpec = defineNode({
  type: 'features.extract',
  version: 1,
  category: 'Features',
  title: 'Features',
  help:
    'Maps every sample of the dataset to a feature vector, playing the role of the frozen CLIP ' +
    'image encoder in the paper: the zoo models are small classifiers on these features and the ' +
    'dataset encoder reads support sets of them. The extractor is fitted without labels on the ' +
    "Tasks node's train pool only (never on test samples), so the same features serve seen and " +
    'unseen tasks. Kinds: pixels (flattened, optionally ' +
    'standardised) and pca (k principal components, optionally whitened).',
  config: FeaturesExtractConfig,
  inputs: [
    { id: 'dataset', label: 'Dataset', type: 'dataset', inheritFrom: ['tasks'] },
    { id: 'tasks', label: 'Tasks', type: 'tasks' },
  ],
  outputs: [{ id: 'features', label: 'Features', type: 'features' }],
  cacheable: true,
});
