/** Tasks node: draws the classification tasks (ordered K-class tuples) zoo and evaluation work on. */
import { TaskGenConfigSchema } from '../schemas/dataset.ts';
import { defineNode } from './spec.ts';

export const tasksGenerateSpec = defineNode({
  type: 'tasks.generate',
  version: 1,
  category: 'Data',
  title: 'Tasks',
  help:
    'Draws classification tasks from the dataset: each task is an ordered tuple of K classes with ' +
    'n training and m test samples per class (disjoint). Tasks fall in three splits as in ' +
    "bench/QUALITY.md: 'seen' (the zoo trains on them), 'unseen-combo' (new tuples of known " +
    "classes) and 'unseen-class' (tuples containing held-out classes). The draw is fixed by the " +
    'seed in its config (independent of the run seed, so tasks stay put while other seeds vary).',
  config: TaskGenConfigSchema,
  inputs: [{ id: 'dataset', label: 'Dataset', type: 'dataset' }],
  outputs: [{ id: 'tasks', label: 'Tasks', type: 'tasks' }],
  cacheable: true,
});
