/**
 * Dataset source: where labelled data enters a pipeline. Every other stage (features, tasks, zoo,
 * evaluation) indexes into the samples this node loads, so it is the root of most pipelines.
 */
import { z } from 'zod';
import { strictObject } from '../issues.ts';
import { DatasetSourceSchema } from '../schemas/dataset.ts';
import { defineNode } from './spec.ts';

export const DatasetSourceConfig = strictObject({
  /** Where the samples come from (engine's DatasetSource: fashion-mnist, idx, imagefolder, csv, npy). */
  source: DatasetSourceSchema.default({ kind: 'fashion-mnist', variant: 'embedded' }),
});
export type DatasetSourceConfig = z.infer<typeof DatasetSourceConfig>;

export const datasetSourceSpec = defineNode({
  type: 'dataset.source',
  version: 1,
  category: 'Data',
  title: 'Dataset',
  help:
    'Loads a labelled dataset: the embedded Fashion-MNIST test set (10,000 images of 28×28, no ' +
    'download; variant "full" reads train + t10k from a folder), an IDX pair (MNIST style), an ' +
    'image folder (one sub-folder of PNG/JPEG images per class), a CSV with a label column, or a ' +
    'pair of .npy files. Pixels are scaled to [0, 1]. Relative paths are resolved against the ' +
    'data directory.',
  config: DatasetSourceConfig,
  inputs: [],
  outputs: [{ id: 'dataset', label: 'Dataset', type: 'dataset' }],
  cacheable: true,
});
