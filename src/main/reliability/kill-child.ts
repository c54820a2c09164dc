/**
 * Child process of the kill -9 scenarios (reliability/kill.ts): does real work with the store and
 * says on stdout when it is in the middle of it, so the parent can SIGKILL it there.
 *
 *   kill-child.ts export DB DATA_DIR     a run owned by this process exports many models
 *   kill-child.ts migration DB           migrates a fresh DB and stops inside the transaction
 */
import Database from 'better-sqlite3';
import * as path from 'node:path';
import type { TaskSpec } from '../engine/data/types.ts';
import { layoutOf } from '../engine/nn/architecture.ts';
import { initParams } from '../engine/nn/params.ts';
import { Rng } from '../engine/rng.ts';
import type { NodeContext } from '../graph/types.ts';
import { run as exportNode } from '../nodes/export-weights.ts';
import type { PortValue } from '../nodes/values.ts';
import { unrestrictedPolicy } from '../paths/policy.ts';
import { migrate } from '../store/migrations.ts';
import { openStore } from '../store/index.ts';
import type { ExportWeightsConfig } from '../../shared/nodes/export-weights.ts';

const say = (line: string) => process.stdout.write(`${line}\n`);

/** Many models of a few hundred KB each, so that the kill lands while files are being written. */
function exportWeights(): PortValue {
  const layout = layoutOf({
    kind: 'mlp',
    inputDim: 64,
    hidden: [512, 256],
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
    perTask: Array.from({ length: 40 }, (_, t) => ({
      task: task(`t${t}`),
      vectors: Array.from({ length: 5 }, (_, i) => initParams(layout, new Rng(t * 5 + i))),
    })),
  };
}

async function exportScenario(dbFile: string, dataDir: string): Promise<void> {
  const store = openStore(dbFile, { dataDir });
  const runRecord = store.createRun({ name: 'export killed', config: {}, status: 'running' });
  store.upsertNodeRun({
    runId: runRecord.id,
    nodeId: 'export',
    type: 'export.weights',
    status: 'running',
    started: Date.now(),
  });
  say(JSON.stringify({ runId: runRecord.id }));
  const ctx: NodeContext<ExportWeightsConfig> = {
    runId: runRecord.id,
    nodeId: 'export',
    config: { format: 'safetensors', folder: 'exports', select: 'all' },
    seed: 0,
    rng: new Rng(0),
    signal: new AbortController().signal,
    progress: (p) => say(`model ${p.value}`),
    log: () => undefined,
    artifact: () => undefined,
    dataDir,
    paths: unrestrictedPolicy(dataDir),
  };
  await exportNode(ctx, { weights: [exportWeights()] });
  say('export finished');
}

function migrationScenario(dbFile: string): void {
  const db = new Database(dbFile);
  db.pragma('journal_mode = WAL');
  // Stop at the last statement of the migration's transaction: the schema is created but not
  // committed. The parent kills this process here.
  const pragma = db.pragma.bind(db);
  db.pragma = ((source: string, options?: Database.PragmaOptions) => {
    if (/^user_version\s*=/.test(source)) {
      say('inside migration');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
    }
    return pragma(source, options);
  }) as typeof db.pragma;
  migrate(db, 0);
  say('migration finished');
}

const [scenario, dbFile, dataDir] = process.argv.slice(2);
if (scenario === 'export' && dbFile && dataDir) {
  await exportScenario(path.resolve(dbFile), path.resolve(dataDir));
} else if (scenario === 'migration' && dbFile) {
  migrationScenario(path.resolve(dbFile));
} else {
  throw new Error('usage: kill-child.ts export DB DATA_DIR | migration DB');
}
