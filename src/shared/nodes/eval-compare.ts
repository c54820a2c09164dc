/** Compare node: one table from several Evaluate nodes, the shape of the paper's result tables. */
import { z } from 'zod';
import { strictObject } from '../issues.ts';
import { SPLIT_MEANING } from './eval-finetune.ts';
import { defineNode } from './spec.ts';

export const EvalCompareConfig = strictObject({
  /** Metric shown in the table cells. */
  metric: z.enum(['accuracy']).default('accuracy'),
});
export type EvalCompareConfig = z.infer<typeof EvalCompareConfig>;

export const evalCompareSpec = defineNode({
  type: 'eval.compare',
  version: 1,
  category: 'Evaluation',
  title: 'Compare',
  help:
    'Collects the results of several Evaluate and Reference nodes (connect as many as you like) ' +
    'into one method × fine-tuning-epoch table of mean ± std test accuracy over the target ' +
    "tasks, as in the paper's Tables 1–3, one group of rows per task split: seen = " +
    SPLIT_MEANING.seen +
    '; unseen-combo = ' +
    SPLIT_MEANING['unseen-combo'] +
    '; unseen-class = ' +
    SPLIT_MEANING['unseen-class'] +
    '. The std is over the tasks of the split, not over runs. Methods must have been evaluated ' +
    'at the same epochs to line up.',
  config: EvalCompareConfig,
  inputs: [{ id: 'metrics', label: 'Results', type: 'metrics', multiple: true }],
  outputs: [{ id: 'metrics', label: 'Table', type: 'metrics' }],
  cacheable: true,
});
