/** Runs dataset.source: loads the configured data through the engine's one loader. */
import { datasetSourceSpec } from '../../shared/nodes/dataset-source.ts';
import type { DatasetSource } from '../../shared/schemas/dataset.ts';
import { describeSource, loadDataset, mapSourcePaths } from '../engine/data/sources.ts';
import { checkFolderEntries, type PathPolicy } from '../paths/policy.ts';
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
  const out = mapSourcePaths(src, (p) => checked.get(p) ?? p);
  // Full Fashion-MNIST reads four files inside the given folder. (An image folder's loader skips
  // symlinks, so its root is enough.)
  if (out.kind === 'fashion-mnist' && out.path) {
    await checkFolderEntries(paths, out.path, 'file in the dataset folder');
  }
  return out;
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
