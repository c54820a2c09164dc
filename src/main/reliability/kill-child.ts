/**
 * Child process of the kill -9 scenarios (reliability/kill.ts): does real work with the store and
 * says on stdout when it is in the middle of it, so the parent can SIGKILL it there.
 *
 *   kill-child.ts export DB DATA_DIR     a run owned by this process exports many models
 *   kill-child.ts migration DB           migrates a fresh DB and stops inside the transaction
 */
import Database from 'better-sqlite3';
import * as path from 'node:path';
import { run as exportNode } from '../nodes/export-weights.ts';
import { migrate } from '../store/migrations.ts';
import { openStore } from '../store/index.ts';
import { exportContext, syntheticWeights } from './synthetic.ts';

const say = (line: string) => process.stdout.write(`${line}\n`);

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
  const ctx = exportContext(runRecord.id, dataDir, 'exports', (p) => say(`model ${p.value}`));
  await exportNode(ctx, { weights: [syntheticWeights(40, 5)] });
  say('export finished');
}

function migrationScenario(dbFile: string): void {
  const db = new Database(dbFile);
  db.pragma('journal_mode = WAL');
  // Stop at the last statement of the migration's transaction: the schema is created but not
  // committed. The parent kills this process here.
  const pragma = db.pragma.bind(db);
  db.pragma = (source: string, options?: Database.PragmaOptions) => {
    if (/^user_version\s*=/.test(source)) {
      say('inside migration');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
    }
    return pragma(source, options);
  };
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
