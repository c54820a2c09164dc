// runs.update and runs.table over the real SQLite store: renaming, tagging and annotating a run
// with strict, specific refusals, and the config fields, values and accuracy series the runs
// table's columns come from.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dispatch } from '../../../src/main/api/dispatch.ts';
import { SqliteStudioStore } from '../../../src/main/api/store-adapter.ts';
import { createStudioApi, type StudioApi } from '../../../src/main/api/studio.ts';
import { EngineHost } from '../../../src/main/host/engine-host.ts';
import { confinedPolicy } from '../../../src/main/paths/policy.ts';
import { openStore, type Store } from '../../../src/main/store/index.ts';
import type { RunsTable, RunSummary } from '../../../src/shared/ipc.ts';
import { registry } from '../../../src/shared/nodes/registry.ts';
import type { Pipeline } from '../../../src/shared/pipeline.ts';
import { fakeEntry, noExport } from './fixtures/make-api.ts';

let dir: string;
let store: Store;
let studio: SqliteStudioStore;
let api: StudioApi;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'd2nwg-runs-table-'));
  store = openStore(join(dir, 'studio.db'), { dataDir: dir });
  studio = new SqliteStudioStore(store);
  api = createStudioApi({
    store: studio,
    host: new EngineHost({ workerData: { entry: fakeEntry } }),
    registry,
    validate: () => ({ ok: true, issues: [] }),
    exporter: noExport,
    examplesDir: dir,
    dataDir: dir,
    paths: confinedPolicy({ dataDir: dir }),
    mode: 'web',
    version: '0.0.0-test',
  });
});

afterEach(async () => {
  await api.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/** Two real nodes: tasks.k set (or left to its default when undefined). */
const pipeline = (k?: number): Pipeline => ({
  format: 'd2nwg-pipeline',
  version: 1,
  name: 'toy',
  nodes: [
    { id: 'data', type: 'dataset.source', version: 1, config: {}, position: { x: 0, y: 0 } },
    {
      id: 'tasks',
      type: 'tasks.generate',
      version: 1,
      config: k === undefined ? {} : { k },
      position: { x: 300, y: 0 },
    },
  ],
  edges: [],
});

async function ok<T>(channel: string, params: unknown): Promise<T> {
  const r = await dispatch(api.handlers, channel, params);
  if (!r.ok) throw new Error(`${channel}: ${r.error.kind}: ${r.error.message}`);
  return r.value as T;
}

async function refused(channel: string, params: unknown) {
  const r = await dispatch(api.handlers, channel, params);
  if (r.ok) throw new Error(`${channel} accepted ${JSON.stringify(params)}`);
  return r.error;
}

describe('runs.update', () => {
  it('renames, tags and annotates a run; runs.list shows it', async () => {
    const runId = studio.createRun({ pipeline: pipeline(), seed: 1 });
    const first = await ok<RunSummary[]>('runs.list', {});
    expect(first[0]).toMatchObject({ id: runId, name: 'toy', tags: [], notes: '' });

    const renamed = await ok<RunSummary>('runs.update', { runId, name: 'k default' });
    expect(renamed).toMatchObject({ id: runId, name: 'k default', tags: [], seed: 1 });
    await ok('runs.update', { runId, tags: ['baseline', 'cpu'], notes: 'reference run' });
    const [listed] = await ok<RunSummary[]>('runs.list', {});
    expect(listed).toMatchObject({
      name: 'k default',
      tags: ['baseline', 'cpu'],
      notes: 'reference run',
    });
    // The stored row changed, not a copy in the API.
    expect(store.getRun(runId)).toMatchObject({ name: 'k default', tags: ['baseline', 'cpu'] });
  });

  it('refuses unknown keys with a suggestion, bad values by field, and unknown runs', async () => {
    const runId = studio.createRun({ pipeline: pipeline(), seed: 1 });
    expect(await refused('runs.update', { runId, tag: ['x'] })).toEqual({
      kind: 'ArgsError',
      message:
        "invalid arguments for 'runs.update': (argument): `tag`: unknown key; did you mean `tags`?",
    });
    expect(await refused('runs.update', { runId, tags: ['a b'] })).toEqual({
      kind: 'ArgsError',
      message:
        "invalid arguments for 'runs.update': tags[0]: a tag may only hold letters, digits and _ - . : / +",
    });
    expect(await refused('runs.update', { runId, name: '' })).toEqual({
      kind: 'ArgsError',
      message: "invalid arguments for 'runs.update': name: a run name cannot be empty",
    });
    expect(await refused('runs.update', { runId })).toEqual({
      kind: 'ArgsError',
      message:
        "invalid arguments for 'runs.update': (argument): give at least one of name, tags, notes",
    });
    expect(await refused('runs.update', { runId: 'run-missing', name: 'x' })).toEqual({
      kind: 'NotFound',
      message: "no run 'run-missing'",
    });
    expect(store.getRun(runId)).toMatchObject({ name: 'toy', tags: [], notes: '' });
  });
});

describe('runs.table', () => {
  it('lists every config field, returns the picked ones with defaults, and accuracy series', async () => {
    const a = studio.createRun({ pipeline: pipeline(), seed: 1 });
    const b = studio.createRun({ pipeline: pipeline(7), seed: 2 });
    store.addMetrics(b, 'eval', [
      { key: 'accuracy/seen/d2nwg', step: 0, value: 0.4 },
      { key: 'accuracy/seen/d2nwg', step: 5, value: 0.8 },
      { key: 'loss', step: 0, value: 3 },
    ]);
    const defaults = registry.get('tasks.generate')?.config.parse({}) as { k: number };
    expect(defaults.k).not.toBe(7);

    const t = await ok<RunsTable>('runs.table', { fields: ['tasks.k', 'tasks.nope'] });
    expect(t.fields).toContain('tasks.k');
    expect(t.fields.some((f) => f.startsWith('data.'))).toBe(true);
    expect([...t.fields]).toEqual([...t.fields].sort());
    // The run that stores `{}` shows the spec's default; an unknown field is simply absent.
    expect(t.values).toEqual({ [a]: { 'tasks.k': defaults.k }, [b]: { 'tasks.k': 7 } });
    // Only accuracy series travel; the loss does not.
    expect(t.series).toEqual([
      { runId: b, nodeId: 'eval', key: 'accuracy/seen/d2nwg', steps: [0, 5], values: [0.4, 0.8] },
    ]);
    const none = await ok<RunsTable>('runs.table', {});
    expect(none.values).toEqual({ [a]: {}, [b]: {} });

    const tooMany = Array.from({ length: 51 }, (_, i) => `n.f${i}`);
    expect(await refused('runs.table', { fields: tooMany })).toEqual({
      kind: 'ArgsError',
      message: "invalid arguments for 'runs.table': fields: at most 50 field columns",
    });
  });
});
