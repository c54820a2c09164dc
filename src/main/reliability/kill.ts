/**
 * kill -9 scenarios: a child process doing real work (a zoo build with worker threads through
 * `d2nwg run`, a weight export, a schema migration) is SIGKILLed in the middle; then the store is
 * opened again and must pass SQLite's integrity check, show the killed run as `interrupted`, and
 * the data dir must hold no file under a final name that is incomplete (atomic writes leave only
 * hidden `.name.tmp-…` files behind). Shared by the tests and `d2nwg bench reliability`.
 */
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { resourcesDir } from '../engine/data/sources.ts';
import { readNpy } from '../engine/formats/npy.ts';
import { readSafetensors } from '../engine/formats/safetensors.ts';
import { Rng } from '../engine/rng.ts';
import { openStore } from '../store/index.ts';
import { SCHEMA_VERSION } from '../store/migrations.ts';
import { errorMessage } from '../../shared/errors.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..', '..');
const CLI = path.join(ROOT, 'bin', 'd2nwg.mjs');
const CHILD = fileURLToPath(new URL('./kill-child.ts', import.meta.url));
/** Longest wait for a child to reach the point where it is killed. */
const REACH_TIMEOUT_MS = 120_000;

/** One check after the kill: its name, whether it held, and what was seen. */
export interface KillCheck {
  readonly check: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface KillOutcome {
  readonly scenario: string;
  /** Every check held. */
  readonly survived: boolean;
  /** What the child was doing when killed. */
  readonly killedAt: string;
  readonly checks: readonly KillCheck[];
  /** Hidden temp files the killed process left (expected; never read as complete files). */
  readonly tempFilesLeft: number;
}

/**
 * Spawn `args` with node, wait for a stdout or stderr line matching `at`, SIGKILL the process
 * and wait for it to die. Returns every line seen. Throws if the child exits first.
 */
async function runUntilKilled(
  args: string[],
  at: (line: string, seen: readonly string[]) => boolean,
): Promise<{ lines: string[]; killedAt: string }> {
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  const lines: string[] = [];
  const exited = new Promise<string>((resolve) =>
    child.on('exit', (code, signal) => resolve(signal ?? String(code))),
  );
  const killedAt = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the child did not reach the kill point in ${REACH_TIMEOUT_MS} ms`));
    }, REACH_TIMEOUT_MS);
    const onData = (stream: NodeJS.ReadableStream) => {
      let buf = '';
      stream.on('data', (d: Buffer) => {
        buf += d.toString();
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          lines.push(line);
          if (at(line, lines) && child.exitCode === null) {
            child.kill('SIGKILL');
            clearTimeout(timer);
            resolve(line);
          }
        }
      });
    };
    onData(child.stdout);
    onData(child.stderr);
    void exited.then((how) => {
      clearTimeout(timer);
      reject(new Error(`the child exited (${how}) before the kill point:\n${lines.join('\n')}`));
    });
  });
  const how = await exited;
  if (how !== 'SIGKILL') throw new Error(`the child ended with ${how}, not SIGKILL`);
  return { lines, killedAt };
}

/** Every file under `dir` (recursively), as paths relative to it. */
function walk(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => path.relative(dir, path.join(d.parentPath, d.name)));
}

const isTemp = (rel: string) => /(^|\/)\.[^/]*\.tmp-[^/]*$/.test(rel);

/**
 * Files under their final names must be complete: safetensors, .npy and JSON files parse, and an
 * export's manifest lists files that exist with the recorded sizes. Temp files are counted.
 */
export async function checkFilesComplete(
  dataDir: string,
): Promise<{ check: KillCheck; temps: number }> {
  const bad: string[] = [];
  let checked = 0;
  let temps = 0;
  for (const rel of walk(dataDir)) {
    if (isTemp(rel)) {
      temps++;
      continue;
    }
    if (/^studio\.db(-wal|-shm|-journal)?$/.test(rel)) continue;
    const file = path.join(dataDir, rel);
    try {
      if (rel.endsWith('.safetensors')) await readSafetensors(file);
      else if (rel.endsWith('.npy')) await readNpy(file);
      else if (rel.endsWith('.json')) {
        const json = JSON.parse(fs.readFileSync(file, 'utf8')) as {
          files?: { name: string; bytes: number }[];
        };
        for (const f of json.files ?? []) {
          const size = fs.statSync(path.join(path.dirname(file), f.name)).size;
          if (size !== f.bytes)
            throw new Error(`${f.name}: ${size} bytes, manifest says ${f.bytes}`);
        }
      } else continue;
      checked++;
    } catch (err) {
      bad.push(`${rel}: ${errorMessage(err)}`);
    }
  }
  return {
    check: {
      check: 'no incomplete file under a final name',
      ok: bad.length === 0,
      detail: bad.length
        ? bad.slice(0, 5).join('; ')
        : `${checked} files complete, ${temps} temp files`,
    },
    temps,
  };
}

/** Reopen the store: integrity ok, `runId` interrupted (when given), the store still writable. */
function checkStore(dbFile: string, dataDir: string, runId: string | null): KillCheck[] {
  const store = openStore(dbFile, { dataDir });
  try {
    const integrity = store.integrityCheck();
    const checks: KillCheck[] = [
      { check: 'integrity_check', ok: integrity === 'ok', detail: integrity },
    ];
    if (runId !== null) {
      const status = store.getRun(runId)?.status ?? 'missing';
      checks.push({
        check: 'killed run is interrupted',
        ok: status === 'interrupted' && store.interruptedAtOpen.includes(runId),
        detail: `status ${status}; interrupted at open: ${store.interruptedAtOpen.join(', ') || 'none'}`,
      });
    }
    const after = store.createRun({ name: 'after the kill', config: {} });
    checks.push({
      check: 'store writable after reopening',
      ok: store.getRun(after.id)?.status === 'queued',
      detail: `new run ${after.id}`,
    });
    return checks;
  } finally {
    store.close();
  }
}

async function outcome(
  scenario: string,
  killedAt: string,
  checks: KillCheck[],
  dataDir: string,
): Promise<KillOutcome> {
  const files = await checkFilesComplete(dataDir);
  const all = [...checks, files.check];
  return {
    scenario,
    survived: all.every((c) => c.ok),
    killedAt,
    checks: all,
    tempFilesLeft: files.temps,
  };
}

/**
 * A pipeline of the quickstart's first four nodes (data, tasks, features, zoo build) over a small
 * synthetic CSV in `dir` (10 classes of 200 rows, 8 columns), so that the zoo starts within
 * seconds and its members train for a while.
 */
function zooPipeline(dir: string, epochs: number): unknown {
  const rng = new Rng(7);
  const rows = ['label,' + Array.from({ length: 8 }, (_, j) => `x${j}`).join(',')];
  for (let i = 0; i < 2000; i++) {
    const c = i % 10;
    const xs = Array.from({ length: 8 }, (_, j) => (((c * (j + 3)) % 7) + rng.normal()).toFixed(3));
    rows.push(`${c},${xs.join(',')}`);
  }
  fs.writeFileSync(path.join(dir, 'data.csv'), `${rows.join('\n')}\n`);
  const qs = JSON.parse(
    fs.readFileSync(path.join(resourcesDir(), 'pipelines', 'quickstart.json'), 'utf8'),
  ) as {
    nodes: { id: string; config?: Record<string, unknown> }[];
    edges: { source: string; target: string }[];
  };
  const keep = new Set(['data', 'tasks', 'features', 'zoo']);
  const config: Record<string, Record<string, unknown>> = {
    data: { source: { kind: 'csv', path: 'data.csv' } },
    features: { extractor: { kind: 'pixels', standardise: true } },
  };
  const nodes = qs.nodes
    .filter((n) => keep.has(n.id))
    .map((n) => {
      if (n.id === 'tasks') return { ...n, config: { ...n.config, nTrain: 20, nTest: 20 } };
      if (n.id !== 'zoo') return { ...n, config: config[n.id] ?? n.config };
      const train = { ...(n.config?.train as object), epochs, keepLast: epochs };
      return { ...n, config: { ...n.config, workers: 2, train } };
    });
  const edges = qs.edges.filter((e) => keep.has(e.source) && keep.has(e.target));
  return { ...qs, name: 'zoo build killed', description: 'kill -9 scenario', nodes, edges };
}

/** `d2nwg run` of a zoo build with 2 worker threads, killed while its members train. */
export async function killDuringZooBuild(dir: string): Promise<KillOutcome> {
  const dbFile = path.join(dir, 'studio.db');
  const file = path.join(dir, 'zoo.pipeline.json');
  // Members are reported as their checkpoints are kept, so every epoch is kept (keepLast =
  // epochs): member lines then come from the first epoch on, and the kill waits for one that
  // shows an epoch short of the last, i.e. workers mid-training. (Keeping only the last few, the
  // first line came near the end, and a fast build could finish before the kill.)
  const epochs = 400;
  fs.writeFileSync(file, JSON.stringify(zooPipeline(dir, epochs)));
  const { lines, killedAt } = await runUntilKilled(
    [CLI, 'run', file, '--db', dbFile, '--data-dir', dir],
    (line) => {
      const m = /^zoo member \d+\/\d+ .*epoch (\d+)\/(\d+)(\s|$)/.exec(line);
      return m !== null && Number(m[1]) < Number(m[2]);
    },
  );
  const runId = lines.map((l) => /^run (\S+): '/.exec(l)?.[1]).find((x) => x !== undefined);
  if (runId === undefined) throw new Error(`no run id printed:\n${lines.join('\n')}`);
  return outcome('zoo-build', killedAt, checkStore(dbFile, dir, runId), dir);
}

/** The export node writing 200 models (select all) for a run owned by the child, killed mid-way. */
export async function killDuringExport(dir: string): Promise<KillOutcome> {
  const dbFile = path.join(dir, 'studio.db');
  const { lines, killedAt } = await runUntilKilled(
    ['--import', 'tsx', CHILD, 'export', dbFile, dir],
    (line) => line === 'model 7',
  );
  const runId = (JSON.parse(lines.find((l) => l.startsWith('{')) ?? '{}') as { runId?: string })
    .runId;
  if (runId === undefined) throw new Error(`no run id printed:\n${lines.join('\n')}`);
  return outcome('export', killedAt, checkStore(dbFile, dir, runId), dir);
}

/** A fresh DB's migration, killed inside its transaction; reopening must migrate cleanly. */
export async function killDuringMigration(dir: string): Promise<KillOutcome> {
  const dbFile = path.join(dir, 'studio.db');
  const { killedAt } = await runUntilKilled(
    ['--import', 'tsx', CHILD, 'migration', dbFile],
    (line) => line === 'inside migration',
  );
  const before = new Database(dbFile, { readonly: true });
  let versionAfterKill: number;
  try {
    versionAfterKill = Number(before.pragma('user_version', { simple: true }));
  } finally {
    before.close();
  }
  const checks = checkStore(dbFile, dir, null);
  const reopened = new Database(dbFile, { readonly: true });
  try {
    const version = Number(reopened.pragma('user_version', { simple: true }));
    checks.push({
      check: 'killed migration rolled back, then applied on reopen',
      ok: versionAfterKill === 0 && version === SCHEMA_VERSION,
      detail: `user_version ${versionAfterKill} after the kill, ${version} after reopening`,
    });
  } finally {
    reopened.close();
  }
  return outcome('migration', killedAt, checks, dir);
}

export const KILL_SCENARIOS: Record<string, (dir: string) => Promise<KillOutcome>> = {
  'zoo-build': killDuringZooBuild,
  export: killDuringExport,
  migration: killDuringMigration,
};
