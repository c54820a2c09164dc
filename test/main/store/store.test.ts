import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  SCHEMA_VERSION,
  StoreOpenError,
  defaultDbPath,
  openStore,
  type Store,
} from '../../../src/main/store/index.ts';
import { sha256Of } from '../../../src/main/store/blobs.ts';

let dir: string;
let dbFile: string;
const open: Store[] = [];

function openIt(opts?: Parameters<typeof openStore>[1]): Store {
  const s = openStore(dbFile, opts);
  open.push(s);
  return s;
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-store-'));
  dbFile = path.join(dir, 'studio.db');
});

afterEach(() => {
  for (const s of open.splice(0)) s.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function blobFiles(root: string): string[] {
  const b = path.join(root, 'blobs');
  if (!fs.existsSync(b)) return [];
  return fs
    .readdirSync(b, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => e.name)
    .sort();
}

describe('openStore: creation and migrations', () => {
  it('creates the schema from nothing, in WAL mode with foreign keys on', () => {
    const s = openIt();
    expect(s.schemaVersion()).toBe(SCHEMA_VERSION);
    expect(s.integrityCheck()).toBe('ok');
    s.close();
    const raw = new Database(dbFile, { readonly: true });
    const tables = (
      raw.prepare("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name").all() as {
        name: string;
      }[]
    ).map((r) => r.name);
    expect(tables).toEqual([
      'artifacts',
      'metrics',
      'node_runs',
      'pipeline_versions',
      'pipelines',
      'runs',
      'schema_migrations',
      'sweeps',
    ]);
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(raw.prepare('SELECT version FROM schema_migrations').all()).toHaveLength(SCHEMA_VERSION);
    raw.close();
  });

  it('accepts an empty (0-byte) file and reopens an existing store without re-migrating', () => {
    fs.writeFileSync(dbFile, '');
    const s = openIt();
    s.createRun({ name: 'a', config: { x: 1 } });
    s.close();
    const again = openIt();
    expect(again.schemaVersion()).toBe(SCHEMA_VERSION);
    expect(again.listRuns().total).toBe(1);
  });

  it('enforces foreign keys', () => {
    const s = openIt();
    expect(() => s.addMetrics('no-such-run', 'n', [{ key: 'loss', step: 0, value: 1 }])).toThrow(
      /FOREIGN KEY/,
    );
  });

  it('refuses a file that is not SQLite and leaves it byte-for-byte unchanged', () => {
    const junk = Buffer.from('{"this": "is a pipeline, not a database"}\n'.repeat(10));
    fs.writeFileSync(dbFile, junk);
    let err: unknown;
    try {
      openStore(dbFile);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StoreOpenError);
    expect((err as Error).message).toBe(`${dbFile} is not a D2NWG Studio database (not SQLite)`);
    expect(fs.readFileSync(dbFile).equals(junk)).toBe(true);
    expect(fs.readdirSync(dir)).toEqual(['studio.db']);
  });

  it('refuses a file with the SQLite magic but a corrupt body', () => {
    const bytes = Buffer.alloc(4096, 0xab);
    Buffer.from('SQLite format 3\0', 'latin1').copy(bytes);
    fs.writeFileSync(dbFile, bytes);
    expect(() => openStore(dbFile)).toThrow(/not a D2NWG Studio database \(not SQLite\)/);
    expect(fs.readFileSync(dbFile).equals(bytes)).toBe(true);
  });

  it('refuses a schema newer than this build and leaves the file unchanged', () => {
    const raw = new Database(dbFile);
    raw.exec('CREATE TABLE runs (id TEXT)');
    raw.pragma(`user_version = ${SCHEMA_VERSION + 3}`);
    raw.close();
    const before = fs.readFileSync(dbFile);
    expect(() => openStore(dbFile)).toThrow(
      `${dbFile} was created by a newer D2NWG Studio (schema ${SCHEMA_VERSION + 3} > ${SCHEMA_VERSION}); upgrade the app`,
    );
    expect(fs.readFileSync(dbFile).equals(before)).toBe(true);
    expect(fs.readdirSync(dir)).toEqual(['studio.db']);
  });

  it("refuses somebody else's SQLite database", () => {
    const raw = new Database(dbFile);
    raw.exec('CREATE TABLE customers (id INTEGER)');
    raw.close();
    const before = fs.readFileSync(dbFile);
    expect(() => openStore(dbFile)).toThrow(
      /SQLite database but not a D2NWG Studio one.*customers/,
    );
    expect(fs.readFileSync(dbFile).equals(before)).toBe(true);
  });

  it('puts the default database under XDG_DATA_HOME, else ~/.local/share', () => {
    expect(defaultDbPath({ XDG_DATA_HOME: '/x/data' })).toBe('/x/data/d2nwg-studio/studio.db');
    expect(defaultDbPath({ HOME: '/home/u' })).toBe('/home/u/.local/share/d2nwg-studio/studio.db');
    // a relative XDG_DATA_HOME is invalid per the spec and ignored
    expect(defaultDbPath({ XDG_DATA_HOME: 'rel', HOME: '/h' })).toBe(
      '/h/.local/share/d2nwg-studio/studio.db',
    );
  });
});

describe('pipelines', () => {
  it('saves versions, lists, reads back and keeps history', () => {
    const s = openIt();
    const p1 = s.savePipeline({ name: 'demo', pipeline: { nodes: [1] }, at: 1000 });
    expect(p1.version).toBe(1);
    const p2 = s.savePipeline({
      id: p1.id,
      name: 'demo v2',
      pipeline: { nodes: [1, 2] },
      at: 2000,
    });
    expect(p2).toMatchObject({
      id: p1.id,
      name: 'demo v2',
      version: 2,
      pipeline: { nodes: [1, 2] },
    });
    expect(p2.created).toBe(new Date(1000).toISOString());
    expect(p2.updated).toBe(new Date(2000).toISOString());
    s.savePipeline({ name: 'other', pipeline: {}, at: 1500 });
    expect(s.listPipelines().map((p) => p.name)).toEqual(['demo v2', 'other']);
    expect(s.pipelineHistory(p1.id).map((v) => [v.version, v.name, v.pipeline])).toEqual([
      [1, 'demo', { nodes: [1] }],
      [2, 'demo v2', { nodes: [1, 2] }],
    ]);
    expect(s.getPipeline('nope')).toBeNull();
    const run = s.createRun({ pipelineId: p1.id, name: 'r', config: {} });
    expect(s.deletePipeline(p1.id)).toBe(true);
    expect(s.pipelineHistory(p1.id)).toEqual([]);
    expect(s.getRun(run.id)?.pipelineId).toBeNull();
  });
});

describe('runs, node runs and metrics', () => {
  it('records a run lifecycle with node rows and durations', () => {
    const s = openIt();
    const r = s.createRun({
      name: 'mnist',
      config: { nodes: ['a'] },
      seed: 7,
      backend: 'wasm',
      versions: { app: '0.1.0' },
      at: 0,
    });
    expect(r).toMatchObject({ status: 'queued', seed: 7, backend: 'wasm', started: null });
    s.startRun(r.id, 1000);
    s.upsertNodeRun({
      runId: r.id,
      nodeId: 'a',
      type: 'dataset.source',
      status: 'running',
      started: 1000,
    });
    s.upsertNodeRun({ runId: r.id, nodeId: 'b', type: 'zoo.train', status: 'queued' });
    s.upsertNodeRun({
      runId: r.id,
      nodeId: 'a',
      type: 'dataset.source',
      status: 'done',
      finished: 2000,
      cached: true,
      summary: { rows: 10 },
    });
    const done = s.finishRun(r.id, { status: 'done', at: 3500 });
    expect(done).toMatchObject({ status: 'done', durationS: 2.5, pid: process.pid, error: null });
    const d = s.getRun(r.id);
    expect(d?.config).toEqual({ nodes: ['a'] });
    expect(d?.versions).toEqual({ app: '0.1.0' });
    expect(d?.nodes.map((n) => [n.nodeId, n.status, n.cached, n.started, n.summary])).toEqual([
      ['a', 'done', true, new Date(1000).toISOString(), { rows: 10 }],
      // still queued when the run ended: it never ran
      ['b', 'skipped', false, null, null],
    ]);
    expect(s.getRun('missing')).toBeNull();
    expect(() => s.startRun('missing')).toThrow(/unknown run 'missing'/);
    expect(() => s.startRun(r.id)).toThrow(/cannot start run .*: it is done/);
  });

  it('lists with status, pipeline and search filters, newest first, with paging', () => {
    const s = openIt();
    const pl = s.savePipeline({ name: 'p', pipeline: {} });
    for (let i = 0; i < 5; i++) {
      const r = s.createRun({
        name: `run ${i}${i === 3 ? ' 100%_x' : ''}`,
        config: {},
        at: i * 1000,
        pipelineId: i < 2 ? pl.id : null,
      });
      if (i % 2 === 0)
        s.finishRun(r.id, { status: i === 4 ? 'failed' : 'done', error: i === 4 ? 'boom' : null });
    }
    expect(s.listRuns().runs.map((r) => r.name.slice(0, 5))).toEqual([
      'run 4',
      'run 3',
      'run 2',
      'run 1',
      'run 0',
    ]);
    expect(s.listRuns({ status: 'done' }).runs.map((r) => r.name)).toEqual(['run 2', 'run 0']);
    expect(s.listRuns({ status: 'failed' }).runs[0].error).toBe('boom');
    expect(s.listRuns({ pipelineId: pl.id }).total).toBe(2);
    // LIKE wildcards in the search are literal
    expect(s.listRuns({ search: '100%_' }).runs.map((r) => r.name)).toEqual(['run 3 100%_x']);
    expect(s.listRuns({ search: '%' }).total).toBe(1);
    expect(s.listRuns({ search: 'RUN' }).total).toBe(5);
    const page = s.listRuns({ limit: 2, offset: 2 });
    expect(page.total).toBe(5);
    expect(page.runs.map((r) => r.name)).toEqual(['run 2', 'run 1']);
    const id = page.runs[0].id;
    expect(s.findRunIds(id)).toEqual([id]);
    expect(s.findRunIds(id.slice(0, 8)).length).toBeGreaterThanOrEqual(1);
    expect(s.findRunIds('zzz')).toEqual([]);
  });

  it('aligns metrics of several runs side by side and keeps NaN', () => {
    const s = openIt();
    const a = s.createRun({ name: 'a', config: {} });
    const b = s.createRun({ name: 'b', config: {} });
    s.addMetrics(a.id, 'eval', [
      { key: 'accuracy/d2nwg', step: 0, value: 0.8 },
      { key: 'accuracy/d2nwg', step: 1, value: 0.85 },
      { key: 'loss', step: 0, value: Number.NaN },
    ]);
    s.addMetrics(b.id, 'eval', [
      { key: 'accuracy/d2nwg', step: 1, value: 0.9 },
      { key: 'accuracy/d2nwg', step: 1, value: 0.91 }, // same point: last write wins
    ]);
    const t = s.metricsFor([a.id, b.id]);
    expect(t.runIds).toEqual([a.id, b.id]);
    expect(t.rows.map((r) => [r.key, r.step, ...r.values])).toEqual([
      ['accuracy/d2nwg', 0, 0.8, null],
      ['accuracy/d2nwg', 1, 0.85, 0.91],
      ['loss', 0, Number.NaN, null],
    ]);
    expect(s.metricsFor([a.id, b.id], 'loss').rows).toHaveLength(1);
    expect(() => s.addMetrics(a.id, 'eval', [{ key: 'x', step: 0.5, value: 1 }])).toThrow(
      /step must be an integer/,
    );
  });

  it('reads the points of every run under one key prefix and nothing else', () => {
    const s = openIt();
    const a = s.createRun({ name: 'a', config: {} });
    const b = s.createRun({ name: 'b', config: {} });
    s.addMetrics(a.id, 'eval', [
      { key: 'accuracy/seen/d2nwg', step: 5, value: 0.8 },
      { key: 'accuracy/seen/d2nwg', step: 0, value: 0.5 },
      { key: 'accuracy0', step: 0, value: 1 },
      { key: 'accuracy_std/seen/d2nwg', step: 0, value: 0.1 },
      { key: 'loss', step: 0, value: 2 },
    ]);
    s.addMetrics(b.id, 'cmp', [{ key: 'accuracy/d2nwg', step: 1, value: 0.7 }]);
    const got = s.metricsWithPrefix('accuracy/').map((p) => [p.runId, p.key, p.step, p.value]);
    const byRun = [a.id, b.id].sort();
    const rowsOf = (id: string) =>
      id === a.id
        ? [
            [a.id, 'accuracy/seen/d2nwg', 0, 0.5],
            [a.id, 'accuracy/seen/d2nwg', 5, 0.8],
          ]
        : [[b.id, 'accuracy/d2nwg', 1, 0.7]];
    expect(got).toEqual(byRun.flatMap(rowsOf));
    expect(() => s.metricsWithPrefix('')).toThrow('metrics: a key prefix cannot be empty');
  });

  it('rejects rows that do not match the schema on the way out, naming the table', () => {
    const s = openIt();
    const r = s.createRun({ name: 'a', config: {} });
    const raw = new Database(dbFile);
    raw.prepare("UPDATE runs SET config = '{not json' WHERE id = ?").run(r.id);
    raw.close();
    expect(() => s.getRun(r.id)).toThrow(/malformed row in 'runs': config/);
  });
});

describe('artifacts', () => {
  it('stores payloads content-addressed, deduplicated, and verifies them on read', () => {
    const s = openIt();
    const r = s.createRun({ name: 'a', config: {} });
    const payload = new Uint8Array([1, 2, 3, 4, 5]);
    const a1 = s.putArtifact({
      runId: r.id,
      nodeId: 'n',
      kind: 'weights',
      bytes: payload,
      shape: [5],
      meta: { k: 1 },
    });
    const sha = sha256Of(payload);
    expect(a1).toMatchObject({
      sha256: sha,
      bytes: 5,
      path: `blobs/${sha.slice(0, 2)}/${sha}`,
      shape: [5],
      meta: { k: 1 },
    });
    const src = path.join(dir, 'src.bin');
    fs.writeFileSync(src, payload);
    const a2 = s.putArtifact({ runId: r.id, nodeId: 'm', kind: 'weights', sourceFilePath: src });
    expect(a2.path).toBe(a1.path);
    expect(blobFiles(dir)).toEqual([sha]);
    expect(fs.existsSync(src)).toBe(true);
    expect([...s.readArtifact(a2)]).toEqual([1, 2, 3, 4, 5]);
    expect(s.artifactsOf(r.id).map((a) => a.nodeId)).toEqual(['n', 'm']);
    expect(s.artifactsOf(r.id, { nodeId: 'm', kind: 'weights' }).map((a) => a.id)).toEqual([a2.id]);
    expect(s.artifactsOf(r.id, { kind: 'zoo' })).toEqual([]);

    fs.writeFileSync(s.artifactFile(a1), new Uint8Array([9, 9, 9, 9, 9]));
    expect(s.verifyArtifact(a1)).toBe(false);
    expect(() => s.readArtifact(a1)).toThrow(/does not match its recorded sha256/);
  });

  it('refuses bad arguments before writing anything', () => {
    const s = openIt();
    const r = s.createRun({ name: 'a', config: {} });
    expect(() => s.putArtifact({ runId: r.id, nodeId: 'n', kind: 'x' })).toThrow(/exactly one/);
    expect(() =>
      s.putArtifact({ runId: 'nope', nodeId: 'n', kind: 'x', bytes: new Uint8Array(1) }),
    ).toThrow(/unknown run 'nope'/);
    expect(() =>
      s.putArtifact({
        runId: r.id,
        nodeId: 'n',
        kind: 'x',
        bytes: new Uint8Array(1),
        shape: [1.5],
      }),
    ).toThrow(/shape/);
    expect(blobFiles(dir)).toEqual([]);
  });

  it('deleteRun removes rows and only the blobs no other run references', () => {
    const s = openIt();
    const a = s.createRun({ name: 'a', config: {} });
    const b = s.createRun({ name: 'b', config: {} });
    const shared = new Uint8Array([7, 7, 7]);
    const own = new Uint8Array([1]);
    s.putArtifact({ runId: a.id, nodeId: 'n', kind: 'weights', bytes: shared });
    s.putArtifact({ runId: a.id, nodeId: 'n', kind: 'weights', bytes: own });
    s.putArtifact({ runId: b.id, nodeId: 'n', kind: 'weights', bytes: shared });
    s.addMetrics(a.id, 'n', [{ key: 'loss', step: 0, value: 1 }]);
    s.upsertNodeRun({ runId: a.id, nodeId: 'n', type: 't', status: 'done' });
    expect(blobFiles(dir)).toHaveLength(2);

    const res = s.deleteRun(a.id);
    expect(res.deleted).toBe(true);
    expect(res.removedFiles).toEqual([`blobs/${sha256Of(own).slice(0, 2)}/${sha256Of(own)}`]);
    expect(blobFiles(dir)).toEqual([sha256Of(shared)]);
    expect(s.getRun(a.id)).toBeNull();
    expect(s.metricsOf(a.id)).toEqual([]);
    expect(s.artifactsOf(a.id)).toEqual([]);

    expect(s.deleteRun(b.id).removedFiles).toHaveLength(1);
    expect(blobFiles(dir)).toEqual([]);
    expect(s.deleteRun(b.id)).toEqual({ deleted: false, removedFiles: [] });
  });

  it("collectGarbage drops unreferenced blobs and dead writers' temp files", () => {
    const s = openIt();
    const r = s.createRun({ name: 'a', config: {} });
    const keep = s.putArtifact({ runId: r.id, nodeId: 'n', kind: 'k', bytes: new Uint8Array([1]) });
    const stray = path.join(dir, 'blobs', 'ff', 'f'.repeat(64));
    fs.mkdirSync(path.dirname(stray), { recursive: true });
    fs.writeFileSync(stray, 'x');
    // pid 2^22+1 is above Linux's pid_max default: certainly dead
    fs.writeFileSync(path.join(dir, 'blobs', `incoming.tmp-${2 ** 22 + 1}-abcd`), 'partial');
    const { removed } = s.collectGarbage();
    expect([...removed].sort()).toEqual([
      `blobs/ff/${'f'.repeat(64)}`,
      `blobs/incoming.tmp-${2 ** 22 + 1}-abcd`,
    ]);
    expect(s.verifyArtifact(keep)).toBe(true);
  });

  it('explains payload write failures and records nothing', () => {
    const file = path.join(dir, 'plain-file');
    fs.writeFileSync(file, 'x');
    const s = openIt({ dataDir: path.join(file, 'data') });
    const r = s.createRun({ name: 'a', config: {} });
    expect(() =>
      s.putArtifact({ runId: r.id, nodeId: 'n', kind: 'k', bytes: new Uint8Array([3]) }),
    ).toThrow(
      /cannot store the artifact payload under .*: a parent path is not a directory \(ENOTDIR\)/,
    );
    expect(() =>
      s.putArtifact({
        runId: r.id,
        nodeId: 'n',
        kind: 'k',
        sourceFilePath: path.join(dir, 'nope'),
      }),
    ).toThrow(/artifact source file .*nope does not exist/);
    expect(s.artifactsOf(r.id)).toEqual([]);
  });

  it('keeps blobs under a separate dataDir when asked', () => {
    const data = path.join(dir, 'data');
    const s = openIt({ dataDir: data });
    const r = s.createRun({ name: 'a', config: {} });
    const a = s.putArtifact({ runId: r.id, nodeId: 'n', kind: 'k', bytes: new Uint8Array([3]) });
    expect(s.artifactFile(a).startsWith(path.join(data, 'blobs'))).toBe(true);
    expect(blobFiles(data)).toHaveLength(1);
  });
});

describe('interrupted runs', () => {
  it('marks runs left running by a dead process as interrupted at open', () => {
    const s = openIt();
    const live = s.createRun({ name: 'live', config: {}, status: 'running' });
    const dead = s.createRun({ name: 'dead', config: {}, status: 'running' });
    s.upsertNodeRun({
      runId: dead.id,
      nodeId: 'n',
      type: 't',
      status: 'running',
      started: Date.now(),
    });
    s.upsertNodeRun({ runId: dead.id, nodeId: 'm', type: 't', status: 'done' });
    const raw = new Database(dbFile);
    raw.prepare('UPDATE runs SET pid = ? WHERE id = ?').run(2 ** 22 + 7, dead.id);
    raw.close();
    s.close();

    const again = openIt();
    expect(again.interruptedAtOpen).toEqual([dead.id]);
    const d = again.getRun(dead.id);
    expect(d?.status).toBe('interrupted');
    expect(d?.error).toMatch(/ended before the run finished/);
    expect(d?.finished).not.toBeNull();
    expect(d?.nodes.map((n) => [n.nodeId, n.status])).toEqual([
      ['n', 'interrupted'],
      ['m', 'done'],
    ]);
    // this process is alive: its run is left alone
    expect(again.getRun(live.id)?.status).toBe('running');
    again.close();
    const third = openIt({ isProcessAlive: () => false });
    expect(third.interruptedAtOpen).toEqual([live.id]);
  });
});
