/** Export node: writes generated weights where other tools can load them. */
import { z } from 'zod';
import { strictObject } from '../issues.ts';
import { defineNode } from './spec.ts';

export const ExportWeightsConfig = strictObject({
  /**
   * File format: safetensors (PyTorch/JAX/NumPy), a tfjs LayersModel, one .npy per tensor, or
   * ONNX. Every format includes the feature pipeline, so the model takes raw inputs.
   */
  format: z.enum(['safetensors', 'tfjs', 'npy', 'onnx']).default('safetensors'),
  /**
   * Output folder; relative paths are resolved against the data directory. Each run exports into
   * its own `<folder>/<run id>/` (`<run id>-2`… when that exists; nothing is overwritten).
   */
  folder: z.string().min(1).default('exports'),
  /**
   * Which samples: the best per task (the sampler's ranking: training-set or predicted accuracy,
   * never test accuracy) or every sample.
   */
  select: z.enum(['best', 'all']).default('best'),
});
export type ExportWeightsConfig = z.infer<typeof ExportWeightsConfig>;

export const exportWeightsSpec = defineNode({
  type: 'export.weights',
  version: 2,
  category: 'Output',
  title: 'Export weights',
  help:
    'Writes weight vectors as models that run on raw inputs (the feature pipeline is included): ' +
    'safetensors, a tfjs LayersModel (model.json + weights.bin), .npy files or ONNX, under ' +
    '<folder>/<run id>/<task>/sample-NNN, each with a manifest (architecture, class names in ' +
    'output order, conditioning task, expected input, test accuracy, source run). Files are ' +
    'written atomically; an existing export is never overwritten.',
  config: ExportWeightsConfig,
  inputs: [{ id: 'weights', label: 'Weights', type: 'weights' }],
  outputs: [],
  cacheable: false,
  /** v1 had `bestOnly: boolean` (default false) where v2 has `select`. */
  migrate(config, fromVersion) {
    if (fromVersion !== 1 || typeof config !== 'object' || config === null) return config;
    if (!('bestOnly' in config)) return { select: 'all', ...config };
    const { bestOnly, ...rest } = config as Record<string, unknown>;
    return { ...rest, select: bestOnly === true ? 'best' : 'all' };
  },
});
