/**
 * Faults of sweeps on a Redis queue, with real `d2nwg worker` processes and real redis-servers: a
 * worker killed with SIGKILL in the middle of a point has that point retried on the other worker,
 * and the sweep's runs equal the in-process sweep's; a Redis restarted without its jobs fails the
 * sweep's points with a clear error (never a sweep that says done with points missing), and
 * `--resume` then runs them.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { executeSweep } from '../../../src/main/cli/commands/sweep.ts';
import { openStore } from '../../../src/main/store/index.ts';
import { textSink } from '../../helpers/cli.ts';
import {
  endQueueTest,
  queueTestsSkipReason,
  spawnWorker,
  startRedisServer,
  stopWorker,
  testRedis,
  type CliWorker,
  type TestRedis,
} from '../../helpers/redis.ts';
import { sweepRuns, writeSweepPipeline } from '../../helpers/sweeps.ts';

const skip = queueTestsSkipReason();
if (skip) console.warn(`queue sweep fault tests skipped: ${skip}`);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-qsweep-faults-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const SET = 'features.extractor.components=2,4,6,8';

describe.skipIf(skip !== null)('a sweep whose worker is killed mid-point', () => {
  let redis: TestRedis;
  const queueName = `sweepkill-${randomUUID().slice(0, 8)}`;
  const workers: CliWorker[] = [];
  let file: string;

  beforeAll(async () => {
    redis = await testRedis();
    file = writeSweepPipeline(tmp);
    workers.push(spawnWorker(redis.url, queueName), spawnWorker(redis.url, queueName));
    await Promise.all(workers.map((w) => w.waitFor(/^worker on /m)));
  });
  afterAll(() => endQueueTest(redis, queueName, workers));

  it('retries the point on the other worker and ends with the in-process sweep', async () => {
    const dbQueue = path.join(tmp, 'kill-queue.db');
    const sweeping = executeSweep({
      target: { file, set: [SET], runSeed: 3 },
      dbPath: dbQueue,
      dataDir: tmp,
      executor: { queue: redis.url, queueName },
      out: textSink(),
      err: textSink(),
    });
    const [a, b] = workers;
    await a.waitFor(/sweep point \S+ started/);
    const runId = /sweep point (\S+) started/.exec(a.out())?.[1] ?? '';
    a.child.kill('SIGKILL');
    const queued = await sweeping;
    expect(queued.code).toBe(0);
    // Killed in the middle: it never finished the point it had started; the other worker did.
    expect(a.out()).not.toContain(`sweep point ${runId} done`);
    expect(b.out()).toContain(`sweep point ${runId} done`);

    const dbLocal = path.join(tmp, 'kill-local.db');
    const local = await executeSweep({
      target: { file, set: [SET], runSeed: 3 },
      dbPath: dbLocal,
      dataDir: tmp,
      executor: {},
      out: textSink(),
      err: textSink(),
    });
    expect(local.code).toBe(0);
    const q = sweepRuns(dbQueue, queued.sweepId ?? '');
    const l = sweepRuns(dbLocal, local.sweepId ?? '');
    // One run per point (the retried point too), each done, as in process.
    expect(q.map((r) => [r.point, r.status])).toEqual([
      [0, 'done'],
      [1, 'done'],
      [2, 'done'],
      [3, 'done'],
    ]);
    expect(q.map((r) => r.name)).toEqual(l.map((r) => r.name));
    expect(q.map((r) => r.metrics)).toEqual(l.map((r) => r.metrics));
  });
});

describe.skipIf(skip !== null)('a sweep whose Redis restarts without its jobs', () => {
  it('fails its points with a clear error, then --resume runs them', async () => {
    const file = writeSweepPipeline(tmp);
    const queueName = 'restarted-sweep';
    const first = await startRedisServer();
    const db = path.join(tmp, 'restart.db');
    const err = textSink();
    // No worker yet: the points' jobs wait in Redis when it dies under them.
    const sweeping = executeSweep({
      target: { file, set: ['features.extractor.components=2,4'] },
      dbPath: db,
      dataDir: tmp,
      executor: { queue: first.url, queueName },
      out: textSink(),
      err,
    });
    const queue = new Queue(queueName, { connection: { url: first.url } });
    await expect.poll(() => queue.getWaitingCount(), { timeout: 20_000 }).toBe(2);
    await queue.close();
    first.kill();
    await first.stop();
    const second = await startRedisServer(first.port);
    let worker: CliWorker | null = null;
    try {
      const failed = await sweeping;
      expect(failed).toMatchObject({ code: 1, status: 'failed' });
      expect(err.text()).toMatch(
        /the Redis queue at redis:\/\/127\.0\.0\.1:\d+ lost sweep point job \w{12} \(restarted without persistence, or flushed\?\); the point failed/,
      );
      const sweepId = failed.sweepId ?? '';
      expect(sweepRuns(db, sweepId).map((r) => r.status)).toEqual(['failed', 'failed']);
      const store = openStore(db);
      expect(store.sweeps.get(sweepId)?.status).toBe('failed');
      store.close();

      // The same sweep, resumed once a worker serves the new Redis: every point done.
      worker = spawnWorker(second.url, queueName);
      await worker.waitFor(/^worker on /m);
      const resumed = await executeSweep({
        target: { resume: sweepId },
        dbPath: db,
        dataDir: tmp,
        executor: { queue: second.url, queueName },
        out: textSink(),
        err: textSink(),
      });
      expect(resumed).toMatchObject({ code: 0, status: 'done' });
      const runs = sweepRuns(db, sweepId);
      expect(runs.filter((r) => r.status === 'done').map((r) => r.point)).toEqual([0, 1]);
    } finally {
      if (worker) await stopWorker(worker);
      await second.stop();
    }
  });
});
