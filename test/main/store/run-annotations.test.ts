// Run names, tags and notes in the store: a database from before they existed migrates with every
// run, node row and metric intact, and annotations are validated, stored, listed and searched.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InputError } from '../../../src/main/engine/errors.ts';
import { MIGRATIONS } from '../../../src/main/store/migrations.ts';
import { SCHEMA_VERSION, openStore, type Store } from '../../../src/main/store/index.ts';

let dir: string;
let dbFile: string;
const open: Store[] = [];

function openIt(): Store {
  const s = openStore(dbFile);
  open.push(s);
  return s;
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-annot-'));
  dbFile = path.join(dir, 'studio.db');
});

afterEach(() => {
  for (const s of open.splice(0)) s.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A database exactly as the first schema left it, with one finished run in it. */
function writeVersion1Db(): void {
  const raw = new Database(dbFile);
  raw.pragma('journal_mode = WAL');
  raw.exec(MIGRATIONS[0].sql);
  raw
    .prepare('INSERT INTO schema_migrations (version, description, applied) VALUES (1, ?, ?)')
    .run(MIGRATIONS[0].description, '2026-01-01T00:00:00.000Z');
  raw.pragma('user_version = 1');
  raw
    .prepare(
      `INSERT INTO runs (id, name, status, config, seed, backend, created, started, finished,
                         duration_s)
       VALUES ('run-old', 'quickstart', 'done', '{"nodes":[]}', 7, 'wasm',
               '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:01.000Z',
               '2026-01-01T00:01:01.000Z', 60)`,
    )
    .run();
  raw
    .prepare(
      `INSERT INTO node_runs (run_id, node_id, type, status, cached, summary)
       VALUES ('run-old', 'eval', 'eval.finetune', 'done', 0, '{"mean":0.5}')`,
    )
    .run();
  const metric = raw.prepare(
    "INSERT INTO metrics (run_id, node_id, key, step, value) VALUES ('run-old', 'eval', ?, ?, ?)",
  );
  metric.run('accuracy/seen/d2nwg', 0, 0.41);
  metric.run('accuracy/seen/d2nwg', 5, 0.83);
  raw.close();
}

describe('migration to run names, tags and notes', () => {
  it('brings a version-1 database up to date and loses nothing', () => {
    expect(SCHEMA_VERSION).toBeGreaterThanOrEqual(2);
    writeVersion1Db();
    const s = openIt();
    expect(s.schemaVersion()).toBe(SCHEMA_VERSION);
    expect(s.integrityCheck()).toBe('ok');
    const run = s.getRun('run-old');
    expect(run).toMatchObject({
      id: 'run-old',
      name: 'quickstart',
      status: 'done',
      seed: 7,
      backend: 'wasm',
      durationS: 60,
      config: { nodes: [] },
      tags: [],
      notes: '',
    });
    expect(run?.nodes).toMatchObject([{ nodeId: 'eval', status: 'done', summary: { mean: 0.5 } }]);
    expect(s.metricsOf('run-old').map((m) => [m.key, m.step, m.value])).toEqual([
      ['accuracy/seen/d2nwg', 0, 0.41],
      ['accuracy/seen/d2nwg', 5, 0.83],
    ]);
    // The migration is logged, and annotating the migrated run works.
    expect(s.annotateRun('run-old', { tags: ['baseline'] }).tags).toEqual(['baseline']);
    s.close();
    open.length = 0;
    const raw = new Database(dbFile, { readonly: true });
    const versions = raw.prepare('SELECT version FROM schema_migrations ORDER BY version').all();
    expect(versions).toEqual(MIGRATIONS.map((m) => ({ version: m.version })));
    raw.close();
  });
});

describe('annotating runs', () => {
  it('renames, tags and annotates; fields left out keep their value', () => {
    const s = openIt();
    const r = s.createRun({ name: 'quickstart', config: {} });
    expect(r).toMatchObject({ name: 'quickstart', tags: [], notes: '' });
    const renamed = s.annotateRun(r.id, { name: '  lr 1e-3 run  ' });
    expect(renamed).toMatchObject({ name: 'lr 1e-3 run', tags: [], notes: '' });
    const tagged = s.annotateRun(r.id, { tags: ['vae', 'lr:1e-3', 'vae'], notes: 'first try\nok' });
    expect(tagged).toMatchObject({
      name: 'lr 1e-3 run',
      tags: ['vae', 'lr:1e-3'],
      notes: 'first try\nok',
    });
    expect(s.annotateRun(r.id, { tags: [] }).tags).toEqual([]);
    expect(s.getRun(r.id)?.notes).toBe('first try\nok');
  });

  it('refuses bad names, tags and notes and unknown runs, naming the field', () => {
    const s = openIt();
    const r = s.createRun({ name: 'q', config: {} });
    const err = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        expect(e).toBeInstanceOf(InputError);
        return (e as Error).message;
      }
      throw new Error('expected a refusal');
    };
    expect(err(() => s.annotateRun(r.id, { name: '   ' }))).toBe(
      `run '${r.id}': name: a run name cannot be empty`,
    );
    expect(err(() => s.annotateRun(r.id, { name: 'two\nlines' }))).toMatch(/name: .*one line/);
    expect(err(() => s.annotateRun(r.id, { tags: ['ok', 'has space'] }))).toBe(
      `run '${r.id}': tags[1]: a tag may only hold letters, digits and _ - . : / +`,
    );
    expect(err(() => s.annotateRun(r.id, { notes: 'x'.repeat(4001) }))).toMatch(
      /notes: notes are at most 4000 characters/,
    );
    expect(err(() => s.annotateRun(r.id, {}))).toMatch(/give at least one of name, tags, notes/);
    expect(err(() => s.annotateRun('nope', { name: 'x' }))).toBe("unknown run 'nope'");
    // Nothing was written by the refusals.
    expect(s.getRun(r.id)).toMatchObject({ name: 'q', tags: [], notes: '' });
  });

  it('filters by tag, searches names, notes and tags, and counts tags', () => {
    const s = openIt();
    const a = s.createRun({ name: 'alpha', config: {}, at: 1000 }).id;
    const b = s.createRun({ name: 'beta', config: {}, at: 2000 }).id;
    const c = s.createRun({ name: 'gamma', config: {}, at: 3000 }).id;
    s.annotateRun(a, { tags: ['vae', 'long'] });
    s.annotateRun(b, { tags: ['vae'], notes: 'Diverged at epoch 3' });
    s.annotateRun(c, { tags: ['vae-small'] });
    const ids = (q: Parameters<Store['listRuns']>[0]) => s.listRuns(q).runs.map((r) => r.id);
    // Exact tag, not a prefix.
    expect(ids({ tag: 'vae' })).toEqual([b, a]);
    expect(ids({ tag: 'long' })).toEqual([a]);
    expect(ids({ tag: 'VAE' })).toEqual([]);
    expect(s.listRuns({ tag: 'vae' }).total).toBe(2);
    // Search: notes (case-insensitive), tags, names.
    expect(ids({ search: 'diverged' })).toEqual([b]);
    expect(ids({ search: 'small' })).toEqual([c]);
    expect(ids({ search: 'alp' })).toEqual([a]);
    expect(ids({ search: 'vae', tag: 'long' })).toEqual([a]);
    expect(s.runTags()).toEqual([
      { tag: 'vae', runs: 2 },
      { tag: 'long', runs: 1 },
      { tag: 'vae-small', runs: 1 },
    ]);
  });
});
