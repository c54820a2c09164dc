/**
 * Sweeps of web mode (`d2nwg serve`) through its HTTP API: where the points run is the app's
 * setting (system.setSettings), read when a sweep starts. With a queue set, a 4-point sweep
 * spreads over two real `d2nwg worker` processes on a real Redis, its summary says it ran on the
 * queue, and its runs equal those of the same sweep run in process after the setting is cleared.
 * An unreachable queue answers an error and records nothing; a malformed setting is refused;
 * cancelling one point (runs.cancel) or the sweep removes a queued sweep's waiting jobs.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDefaultApi } from '../../../src/main/api/create.ts';
import type { StudioApi } from '../../../src/main/api/studio.ts';
import { startServer } from '../../../src/main/server/server.ts';
import type { SweepSummary } from '../../../src/shared/ipc.ts';
import type { SweepSpec } from '../../../src/shared/sweeps.ts';
import {
  endQueueTest,
  queueTestsSkipReason,
  spawnWorker,
  testRedis,
  type CliWorker,
  type TestRedis,
} from '../../helpers/redis.ts';
import { sweepRuns, writeSweepPipeline } from '../../helpers/sweeps.ts';

const skip = queueTestsSkipReason();
if (skip) console.warn(`web-mode queue sweep tests skipped: ${skip}`);

const SPEC: SweepSpec = {
  mode: 'grid',
  params: [{ path: 'features.extractor.components', values: [2, 4, 6, 8] }],
};

describe.skipIf(skip !== null)('web mode runs sweeps on the queue its settings name', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-websweep-'));
  const dbFile = path.join(tmp, 'studio.db');
  const queueName = `websweep-${randomUUID().slice(0, 8)}`;
  const workers: CliWorker[] = [];
  let redis: TestRedis;
  let api: StudioApi;
  let server: Awaited<ReturnType<typeof startServer>>;
  let base: string;
  let pipeline: unknown;

  beforeAll(async () => {
    redis = await testRedis();
    workers.push(spawnWorker(redis.url, queueName), spawnWorker(redis.url, queueName));
    pipeline = JSON.parse(fs.readFileSync(writeSweepPipeline(tmp), 'utf8'));
    const rendererDir = path.join(tmp, 'renderer');
    fs.mkdirSync(rendererDir);
    fs.writeFileSync(path.join(rendererDir, 'index.html'), '<!doctype html><title>studio</title>');
    // Started with no queue: only the settings send sweeps to one.
    api = createDefaultApi({
      mode: 'web',
      version: '0.0.0-test',
      examplesDir: tmp,
      dbFile,
      dataDir: tmp,
      queue: {},
    });
    server = await startServer({ api, rendererDir, port: 0 });
    base = `http://127.0.0.1:${server.port}`;
    await Promise.all(workers.map((w) => w.waitFor(/^worker on /m)));
  });
  afterAll(async () => {
    await server?.close();
    await api?.dispose();
    await endQueueTest(redis, queueName, workers);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** POST a channel; the answer's status and body. */
  const call = async (channel: string, body: unknown) => {
    const r = await fetch(`${base}/api/${channel}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-d2nwg-token': server.token },
      body: JSON.stringify(body),
    });
    return {
      status: r.status,
      body: (await r.json()) as
        { ok: true; value: unknown } | { ok: false; error: { kind: string; message: string } },
    };
  };
  const value = async <T>(channel: string, body: unknown): Promise<T> => {
    const r = await call(channel, body);
    if (!r.body.ok) throw new Error(`${channel}: ${r.body.error.message}`);
    return r.body.value as T;
  };

  const sweeps = () => value<SweepSummary[]>('sweeps.list', {});

  /** Start the sweep and wait for it to end; its summary. */
  async function sweepThrough(): Promise<SweepSummary> {
    const { sweepId, points } = await value<{ sweepId: string; points: number }>('sweeps.start', {
      pipeline,
      spec: SPEC,
      seed: 4,
    });
    expect(points).toBe(4);
    await expect
      .poll(async () => (await sweeps()).find((s) => s.id === sweepId)?.status, {
        timeout: 180_000,
        interval: 250,
      })
      .toBe('done');
    const s = (await sweeps()).find((x) => x.id === sweepId);
    if (!s) throw new Error(`no sweep ${sweepId}`);
    return s;
  }

  it('refuses a setting that is not a Redis URL, naming the field', async () => {
    const r = await call('system.setSettings', { sweepQueue: 'http://127.0.0.1:6379' });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({
      ok: false,
      error: { message: expect.stringMatching(/sweepQueue.*redis:\/\/HOST:PORT/s) },
    });
    expect(await value('system.getSettings', {})).toEqual({});
  });

  it('an unreachable queue answers sweeps.start with an error and records no sweep', async () => {
    await value('system.setSettings', { sweepQueue: 'redis://127.0.0.1:1' });
    const r = await call('sweeps.start', { pipeline, spec: SPEC });
    expect(r.body).toMatchObject({
      ok: false,
      error: {
        message: expect.stringMatching(/cannot reach the Redis queue at redis:\/\/127\.0\.0\.1:1/),
      },
    });
    expect(await sweeps()).toEqual([]);
  });

  it('cancel removes the waiting jobs of a sweep on a queue no worker serves', async () => {
    const idle = `idle-${randomUUID().slice(0, 8)}`;
    await value('system.setSettings', { sweepQueue: redis.url, sweepQueueName: idle });
    const { sweepId } = await value<{ sweepId: string }>('sweeps.start', { pipeline, spec: SPEC });
    const queue = new Queue(idle, { connection: { url: redis.url } });
    try {
      await expect.poll(() => queue.getWaitingCount(), { timeout: 20_000 }).toBe(4);
      // One point alone first (the runs table's Cancel): its job goes, the others wait.
      const runId = (await value<SweepSummary[]>('sweeps.list', {})).find((x) => x.id === sweepId)
        ?.runIds[0];
      expect(runId).toBeDefined();
      // Waiting for a worker, the points' runs are queued.
      expect(sweepRuns(dbFile, sweepId).map((r) => r.status)).toEqual([
        'queued',
        'queued',
        'queued',
        'queued',
      ]);
      await expect(value('runs.delete', { runId })).rejects.toThrow(/still running/);
      expect(await value('runs.cancel', { runId })).toEqual({ cancelled: true });
      await expect.poll(() => queue.getWaitingCount(), { timeout: 10_000 }).toBe(3);
      expect(sweepRuns(dbFile, sweepId).map((r) => r.status)).toEqual([
        'cancelled',
        'queued',
        'queued',
        'queued',
      ]);
      expect(await value('sweeps.cancel', { sweepId })).toEqual({ cancelled: true });
      await expect
        .poll(async () => (await sweeps()).find((s) => s.id === sweepId)?.status, {
          timeout: 20_000,
        })
        .toBe('cancelled');
      await expect.poll(() => queue.getWaitingCount(), { timeout: 10_000 }).toBe(0);
      const s = (await sweeps()).find((x) => x.id === sweepId);
      expect(s).toMatchObject({
        done: 0,
        resumable: true,
        executor: `queue ${redis.url} '${idle}'`,
      });
      expect(sweepRuns(dbFile, sweepId).map((r) => r.status)).toEqual([
        'cancelled',
        'cancelled',
        'cancelled',
        'cancelled',
      ]);
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });

  it('spreads a sweep over two workers, says so, and records what the in-process sweep does', async () => {
    const saved = { sweepQueue: redis.url, sweepQueueName: queueName };
    expect(await value('system.setSettings', saved)).toEqual(saved);
    expect(await value('system.getSettings', {})).toEqual(saved);
    const queued = await sweepThrough();
    expect(queued.executor).toBe(`queue ${redis.url} '${queueName}'`);
    expect(queued.done).toBe(4);
    const ran = workers.map((w) => (w.out().match(/sweep point \S+ done in/g) ?? []).length);
    expect(ran.every((n) => n >= 1)).toBe(true);
    expect(ran[0] + ran[1]).toBe(4);

    // The empty queue: in process whatever the start-up setting.
    await value('system.setSettings', { sweepQueue: '' });
    const local = await sweepThrough();
    expect(local.executor).toBe('in process');
    expect(workers.map((w) => (w.out().match(/sweep point \S+ done in/g) ?? []).length)).toEqual(
      ran,
    );

    const q = sweepRuns(dbFile, queued.id);
    const l = sweepRuns(dbFile, local.id);
    expect(q.map((r) => [r.point, r.status, r.seed])).toEqual([
      [0, 'done', 4],
      [1, 'done', 4],
      [2, 'done', 4],
      [3, 'done', 4],
    ]);
    expect(q.map((r) => r.name)).toEqual(l.map((r) => r.name));
    expect(q.map((r) => r.metrics)).toEqual(l.map((r) => r.metrics));
    for (const r of q) expect(Object.keys(r.metrics.ncm ?? {}).length).toBeGreaterThan(0);
  });
});
