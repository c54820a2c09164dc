/**
 * Node type → run function, for the executor. Typed by `NodeType` so that registering a spec
 * without a run function (or the reverse) is a compile error. Nodes whose engine part is not in
 * this build would be listed with `missingEngine` (define.ts), failing with a message naming
 * what is missing; at present every node type has its engine part.
 */
import type { NodeType } from '../../shared/nodes/registry.ts';
import type { NodeRunner } from '../graph/types.ts';
import { run as datasetSource } from './dataset-source.ts';
import { run as evalCompare } from './eval-compare.ts';
import { run as evalFinetune } from './eval-finetune.ts';
import { run as evalReference } from './eval-reference.ts';
import { run as exportWeights } from './export-weights.ts';
import { run as featuresExtract } from './features-extract.ts';
import { run as modelDiffusion } from './model-diffusion.ts';
import { run as modelEncoder } from './model-encoder.ts';
import { run as modelVae } from './model-vae.ts';
import { run as sampleGenerate } from './sample-generate.ts';
import { run as tasksGenerate } from './tasks-generate.ts';
import { run as tasksUnseenDataset } from './tasks-unseen-dataset.ts';
import type { PortValue } from './values.ts';
import { run as zooBuild } from './zoo-build.ts';
import { run as zooImport } from './zoo-import.ts';

export const runners: Record<NodeType, NodeRunner<PortValue>> = {
  'dataset.source': datasetSource,
  'features.extract': featuresExtract,
  'tasks.generate': tasksGenerate,
  'tasks.unseen-dataset': tasksUnseenDataset,
  'zoo.build': zooBuild,
  'zoo.import': zooImport,
  'model.vae': modelVae,
  'model.encoder': modelEncoder,
  'model.diffusion': modelDiffusion,
  'sample.generate': sampleGenerate,
  'eval.finetune': evalFinetune,
  'eval.reference': evalReference,
  'eval.compare': evalCompare,
  'export.weights': exportWeights,
};

export type { PortValue } from './values.ts';
