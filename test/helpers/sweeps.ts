/** A small real pipeline to sweep over in tests. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TINY } from './nodes.ts';

/**
 * dataset → tasks (TINY) → PCA features → NCM reference on seen tasks → Compare: real nodes,
 * no training, a second per run.
 */
export function writeSweepPipeline(dir: string): string {
  const node = (id: string, type: string, version: number, config: object) => ({
    id,
    type,
    version,
    config,
  });
  const nodes = [
    node('data', 'dataset.source', 1, {}),
    node('tasks', 'tasks.generate', 1, TINY.tasks),
    node('features', 'features.extract', 1, TINY.features),
    node('ncm', 'eval.reference', 2, {
      method: 'ncm',
      label: 'NCM',
      splits: ['seen'],
      maxTasks: 2,
    }),
    node('compare', 'eval.compare', 1, {}),
  ];
  const e = (source: string, sourcePort: string, target: string, targetPort: string) => ({
    source,
    sourcePort,
    target,
    targetPort,
  });
  const edges = [
    e('data', 'dataset', 'tasks', 'dataset'),
    e('data', 'dataset', 'features', 'dataset'),
    e('tasks', 'tasks', 'features', 'tasks'),
    e('features', 'features', 'ncm', 'features'),
    e('tasks', 'tasks', 'ncm', 'tasks'),
    e('ncm', 'metrics', 'compare', 'metrics'),
  ].map((x, i) => ({ id: `e${i}`, ...x }));
  const file = path.join(dir, 'sweep.pipeline.json');
  fs.writeFileSync(
    file,
    JSON.stringify({ format: 'd2nwg-pipeline', version: 1, name: 'sweepy', nodes, edges }),
  );
  return file;
}
