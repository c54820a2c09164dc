/** Export node: writes generated weights where other tools can load them. */
import { z } from 'zod';
import { strictObject } from '../issues.ts';
import { defineNode } from './spec.ts';

export const ExportWeightsConfig = strictObject({
  /** File format: safetensors (PyTorch/JAX/NumPy), a tfjs LayersModel, or one .npy per tensor. */
  format: z.enum(['safetensors', 'tfjs', 'npy']).default('safetensors'),
  /** Output folder; relative paths are resolved against the data directory. */
  folder: z.string().min(1).default('exports'),
  /** Export only the best sample per task (ranked by support-set accuracy) instead of all. */
  bestOnly: z.boolean().default(false),
});
export type ExportWeightsConfig = z.infer<typeof ExportWeightsConfig>;

export const exportWeightsSpec = defineNode({
  type: 'export.weights',
  version: 1,
  category: 'Output',
  title: 'Export weights',
  help:
    'Writes weight vectors as models: safetensors, a tfjs LayersModel (model.json + weights.bin) ' +
    'or .npy files, one folder per task and sample, each with a manifest (architecture, layer ' +
    'layout, source run, conditioning dataset, metrics). Files are written atomically.',
  config: ExportWeightsConfig,
  inputs: [{ id: 'weights', label: 'Weights', type: 'weights' }],
  outputs: [],
  cacheable: false,
});
