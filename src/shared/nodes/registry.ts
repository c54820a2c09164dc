/**
 * The one registry of node types. The canvas builds its palette and React Flow node types from
 * it, the executor validates pipelines against it, and `NodeType` is derived from it, so adding a
 * node is: write its spec, register it here, write its run function in src/main/nodes.
 */
import { datasetSourceSpec } from './dataset-source.ts';
import { evalCompareSpec } from './eval-compare.ts';
import { evalFinetuneSpec } from './eval-finetune.ts';
import { evalReferenceSpec } from './eval-reference.ts';
import { exportWeightsSpec } from './export-weights.ts';
import { featuresExtractSpec } from './features-extract.ts';
import { modelDiffusionSpec } from './model-diffusion.ts';
import { modelEncoderSpec } from './model-encoder.ts';
import { modelVaeSpec } from './model-vae.ts';
import { sampleGenerateSpec } from './sample-generate.ts';
import { NodeRegistry, type NodeTypeOf } from './spec.ts';
import { tasksGenerateSpec } from './tasks-generate.ts';
import { tasksUnseenDatasetSpec } from './tasks-unseen-dataset.ts';
import { zooBuildSpec } from './zoo-build.ts';
import { zooImportSpec } from './zoo-import.ts';

export const registry = new NodeRegistry<never>()
  .register(datasetSourceSpec)
  .register(featuresExtractSpec)
  .register(tasksGenerateSpec)
  .register(tasksUnseenDatasetSpec)
  .register(zooBuildSpec)
  .register(zooImportSpec)
  .register(modelVaeSpec)
  .register(modelEncoderSpec)
  .register(modelDiffusionSpec)
  .register(sampleGenerateSpec)
  .register(evalFinetuneSpec)
  .register(evalReferenceSpec)
  .register(evalCompareSpec)
  .register(exportWeightsSpec);

/** Every node type id of the app, as a union (e.g. for exhaustive maps of run functions). */
export type NodeType = NodeTypeOf<typeof registry>;
