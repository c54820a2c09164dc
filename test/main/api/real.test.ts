// The real wiring (createDefaultApi): SQLite store, engine host worker running E1's executor on
// the wasm backend, registry validation. Kept to the cheapest real node (the embedded dataset).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDefaultApi } from '../../../src/main/api/create.ts';
import { dispatch } from '../../../src/main/api/dispatch.ts';
import type { StudioApi } from '../../../src/main/api/studio.ts';
import type { Envelope, PayloadOf } from '../../../src/shared/ipc.ts';
import type { Pipeline } from '../../../src/shared/pipeline.ts';

let api: StudioApi;
const events: PayloadOf<'events.run'>[] = [];

const pipeline: Pipeline = {
  format: 'd2nwg-pipeline',
  version: 1,
  name: 'just data',
  nodes: [{ id: 'data', type: 'dataset.source', version: 1, config: {}, position: { x: 0, y: 0 } }],
  edges: [],
};

async function call<T>(channel: string, params: unknown): Promise<T> {
  const r = (await dispatch(api.handlers, channel, params)) as Envelope<T>;
  if (!r.ok) throw new Error(`${r.error.kind}: ${r.error.message}`);
  return r.value;
}

function done(runId: string): Promise<string> {
  return new Promise((resolve) => {
    const check = () => {
      const end = events.find((m) => m.runId === runId && m.event.type === 'runDone');
      if (end && end.event.type === 'runDone') resolve(end.event.status);
      else setTimeout(check, 20);
    };
    check();
  });
}

beforeAll(() => {
  const dir = mkdtempSync(join(tmpdir(), 'd2nwg-real-api-'));
  api = createDefaultApi({
    mode: 'web',
    version: '0.0.0-test',
    examplesDir: join(dir, 'none'),
    dbFile: join(dir, 'studio.db'),
    dataDir: dir,
  });
  api.hub.subscribe((channel, payload) => {
    if (channel === 'events.run') events.push(payload as PayloadOf<'events.run'>);
  });
});
afterAll(async () => {
  await api.dispose();
});

describe('the real API (store + engine host + executor)', () => {
  it('saves, lists and reloads a pipeline', async () => {
    const saved = await call<{ id: string }>('pipelines.save', { pipeline });
    const list = await call<{ id: string; name: string }[]>('pipelines.list', {});
    expect(list).toEqual([expect.objectContaining({ id: saved.id, name: 'just data' })]);
    const doc = await call<{ pipeline: Pipeline }>('pipelines.get', { id: saved.id });
    expect(doc.pipeline.nodes[0]).toMatchObject({ id: 'data', type: 'dataset.source' });
  });

  it('reports validation problems per node', async () => {
    const bad = {
      ...pipeline,
      nodes: [{ ...pipeline.nodes[0], config: { source: { kind: 'nope' } } }],
    };
    const v = await call<{ ok: boolean; issues: { nodeId?: string }[] }>('pipelines.validate', {
      pipeline: bad,
    });
    expect(v.ok).toBe(false);
    expect(v.issues[0].nodeId).toBe('data');
    const refused = await dispatch(api.handlers, 'runs.start', { pipeline: bad });
    expect(refused).toMatchObject({ ok: false, error: { kind: 'InputError' } });
  });

  it('runs in the engine host, records the run, and reuses the cache on a re-run', async () => {
    const { runId } = await call<{ runId: string }>('runs.start', { pipeline, seed: 4 });
    expect(await done(runId)).toBe('done');
    const run = await call<{
      status: string;
      seed: number;
      backend: string;
      nodes: { nodeId: string; status: string }[];
    }>('runs.get', { runId });
    expect(run).toMatchObject({ status: 'done', seed: 4, backend: 'wasm' });
    expect(run.nodes).toEqual([expect.objectContaining({ nodeId: 'data', status: 'done' })]);

    const again = await call<{ runId: string }>('runs.rerun', { runId });
    expect(await done(again.runId)).toBe('done');
    const types = events.filter((m) => m.runId === again.runId).map((m) => m.event.type);
    expect(types).toContain('nodeCached');
    const runs = await call<{ id: string }[]>('runs.list', {});
    expect(runs.map((r) => r.id).sort()).toEqual([runId, again.runId].sort());

    const preview = await dispatch(api.handlers, 'export.preview', { runId, format: 'npy' });
    expect(preview).toMatchObject({
      ok: false,
      error: { kind: 'NotFound', message: expect.stringContaining('no weights') },
    });
    expect(await call('runs.delete', { runId })).toEqual({ deleted: true });
  });
});
