/**
 * Zoo import: reuse a zoo trained elsewhere (or by an earlier run) instead of training one, since
 * the zoo is by far the most expensive stage of D2NWG.
 */
import { z } from 'zod';
import { strictObject } from '../issues.ts';
import { ActivationSchema } from '../schemas/zoo.ts';
import { defineNode } from './spec.ts';

/** Zoo folder layouts read: auto-detected, this app's, Schürholt's model zoos, p-diff's checkpoints. */
export const ZOO_IMPORT_FORMATS = ['auto', 'd2nwg', 'schurholt', 'pdiff'] as const;

export const ZooImportConfig = strictObject({
  /** The zoo folder (see `format`). */
  path: z.string().default(''),
  /**
   * Its layout: 'd2nwg' (manifest.json + safetensors shards), 'schurholt' (one folder per model
   * with params.json, result.json and checkpoint_NNNNNN/checkpoints), 'pdiff' (a folder of
   * .pt/.pth checkpoints of one model), or 'auto' to tell them apart by their files.
   */
  format: z.enum(ZOO_IMPORT_FORMATS).default('auto'),
  /**
   * Nonlinearity of PyTorch MLPs imported from Schürholt or p-diff folders (their checkpoints do
   * not record it); 'auto': Schürholt's params.json `model::nlin`, relu for p-diff.
   */
  activation: z.enum(['auto', ...ActivationSchema.options]).default('auto'),
});
export type ZooImportConfig = z.infer<typeof ZooImportConfig>;

export const zooImportSpec = defineNode({
  type: 'zoo.import',
  version: 1,
  category: 'Zoo',
  title: 'Import zoo',
  help:
    'Loads a model zoo from a folder written by `d2nwg zoo export` (or any tool writing the same ' +
    'format): safetensors shards plus a JSON manifest giving, per checkpoint, the task, seed, ' +
    'epoch and accuracy, and the layer layout of the shared architecture. The manifest is ' +
    'validated; shapes that disagree with it are refused. It also imports PyTorch zoos, read ' +
    'without Python (a pickle naming anything but tensors, storages and OrderedDict is refused, ' +
    "nothing in it is run): format 'schurholt' (Schürholt et al.'s model zoos: one folder per " +
    'model with params.json, result.json of per-epoch accuracies and checkpoint_NNNNNN/' +
    "checkpoints state dicts; epoch 0, the untrained init, is skipped) and 'pdiff' (a folder of " +
    '.pt/.pth checkpoints of one model, taken in name order as epochs 1, 2, …; p-diff records ' +
    "no accuracies, so they read 0). 'auto' (default) tells the layouts apart by their files. " +
    'Only MLPs (chains of Linear layers) are imported from PyTorch; every model must have the ' +
    'same layers and the same epochs. activation: the nonlinearity of imported MLPs (auto: ' +
    "params.json's model::nlin for Schürholt zoos, relu for p-diff).",
  config: ZooImportConfig,
  inputs: [],
  outputs: [{ id: 'zoo', label: 'Zoo', type: 'zoo' }],
  cacheable: true,
});
