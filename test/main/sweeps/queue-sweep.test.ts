/**
 * Sweeps on a Redis queue, with real `d2nwg worker` processes: `d2nwg sweep … --queue` spreads a
 * 4-point sweep over two workers and records the runs as an in-process sweep of the same points
 * does (same names, group, seeds, metrics); a point whose job keeps failing fails with the
 * worker's error after the configured attempts; a point that needs a file is refused clearly.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunEvent } from '../../../src/shared/events.ts';
import { parsePipeline, type Pipeline } from '../../../src/shared/pipeline.ts';
import { executeSweep } from '../../../src/main/cli/commands/sweep.ts';
import { main } from '../../../src/main/cli/main.ts';
import { openStore } from '../../../src/main/store/index.ts';
import { NO_FILES_ON_QUEUE, queueSweepExecutor } from '../../../src/main/sweeps/queue.ts';
import { textSink } from '../../helpers/cli.ts';
import {
  queueTestsSkipReason,
  endQueueTest,
  spawnWorker,
  testRedis,
  type CliWorker,
  type TestRedis,
} from '../../helpers/redis.ts';
import { sweepRuns, writeSweepPipeline } from '../../helpers/sweeps.ts';

const skip = queueTestsSkipReason();
if (skip) console.warn(`queue sweep tests skipped: ${skip}`);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-qsweep-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const SET = 'features.extractor.components=2,4,6,8';

/** The run's recorded events, and its outcome, through the queue executor alone. */
async function runOnQueue(
  url: string,
  queueName: string,
  pipeline: Pipeline,
  opts: { attempts?: number; runId?: string } = {},
) {
  const { runId = `run-${randomUUID()}`, ...rest } = opts;
  const executor = await queueSweepExecutor({ url, queueName, backoffMs: 50, ...rest });
  const recorded: RunEvent[] = [];
  const times: number[] = [];
  try {
    const outcome = await executor.runPoint(
      { runId, pipeline, seed: 1 },
      {
        signal: new AbortController().signal,
        onEvent: () => undefined,
        record: (e, at) => {
          recorded.push(e);
          times.push(at);
        },
      },
    );
    return { outcome, recorded, times };
  } finally {
    await executor.close();
  }
}

describe('a sweep on an unreachable queue', () => {
  it('fails before anything is recorded, naming the Redis', async () => {
    const db = path.join(tmp, 'unreachable.db');
    const err = textSink();
    await expect(
      executeSweep({
        target: { file: writeSweepPipeline(tmp), set: [SET] },
        dbPath: db,
        dataDir: tmp,
        executor: { queue: 'redis://127.0.0.1:1' },
        out: textSink(),
        err,
      }),
    ).rejects.toThrow(/cannot reach the Redis queue at redis:\/\/127\.0\.0\.1:1/);
    const store = openStore(db);
    try {
      expect(store.sweeps.list()).toEqual([]);
      expect(store.listRuns().total).toBe(0);
    } finally {
      store.close();
    }
  });
});

describe.skipIf(skip !== null)('sweeps through a Redis queue', () => {
  let redis: TestRedis;
  const queueName = `sweep-${randomUUID().slice(0, 8)}`;
  const workers: CliWorker[] = [];
  let file: string;

  beforeAll(async () => {
    redis = await testRedis();
    file = writeSweepPipeline(tmp);
    workers.push(spawnWorker(redis.url, queueName), spawnWorker(redis.url, queueName));
    await Promise.all(workers.map((w) => w.waitFor(/^worker on /m)));
  });
  afterAll(() => endQueueTest(redis, queueName, workers));

  it('d2nwg sweep --queue spreads 4 points over 2 workers and records what an in-process sweep does', async () => {
    const dbQueue = path.join(tmp, 'queue.db');
    const code = await main([
      'sweep',
      file,
      '--set',
      SET,
      '--run-seed',
      '4',
      '--db',
      dbQueue,
      '--data-dir',
      tmp,
      '--queue',
      redis.url,
      '--queue-name',
      queueName,
    ]);
    expect(code).toBe(0);
    // Both workers ran points (each logs the points it ran), 4 in all.
    const ran = workers.map((w) => (w.out().match(/sweep point \S+ done in/g) ?? []).length);
    expect(ran.every((n) => n >= 1)).toBe(true);
    expect(ran[0] + ran[1]).toBe(4);

    const dbLocal = path.join(tmp, 'local.db');
    const local = await executeSweep({
      target: { file, set: [SET], runSeed: 4 },
      dbPath: dbLocal,
      dataDir: tmp,
      executor: {},
      out: textSink(),
      err: textSink(),
    });
    expect(local.code).toBe(0);

    const storeQ = openStore(dbQueue);
    const [sweep] = storeQ.sweeps.list();
    storeQ.close();
    expect(sweep.status).toBe('done');
    const queued = sweepRuns(dbQueue, sweep.id);
    const inProcess = sweepRuns(dbLocal, local.sweepId ?? '');
    expect(queued.map((r) => [r.point, r.status, r.seed])).toEqual([
      [0, 'done', 4],
      [1, 'done', 4],
      [2, 'done', 4],
      [3, 'done', 4],
    ]);
    expect(queued.map((r) => r.name)).toEqual(inProcess.map((r) => r.name));
    expect(queued.map((r) => r.metrics)).toEqual(inProcess.map((r) => r.metrics));
    // Real metrics, not empty summaries: the NCM accuracy of every point.
    for (const r of queued) expect(Object.keys(r.metrics.ncm ?? {}).length).toBeGreaterThan(0);
  });

  it('a job that keeps failing fails its point with the worker error after the configured attempts', async () => {
    const broken = { format: 'd2nwg-pipeline', version: 1, name: 'x', nodes: 'not a list' };
    const { outcome, recorded } = await runOnQueue(
      redis.url,
      queueName,
      broken as unknown as Pipeline,
      { attempts: 2 },
    );
    expect(outcome).toBe('failed');
    const log = recorded.find((e) => e.type === 'log');
    expect(log?.type === 'log' && log.message).toMatch(
      /^sweep point job \w{12} failed on a queue worker \(2 attempts\): the pipeline is not valid/,
    );
    expect(recorded.at(-1)).toMatchObject({ type: 'runDone', status: 'failed' });
  });

  it('refuses a point that needs a file, naming the file', async () => {
    const parsed = parsePipeline(JSON.parse(fs.readFileSync(file, 'utf8')));
    if (!parsed.ok) throw new Error(parsed.problems.join('; '));
    const pipeline: Pipeline = {
      ...parsed.pipeline,
      nodes: parsed.pipeline.nodes.map((n) =>
        n.id === 'data' ? { ...n, config: { source: { kind: 'csv', path: 'mine.csv' } } } : n,
      ),
    };
    const runId = `run-${randomUUID()}`;
    const first = await runOnQueue(redis.url, queueName, pipeline, { runId });
    expect(first.outcome).toBe('failed');
    const err = first.recorded.find((e) => e.type === 'nodeError');
    expect(err).toMatchObject({
      nodeId: 'data',
      kind: 'input',
      message: `dataset file \`mine.csv\`: ${NO_FILES_ON_QUEUE}`,
    });

    // The same run's job again: its stored result is recorded as it was, and no worker reruns it.
    const again = await runOnQueue(redis.url, queueName, pipeline, { runId });
    expect(again).toEqual(first);
    const started = workers.map((w) => w.out().split(`sweep point ${runId} started`).length - 1);
    expect(started[0] + started[1]).toBe(1);
  });

  it('cancel removes the waiting jobs and records the points as cancelled', async () => {
    // A queue no worker serves: the jobs wait.
    const idle = `idle-${randomUUID().slice(0, 8)}`;
    const executor = await queueSweepExecutor({ url: redis.url, queueName: idle });
    const ac = new AbortController();
    const recorded: RunEvent[] = [];
    const pipeline = JSON.parse(fs.readFileSync(file, 'utf8')) as Pipeline;
    const queue = new Queue(idle, { connection: { url: redis.url } });
    try {
      const points = [0, 1].map((i) =>
        executor.runPoint(
          { runId: `run-${randomUUID()}`, pipeline, seed: i },
          {
            signal: ac.signal,
            onEvent: () => undefined,
            record: (e) => void recorded.push(e),
          },
        ),
      );
      await expect.poll(() => queue.getWaitingCount(), { timeout: 10_000 }).toBe(2);
      ac.abort();
      expect(await Promise.all(points)).toEqual(['cancelled', 'cancelled']);
      await expect.poll(() => queue.getWaitingCount(), { timeout: 10_000 }).toBe(0);
      expect(recorded.filter((e) => e.type === 'runDone')).toMatchObject([
        { status: 'cancelled' },
        { status: 'cancelled' },
      ]);
    } finally {
      await executor.close();
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });
});
