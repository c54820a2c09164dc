/**
 * Unseen-dataset tasks node: tasks of another labelled source for a zoo trained on one source, the
 * paper's claim (weights for a new dataset). Its outputs go where a Tasks and a Features node's
 * would, with `splits: ['unseen-dataset']`.
 */
import { z } from 'zod';
import { strictObject } from '../issues.ts';
import { defineNode } from './spec.ts';

export const TasksUnseenDatasetConfig = strictObject({
  /** Tasks drawn from the other source (distinct ordered K-tuples of its classes). */
  numTasks: z.number().int().min(1).max(100_000).default(6),
  /** Seed of the draw (independent of the run seed, like the Tasks node's). */
  seed: z.number().int().min(0).max(0xffffffff).default(0),
});
export type TasksUnseenDatasetConfig = z.infer<typeof TasksUnseenDatasetConfig>;

export const tasksUnseenDatasetSpec = defineNode({
  type: 'tasks.unseen-dataset',
  version: 1,
  category: 'Data',
  title: 'Unseen-dataset tasks',
  help:
    "Draws tasks from another dataset for a zoo trained on the first: K of the other dataset's " +
    'classes per task, with the Tasks node’s samples per class, each dataset split into its own ' +
    'train and test pools. Its samples go through the feature extractor fitted on the first ' +
    "dataset (the Features input), as a user's new data would. Connect its Features output to a " +
    'Sampler, Evaluate or Reference node (its Tasks come with it) and pick the split ' +
    "'unseen-dataset'; the Evaluate nodes of that Sampler's weights take both from them. The " +
    'other dataset must have the same input shape. Pretrained (source) and the zoo’s own ' +
    'checkpoints do not apply to these tasks; a checkpoint of your own (pretrained_file) does.',
  config: TasksUnseenDatasetConfig,
  inputs: [
    { id: 'dataset', label: 'Other dataset', type: 'dataset' },
    { id: 'tasks', label: "Zoo's tasks (K, samples)", type: 'tasks', inheritFrom: ['features'] },
    { id: 'features', label: "Zoo's features", type: 'features' },
  ],
  outputs: [
    { id: 'tasks', label: 'Tasks', type: 'tasks' },
    { id: 'features', label: 'Features', type: 'features' },
  ],
  cacheable: true,
});
