/** A small real pipeline to sweep over in tests. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openStore } from '../../src/main/store/index.ts';
import { TINY } from './nodes.ts';

/** Per run of a sweep, in point order: name, seed, status and every node's summary metrics. */
export function sweepRuns(db: string, sweepId: string) {
  const store = openStore(db);
  try {
    return store.sweeps.runs(sweepId).map((r) => {
      const run = store.getRun(r.id);
      return {
        point: r.sweepPoint,
        name: run?.name,
        seed: run?.seed,
        status: run?.status,
        metrics: Object.fromEntries(
          (run?.nodes ?? []).map((n) => [
            n.nodeId,
            (n.summary as { metrics?: unknown } | null)?.metrics ?? null,
          ]),
        ),
      };
    });
  } finally {
    store.close();
  }
}

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
