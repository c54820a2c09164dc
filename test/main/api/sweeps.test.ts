// The sweeps channels over the real API (SQLite store, engine host, a slow fake engine): preview
// with its estimate, start as a group, cancel the group mid-way, and after a restart (a new API
// on the same database) resume it without running finished points again. Then the real engine:
// consecutive points reuse the nodes upstream of the swept field.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createDefaultApi } from '../../../src/main/api/create.ts';
import type { StudioApi } from '../../../src/main/api/studio.ts';
import type { PayloadOf, SweepSummary } from '../../../src/shared/ipc.ts';
import { parsePipeline, type Pipeline } from '../../../src/shared/pipeline.ts';
import type { SweepSpec, SweepStatus } from '../../../src/shared/sweeps.ts';
import { TINY } from '../../helpers/nodes.ts';

const dir = mkdtempSync(join(tmpdir(), 'd2nwg-sweep-api-'));
const apis: StudioApi[] = [];
afterAll(async () => {
  for (const a of apis) await a.dispose().catch(() => undefined);
});

function open(): StudioApi {
  const api = createDefaultApi({
    mode: 'web',
    version: '0.0.0-test',
    examplesDir: dir,
    dbFile: join(dir, 'studio.db'),
    dataDir: dir,
    engineEntry: new URL('./fixtures/slow-engine.ts', import.meta.url).href,
  });
  apis.push(api);
  return api;
}

function toy(): Pipeline {
  const r = parsePipeline({
    format: 'd2nwg-pipeline',
    version: 1,
    name: 'toy',
    nodes: [
      { id: 'data', type: 'dataset.source', version: 1, config: {} },
      { id: 'tasks', type: 'tasks.generate', version: 1, config: {} },
    ],
    edges: [
      { id: 'e1', source: 'data', sourcePort: 'dataset', target: 'tasks', targetPort: 'dataset' },
    ],
  });
  if (!r.ok) throw new Error(r.problems.join('; '));
  return r.pipeline;
}

const SPEC: SweepSpec = { mode: 'grid', params: [{ path: 'tasks.k', values: [3, 4, 5, 6] }] };

/** Resolves at the first push on `channel` that `match` accepts. */
function next<C extends 'events.sweep' | 'events.run'>(
  api: StudioApi,
  channel: C,
  match: (p: PayloadOf<C>) => boolean,
): Promise<PayloadOf<C>> {
  return new Promise((resolve) => {
    const off = api.hub.subscribe((c: string, payload: unknown) => {
      if (c !== channel) return;
      const p = payload as PayloadOf<C>;
      if (match(p)) {
        off();
        resolve(p);
      }
    });
  });
}

const sweepEnded = (api: StudioApi, sweepId: string, status: SweepStatus) =>
  next(api, 'events.sweep', (p) => p.sweepId === sweepId && p.status === status);

async function summary(api: StudioApi, sweepId: string): Promise<SweepSummary> {
  const s = (await api.handlers['sweeps.list']({})).find((x) => x.id === sweepId);
  if (!s) throw new Error(`no sweep ${sweepId}`);
  return s;
}

describe('sweeps API', () => {
  it('previews, runs as a group, cancels the group, and resumes after a restart', async () => {
    const api = open();
    const preview = await api.handlers['sweeps.preview']({ pipeline: toy(), spec: SPEC });
    expect(preview).toEqual({
      points: 4,
      paths: ['tasks.k'],
      values: [{ 'tasks.k': 3 }, { 'tasks.k': 4 }, { 'tasks.k': 5 }, { 'tasks.k': 6 }],
      seconds: null,
      estimate: 'unknown',
    });
    await expect(
      api.handlers['sweeps.preview']({
        pipeline: toy(),
        spec: { mode: 'grid', params: [{ path: 'taks.k', values: [3] }] },
      }),
    ).rejects.toThrow('`taks.k`: no node `taks` in the pipeline; did you mean `tasks`?');

    // Cancel once the first point has finished: the second is cancelled, the rest never start.
    const { sweepId, points } = await api.handlers['sweeps.start']({
      pipeline: toy(),
      spec: SPEC,
      seed: 2,
    });
    expect(points).toBe(4);
    const cancelled = sweepEnded(api, sweepId, 'cancelled');
    await next(api, 'events.run', (m) => m.event.type === 'runDone' && m.event.status === 'done');
    expect(await api.handlers['sweeps.cancel']({ sweepId })).toEqual({ cancelled: true });
    await cancelled;
    const stopped = await summary(api, sweepId);
    expect(stopped).toMatchObject({ status: 'cancelled', points: 4, resumable: true, seed: 2 });
    expect(stopped.done).toBeGreaterThanOrEqual(1);
    expect(stopped.done).toBeLessThan(4);
    const runsBefore = (await api.handlers['runs.list']({})).filter((r) => r.sweepId === sweepId);
    const finishedBefore = runsBefore.filter((r) => r.status === 'done').map((r) => r.id);
    expect(runsBefore.length).toBeLessThan(4);
    expect(await api.handlers['sweeps.cancel']({ sweepId })).toEqual({ cancelled: false });
    await api.dispose();

    // A restart: a new API on the same database resumes the points without a finished run.
    const again = open();
    expect(await summary(again, sweepId)).toMatchObject({ status: 'cancelled', resumable: true });
    const ended = sweepEnded(again, sweepId, 'done');
    const resumed = await again.handlers['sweeps.resume']({ sweepId });
    expect(resumed).toEqual({ sweepId, remaining: 4 - stopped.done });
    await ended;
    const final = await summary(again, sweepId);
    expect(final).toMatchObject({ status: 'done', done: 4, failed: 0, resumable: false });
    const runs = (await again.handlers['runs.list']({})).filter((r) => r.sweepId === sweepId);
    // Each finished point has exactly one finished run: the earlier ones were not run again.
    const donePoints = runs.filter((r) => r.status === 'done').map((r) => r.sweepPoint);
    expect([...donePoints].sort()).toEqual([0, 1, 2, 3]);
    for (const id of finishedBefore) expect(final.runIds).toContain(id);
    expect(final.runIds).toHaveLength(4);
    for (const r of runs) expect(r.seed).toBe(2);
    await expect(again.handlers['sweeps.resume']({ sweepId })).rejects.toThrow(
      'has no points left to run',
    );

    // Timings are recorded now: the estimate is a number.
    const later = await again.handlers['sweeps.preview']({ pipeline: toy(), spec: SPEC });
    expect(later.seconds).toBeGreaterThan(0);
    expect(later.estimate).toBe('< 1 min');
  });
});

describe('sweeps through the real engine host', () => {
  it('reuses the nodes upstream of the swept field across points (the worker keeps the cache)', async () => {
    const api = createDefaultApi({
      mode: 'web',
      version: '0.0.0-test',
      examplesDir: dir,
      dbFile: join(dir, 'real.db'),
      dataDir: dir,
    });
    apis.push(api);
    const r = parsePipeline({
      format: 'd2nwg-pipeline',
      version: 1,
      name: 'real',
      nodes: [
        { id: 'data', type: 'dataset.source', version: 1, config: {} },
        { id: 'tasks', type: 'tasks.generate', version: 1, config: TINY.tasks },
        { id: 'features', type: 'features.extract', version: 1, config: TINY.features },
      ],
      edges: [
        { id: 'e1', source: 'data', sourcePort: 'dataset', target: 'tasks', targetPort: 'dataset' },
        {
          id: 'e2',
          source: 'data',
          sourcePort: 'dataset',
          target: 'features',
          targetPort: 'dataset',
        },
        { id: 'e3', source: 'tasks', sourcePort: 'tasks', target: 'features', targetPort: 'tasks' },
      ],
    });
    if (!r.ok) throw new Error(r.problems.join('; '));
    const { sweepId } = await api.handlers['sweeps.start']({
      pipeline: r.pipeline,
      spec: { mode: 'grid', params: [{ path: 'features.extractor.components', values: [2, 3] }] },
    });
    const ended = await next(
      api,
      'events.sweep',
      (p) => p.sweepId === sweepId && p.status !== 'running',
    );
    expect(ended.status).toBe('done');
    const { runIds } = await summary(api, sweepId);
    const states = await Promise.all(
      runIds.map(async (runId) =>
        Object.fromEntries(
          (await api.handlers['runs.get']({ runId })).nodes.map((n) => [n.nodeId, n.status]),
        ),
      ),
    );
    expect(states).toEqual([
      { data: 'done', tasks: 'done', features: 'done' },
      { data: 'cached', tasks: 'cached', features: 'done' },
    ]);
  }, 120_000);
});
