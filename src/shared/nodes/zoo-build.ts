/** Zoo node (D2NWG stage 1): trains the model zoo the generator learns from. */
import { z } from 'zod';
import { strictObject } from '../issues.ts';
import {
  ArchitectureSchema,
  ZooAugmentSchema,
  ZooConfigSchema,
  ZooTrainConfigSchema,
} from '../schemas/zoo.ts';
import { defineNode } from './spec.ts';

export const ZooBuildConfig = strictObject({
  /** The architecture every member (and every evaluated init) shares. */
  architecture: ArchitectureSchema.prefault({ kind: 'mlp' }),
  /** How each member is trained and which checkpoints are kept. */
  train: ZooTrainConfigSchema.prefault({}),
  /** Worker threads training members in parallel (0 = in the calling thread). */
  workers: ZooConfigSchema.shape.workers,
  /** Exact augmentations added after training (class-permuted copies of every seen task). */
  augment: ZooAugmentSchema.prefault({}),
});
export type ZooBuildConfig = z.infer<typeof ZooBuildConfig>;

export const zooBuildSpec = defineNode({
  type: 'zoo.build',
  version: 1,
  category: 'Zoo',
  title: 'Train zoo',
  help:
    "Trains the architecture on every task ('seen' split) from several seeds and keeps the last " +
    'checkpoints of each run as flattened weight vectors with their test accuracy, as the paper ' +
    'builds its zoos. This is the slow stage: a few hundred small MLPs on features take minutes ' +
    'on a CPU. Members train in worker threads (`workers`). Connect the Features node fed by the ' +
    'same Dataset and Tasks nodes: the zoo is trained on exactly those features.',
  config: ZooBuildConfig,
  inputs: [
    { id: 'features', label: 'Features', type: 'features' },
    { id: 'tasks', label: 'Tasks', type: 'tasks', inheritFrom: ['features'] },
  ],
  outputs: [{ id: 'zoo', label: 'Zoo', type: 'zoo' }],
  cacheable: true,
});
