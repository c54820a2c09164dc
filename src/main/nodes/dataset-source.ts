/** Runs dataset.source: loads the configured data through the engine's one loader. */
import { datasetSourceSpec } from '../../shared/nodes/dataset-source.ts';
import type { DatasetSource } from '../../shared/schemas/dataset.ts';
import { describeSource, loadDataset, mapSourcePaths } from '../engine/data/sources.ts';
import type { PathPolicy } from '../paths/policy.ts';
import { nodeRunner } from './define.ts';

/**
 * Every path of a source through the path policy: relative ones are taken inside the data folder
 * (as the node's help says), symlinks are resolved, and a path the policy refuses is an error
 * before any file is opened.
 */
export async function resolveSourcePaths(
  src: DatasetSource,
  paths: PathPolicy,
): Promise<DatasetSource> {
  const given: string[] = [];
  mapSourcePaths(src, (p) => (given.push(p), p));
  const checked = new Map<string, string>();
  for (const p of given) checked.set(p, await paths.checkRead(p, 'dataset file'));
  return mapSourcePaths(src, (p) => checked.get(p) ?? p);
}

export const run = nodeRunner(datasetSourceSpec, async (ctx) => {
  const src = await resolveSourcePaths(ctx.config.source, ctx.paths);
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
