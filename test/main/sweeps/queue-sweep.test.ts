/**
 * Sweeps on a Redis queue, with real `d2nwg worker` processes: `d2nwg sweep … --queue` spreads a
 * 4-point sweep over two workers and records the runs as an in-process sweep of the same points
 * does (same names, group, seeds, metrics); a point whose job keeps failing fails with the
 * worker's error after the configured attempts; user dataset files travel by content (an IDX
 * sweep equals the in-process one), within a size limit; a point that needs a folder is refused.
 */
import { createHash, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunEvent } from '../../../src/shared/events.ts';
import { parsePipeline, type Pipeline } from '../../../src/shared/pipeline.ts';
import { executeSweep } from '../../../src/main/cli/commands/sweep.ts';
import { main } from '../../../src/main/cli/main.ts';
import { openStore } from '../../../src/main/store/index.ts';
import { NO_FILES_ON_QUEUE, queueSweepExecutor } from '../../../src/main/sweeps/queue.ts';
import { textSink } from '../../helpers/cli.ts';
import { writeSquaresIdx } from '../../fixtures/datagen.ts';
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

  /** The sweep pipeline reading `source`. */
  const withSource = (source: object): Pipeline => {
    const parsed = parsePipeline(JSON.parse(fs.readFileSync(file, 'utf8')));
    if (!parsed.ok) throw new Error(parsed.problems.join('; '));
    return {
      ...parsed.pipeline,
      nodes: parsed.pipeline.nodes.map((n) => (n.id === 'data' ? { ...n, config: { source } } : n)),
    };
  };

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

  it('carries user dataset files by content: an IDX sweep over two workers equals the in-process one', async () => {
    const dataDir = path.join(tmp, 'idx');
    fs.mkdirSync(path.join(dataDir, 'data'), { recursive: true });
    const src = writeSquaresIdx(path.join(dataDir, 'data'), 5, 60, 16);
    // Paths relative to the data dir, as a user writes them.
    const rel = {
      ...src,
      images: path.relative(dataDir, src.images),
      labels: path.relative(dataDir, src.labels),
    };
    const idxFile = path.join(dataDir, 'idx.pipeline.json');
    fs.writeFileSync(idxFile, JSON.stringify(withSource(rel)));
    const before = workers.map((w) => (w.out().match(/sweep point \S+ done in/g) ?? []).length);
    const dbQueue = path.join(tmp, 'idx-queue.db');
    const err = textSink();
    const queued = await executeSweep({
      target: { file: idxFile, set: [SET], runSeed: 2 },
      dbPath: dbQueue,
      dataDir,
      executor: { queue: redis.url, queueName },
      out: textSink(),
      err,
    });
    expect(queued.code, err.text()).toBe(0);
    const ran = workers.map(
      (w, i) => (w.out().match(/sweep point \S+ done in/g) ?? []).length - before[i],
    );
    expect(ran.every((n) => n >= 1)).toBe(true);
    expect(ran[0] + ran[1]).toBe(4);
    // Each file is in Redis once, under the sha256 of its bytes.
    const r = new Redis(redis.url);
    try {
      for (const f of [src.images, src.labels]) {
        const sha = createHash('sha256').update(fs.readFileSync(f)).digest('hex');
        expect(await r.getBuffer(`d2nwg:file:${sha}`)).toEqual(fs.readFileSync(f));
      }
    } finally {
      r.disconnect();
    }

    const dbLocal = path.join(tmp, 'idx-local.db');
    const local = await executeSweep({
      target: { file: idxFile, set: [SET], runSeed: 2 },
      dbPath: dbLocal,
      dataDir,
      executor: {},
      out: textSink(),
      err: textSink(),
    });
    expect(local.code).toBe(0);
    const q = sweepRuns(dbQueue, queued.sweepId ?? '');
    const l = sweepRuns(dbLocal, local.sweepId ?? '');
    expect(q.map((x) => x.status)).toEqual(['done', 'done', 'done', 'done']);
    expect(q.map((x) => x.metrics)).toEqual(l.map((x) => x.metrics));
    // The squares dataset, not the embedded one: 5 classes, 300 samples.
    expect(q[0].metrics.data).toEqual({ samples: 300, classes: 5 });
  });

  it('refuses a dataset file over the size limit before queuing, naming the file and the limit', async () => {
    const big = path.join(tmp, 'big.csv');
    fs.writeFileSync(big, `a,b,label\n${'0.5,1,0\n'.repeat(64)}`);
    const was = process.env.D2NWG_QUEUE_FILE_MAX_BYTES;
    process.env.D2NWG_QUEUE_FILE_MAX_BYTES = '100';
    try {
      const { outcome, recorded } = await runOnQueue(
        redis.url,
        queueName,
        withSource({ kind: 'csv', path: big }),
      );
      expect(outcome).toBe('failed');
      expect(recorded[0]).toMatchObject({
        type: 'log',
        message: `dataset file \`${big}\` is ${fs.statSync(big).size} bytes; a sweep point on a queue carries files of at most 100 bytes (D2NWG_QUEUE_FILE_MAX_BYTES)`,
      });
    } finally {
      if (was === undefined) delete process.env.D2NWG_QUEUE_FILE_MAX_BYTES;
      else process.env.D2NWG_QUEUE_FILE_MAX_BYTES = was;
    }
  });

  it('refuses a point that needs a folder, naming it', async () => {
    const pipeline = withSource({ kind: 'imagefolder', root: 'pictures' });
    const runId = `run-${randomUUID()}`;
    const first = await runOnQueue(redis.url, queueName, pipeline, { runId });
    expect(first.outcome).toBe('failed');
    const err = first.recorded.find((e) => e.type === 'nodeError');
    expect(err).toMatchObject({
      nodeId: 'data',
      kind: 'input',
      message: `dataset file \`pictures\`: ${NO_FILES_ON_QUEUE}`,
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
