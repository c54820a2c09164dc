/** Synthetic inputs of the export node for the reliability scenarios (kill -9, full disk). */
import type { TaskSpec } from '../engine/data/types.ts';
import { layoutOf } from '../engine/nn/architecture.ts';
import { initParams } from '../engine/nn/params.ts';
import type { Progress } from '../engine/progress.ts';
import { Rng } from '../engine/rng.ts';
import type { NodeContext } from '../graph/types.ts';
import type { PortValue } from '../nodes/values.ts';
import { unrestrictedPolicy } from '../paths/policy.ts';
import type { ExportWeightsConfig } from '../../shared/nodes/export-weights.ts';

/**
 * `samples` models per task for `tasks` tasks of an MLP 64→hidden→5 (default 512, 256: about
 * 700 KB per model in safetensors), as a sampler would hand them to the export node.
 */
export function syntheticWeights(
  tasks: number,
  samples: number,
  hidden: readonly number[] = [512, 256],
): PortValue {
  const layout = layoutOf({
    kind: 'mlp',
    inputDim: 64,
    hidden: [...hidden],
    outputs: 5,
    activation: 'relu',
  });
  const task = (id: string): TaskSpec => ({
    id,
    classes: [0, 1, 2, 3, 4],
    trainIndex: new Int32Array(4),
    testIndex: new Int32Array(10),
    split: 'seen',
  });
  return {
    type: 'weights',
    layout,
    dataset: 'synthetic',
    method: 'd2nwg',
    classNames: ['a', 'b', 'c', 'd', 'e'],
    perTask: Array.from({ length: tasks }, (_, t) => ({
      task: task(`t${t}`),
      vectors: Array.from({ length: samples }, (_, i) =>
        initParams(layout, new Rng(t * samples + i)),
      ),
    })),
  };
}

/** The context the executor gives export.weights (all samples, safetensors), with full access. */
export function exportContext(
  runId: string,
  dataDir: string,
  folder: string,
  progress: (p: Progress) => void = () => undefined,
): NodeContext<ExportWeightsConfig> {
  return {
    runId,
    nodeId: 'export',
    config: { format: 'safetensors', folder, select: 'all' },
    seed: 0,
    rng: new Rng(0),
    signal: new AbortController().signal,
    progress,
    log: () => undefined,
    artifact: () => undefined,
    dataDir,
    paths: unrestrictedPolicy(dataDir),
  };
}
