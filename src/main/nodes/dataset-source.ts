/** Runs dataset.source: loads the configured data through the engine's one loader. */
import { datasetSourceSpec } from '../../shared/nodes/dataset-source.ts';
import type { DatasetSource } from '../../shared/schemas/dataset.ts';
import { describeSource, loadDataset, mapSourcePaths } from '../engine/data/sources.ts';
import { resolveUserPath } from './define.ts';
import { nodeRunner } from './define.ts';

/** Relative paths in a source are taken inside the data folder, as the node's help says. */
export function resolveSourcePaths(src: DatasetSource, dataDir: string): DatasetSource {
  return mapSourcePaths(src, (p) => resolveUserPath(p, dataDir));
}

export const run = nodeRunner(datasetSourceSpec, async (ctx) => {
  const src = resolveSourcePaths(ctx.config.source, ctx.dataDir);
  ctx.progress({ value: 0, max: 1, unit: 'dataset', label: describeSource(src) });
  const data = await loadDataset(src);
  ctx.progress({ value: 1, max: 1, unit: 'dataset' });
  return {
    outputs: { dataset: { type: 'dataset', data, sourceConfig: src } },
    summary: {
      source: data.source,
      sampleShape: [...data.sampleShape],
      classes: data.classNames.length,
      metrics: { samples: data.labels.length, classes: data.classNames.length },
    },
  };
});
