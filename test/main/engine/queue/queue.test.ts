/**
 * The zoo queue against a real Redis, with real worker processes spawned through the CLI: the zoo
 * a queue builds equals the in-process one member by member, even when a worker is killed with
 * SIGKILL mid-job; results are stored once and reused; a job that keeps failing fails the build
 * with the worker's error; cancel stops the jobs; a Redis that goes away fails the build clearly.
 */
import { randomInt, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ZooConfigInput } from '../../../../src/shared/schemas/zoo.ts';
import { ArchitectureSchema } from '../../../../src/shared/schemas/zoo.ts';
import { main } from '../../../../src/main/cli/main.ts';
import { CancelledError, InputError } from '../../../../src/main/engine/errors.ts';
import { layoutOf, resolveArchitecture } from '../../../../src/main/engine/nn/architecture.ts';
import { initParams } from '../../../../src/main/engine/nn/params.ts';
import type { Progress } from '../../../../src/main/engine/progress.ts';
import { Rng } from '../../../../src/main/engine/rng.ts';
import { parseQueueTarget } from '../../../../src/main/engine/queue/connection.ts';
import { queueZooExecutor } from '../../../../src/main/engine/queue/executor.ts';
import {
  jobHash,
  packBlob,
  packDataset,
  packResults,
  unpackBlob,
  unpackDataset,
  unpackResults,
} from '../../../../src/main/engine/queue/jobs.ts';
import { buildZoo, type BuiltZoo } from '../../../../src/main/engine/zoo/build.ts';
import {
  configureZooExecutor,
  executorSetting,
  executorSettingWith,
  threadExecutor,
  zooExecutorFor,
  type ZooTrainingPlan,
} from '../../../../src/main/engine/zoo/executor.ts';
import {
  queueTestsSkipReason,
  endQueueTest,
  spawnWorker,
  startRedisServer,
  testRedis,
  type CliWorker,
  type TestRedis,
} from '../../../helpers/redis.ts';

const CONFIG_FILE = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-queue-')), 'zoo.json');
fs.writeFileSync(CONFIG_FILE, JSON.stringify({ train: { epochs: 1 } }));
afterAll(() => fs.rmSync(path.dirname(CONFIG_FILE), { recursive: true, force: true }));

describe('queue wire format (no Redis)', () => {
  it('packs typed arrays with a header and reads them back exactly', () => {
    const f = Float32Array.from([1.5, -0, NaN, 3e-39]);
    const i = Int32Array.from([7, -1, 2 ** 31 - 1]);
    const d = Float64Array.from([Math.PI]);
    const { header, arrays } = unpackBlob(packBlob({ kind: 'x', n: 3 }, [f, i, d]), 'blob');
    expect(header).toMatchObject({ kind: 'x', n: 3 });
    expect(arrays).toEqual([f, i, d]);
    expect(Object.is((arrays[0] as Float32Array)[1], -0)).toBe(true);
    expect(() => unpackBlob(Buffer.from('nope, not a blob'), 'result of job 1')).toThrow(
      /result of job 1 in Redis is not readable: wrong format/,
    );
    const whole = packBlob({}, [f]);
    const cut = whole.subarray(0, whole.length - 4);
    expect(() => unpackBlob(cut, 'blob')).toThrow(/truncated data/);
  });

  it('names datasets and jobs by their content', () => {
    const data = {
      x: Float32Array.from([1, 2, 3, 4]),
      labels: Int32Array.from([0, 1]),
      sampleShape: [2],
      classNames: ['a', 'b'],
      source: 'here',
    };
    const a = packDataset(data);
    expect(packDataset({ ...data, source: 'elsewhere' }).hash).toBe(a.hash);
    expect(packDataset({ ...data, x: Float32Array.from([1, 2, 3, 5]) }).hash).not.toBe(a.hash);
    expect(unpackDataset(a.blob, a.hash)).toMatchObject({ x: data.x, labels: data.labels });
    expect(() => unpackDataset(a.blob, '0'.repeat(64))).toThrow(/does not match its hash/);
    expect(jobHash({ a: 1, b: [2] })).toBe(jobHash({ a: 1, b: [2] }));
    expect(jobHash({ a: 1, b: [2] })).not.toBe(jobHash({ a: 1, b: [3] }));
  });

  it('round-trips batch results, NaN accuracies included', () => {
    const res = [
      {
        run: 3,
        checkpoints: [
          { epoch: 4, trainAcc: 0.5, testAcc: NaN, params: Float32Array.from([1, 2]) },
          { epoch: 5, trainAcc: 0.75, testAcc: 0.25, params: Float32Array.from([3, 4]) },
        ],
      },
      { run: 9, checkpoints: [] },
    ];
    expect(unpackResults(packResults(res), 'f'.repeat(64))).toEqual(res);
  });

  it('refuses a queue setting that is not a redis:// URL', () => {
    expect(() => parseQueueTarget('http://x:1')).toThrow(InputError);
    expect(() => parseQueueTarget('localhost:6379')).toThrow(/expected redis:\/\/HOST:PORT/);
    expect(() => parseQueueTarget('redis://h:1', 'bad name!')).toThrow(/queue name/);
    expect(parseQueueTarget('redis://user:secret@h:1/2').shown).toBe('redis://h:1/2');
  });

  it('picks the executor from the setting: flags, then the configured one, then the environment', async () => {
    const saved = { q: process.env.D2NWG_QUEUE, n: process.env.D2NWG_QUEUE_NAME };
    try {
      delete process.env.D2NWG_QUEUE;
      delete process.env.D2NWG_QUEUE_NAME;
      expect(executorSetting()).toEqual({});
      expect(await zooExecutorFor()).toBe(threadExecutor);
      process.env.D2NWG_QUEUE = 'redis://127.0.0.1:1';
      process.env.D2NWG_QUEUE_NAME = 'farm';
      expect(executorSetting()).toEqual({ queue: 'redis://127.0.0.1:1', queueName: 'farm' });
      expect(executorSettingWith({ queueName: 'other' })).toEqual({
        queue: 'redis://127.0.0.1:1',
        queueName: 'other',
      });
      expect((await zooExecutorFor()).name).toBe("queue redis://127.0.0.1:1 'farm'");
      configureZooExecutor({});
      expect(await zooExecutorFor()).toBe(threadExecutor);
    } finally {
      configureZooExecutor(undefined);
      for (const [k, v] of [
        ['D2NWG_QUEUE', saved.q],
        ['D2NWG_QUEUE_NAME', saved.n],
      ] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('the CLI refuses a bad queue setting with exit code 2 before doing anything', async () => {
    const saved = process.env.D2NWG_QUEUE;
    delete process.env.D2NWG_QUEUE;
    try {
      expect(await main(['worker'])).toBe(2);
      expect(await main(['worker', '--queue', 'localhost:6379'])).toBe(2);
      expect(await main(['worker', '--queue', 'redis://127.0.0.1:1', '--concurrency', '0'])).toBe(
        2,
      );
      expect(
        await main([
          'zoo',
          'build',
          '--config',
          CONFIG_FILE,
          '--out',
          '/nonexistent/x',
          '--queue',
          'tcp://h:1',
        ]),
      ).toBe(2);
    } finally {
      if (saved !== undefined) process.env.D2NWG_QUEUE = saved;
    }
  });
});

const skip = queueTestsSkipReason();
if (skip) console.warn(`queue tests skipped: ${skip}`);

/**
 * Small enough for CI, long enough per job that a worker can be killed in the middle of one. The
 * seed is new each run: results are content-addressed, and a long-lived test Redis would otherwise
 * hand back the previous run's results without training anything.
 */
const config: ZooConfigInput = {
  dataset: { kind: 'fashion-mnist' },
  features: { kind: 'pca', components: 8 },
  tasks: { k: 2, nTrain: 40, nTest: 20, numSeen: 4, numUnseenCombo: 0, numUnseenClass: 0 },
  arch: { kind: 'mlp', hidden: [8] },
  train: { epochs: 150, keepLast: 2, seeds: 1, batchSize: 4, lr: 3e-3, modelsPerBatch: 1 },
  workers: 2,
  seed: randomInt(1, 2 ** 31),
};

describe.skipIf(skip !== null)('zoo builds through a Redis queue', () => {
  let redis: TestRedis;
  let local: BuiltZoo;
  const queueName = `test-${randomUUID().slice(0, 8)}`;
  const workers: CliWorker[] = [];

  beforeAll(async () => {
    redis = await testRedis();
    workers.push(spawnWorker(redis.url, queueName), spawnWorker(redis.url, queueName));
    local = await buildZoo({ ...config, workers: 0 });
    await Promise.all(workers.map((w) => w.waitFor(/^worker on /m)));
  });
  afterAll(() => endQueueTest(redis, queueName, workers));

  it('equals the in-process build member by member when a worker is killed mid-job', async () => {
    const progress: Progress[] = [];
    const executor = queueZooExecutor({ url: redis.url, queueName, graceMs: 10_000 });
    const building = buildZoo(config, { executor, onProgress: (p) => progress.push(p) });
    const [a] = workers;
    await a.waitFor(/job \w+ started/);
    const started = /job (\w+) started/.exec(a.out())?.[1] ?? '';
    a.child.kill('SIGKILL');
    const zoo = await building;
    // Killed in the middle: it never finished the job it had started...
    expect(a.out()).not.toMatch(new RegExp(`job ${started}: .* trained`));
    // Its job was handed to the other worker.
    expect(workers[1].out()).toMatch(new RegExp(`job ${started}: 1 runs trained`));
    expect(zoo.manifest.members).toEqual(local.manifest.members);
    expect(zoo.vectors).toEqual(local.vectors);
    expect(progress.some((p) => /epoch \d+\/150/.test(p.label ?? ''))).toBe(true);
    const last = progress[progress.length - 1];
    expect([last.value, last.max]).toEqual([8, 8]);
  });

  it('stores each result once and reuses it when the same zoo is built again', async () => {
    const r = new Redis(redis.url);
    const before = (await r.keys('d2nwg:result:*')).length;
    const trainedBefore = (workers[1].out().match(/runs trained/g) ?? []).length;
    const again = await buildZoo(config, {
      executor: queueZooExecutor({ url: redis.url, queueName }),
    });
    expect(again.vectors).toEqual(local.vectors);
    expect((await r.keys('d2nwg:result:*')).length).toBe(before);
    expect((workers[1].out().match(/runs trained/g) ?? []).length).toBe(trainedBefore);
    r.disconnect();
  });

  /** A two-run plan on synthetic data; `badIndex` puts a sample index outside the data. */
  function tinyPlan(epochs: number, badIndex = false): ZooTrainingPlan {
    const rng = new Rng(1);
    const n = 40;
    const inputs = {
      x: rng.normalArray(n * 4),
      labels: Int32Array.from({ length: n }, (_, i) => i % 2),
      sampleShape: [4],
      classNames: ['a', 'b'],
      source: 'synthetic',
    };
    const layout = layoutOf(
      resolveArchitecture(ArchitectureSchema.parse({ kind: 'mlp', hidden: [4] }), [4], 2),
    );
    const task = (id: string, offset: number) => ({
      id,
      classes: [0, 1],
      trainIndex: Int32Array.from({ length: 20 }, (_, i) => i + offset),
      testIndex: Int32Array.from({ length: 10 }, (_, i) => (badIndex ? 999_999 : 30 + i)),
      split: 'seen' as const,
    });
    return {
      layout,
      inputs,
      inits: [initParams(layout, new Rng(2))],
      epochs,
      batchSize: 4,
      lr: 1e-2,
      keepLast: 1,
      batches: [
        [{ run: 0, task: task('t0', 0), seedIndex: 0, shuffleSeed: 3 }],
        [{ run: 1, task: task('t1', 10), seedIndex: 0, shuffleSeed: 4 }],
      ],
      workers: 1,
    };
  }

  it('fails the build once, with the worker error, after the configured attempts', async () => {
    const executor = queueZooExecutor({ url: redis.url, queueName, attempts: 2, backoffMs: 50 });
    const finished: number[] = [];
    const err = await executor
      .train(tinyPlan(2, true), {
        onEpoch: () => undefined,
        finish: (r) => finished.push(...r.map((x) => x.run)),
      })
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(InputError);
    expect(String(err)).toMatch(/failed on a queue worker \(2 attempts\)/);
    expect(String(err)).toMatch(/sample index 999999 is outside the dataset's 40 samples/);
    expect(finished).toEqual([]);
    // Each job was tried twice (both jobs fail the same way; the build reports the first).
    await workers[1].waitFor(/(failed: InputError[^\n]*\n[\s\S]*){2}/);
  });

  it('cancels: waiting jobs are removed and active ones stopped', async () => {
    const ac = new AbortController();
    const executor = queueZooExecutor({ url: redis.url, queueName });
    const epochs: number[] = [];
    const training = executor.train(tinyPlan(100_000), {
      onEpoch: (m) => {
        epochs.push(m.epoch);
        if (epochs.length === 3) ac.abort();
      },
      finish: () => undefined,
      signal: ac.signal,
    });
    await expect(training).rejects.toBeInstanceOf(CancelledError);
    const q = new Queue(queueName, {
      connection: new Redis(redis.url, { maxRetriesPerRequest: null }),
    });
    const t0 = Date.now();
    let counts = await q.getJobCounts('wait', 'active', 'delayed');
    while (counts.active + counts.wait + counts.delayed > 0 && Date.now() - t0 < 10_000) {
      await new Promise((r) => setTimeout(r, 100));
      counts = await q.getJobCounts('wait', 'active', 'delayed');
    }
    expect(counts).toEqual({ wait: 0, active: 0, delayed: 0 });
    await workers[1].waitFor(/failed: CancelledError/);
    await q.close();
  });
});

describe.skipIf(skip !== null)('a Redis that goes away', () => {
  it('fails the build with a clear error when Redis stays down, and writes nothing', async () => {
    const server = await startRedisServer();
    const executor = queueZooExecutor({ url: server.url, queueName: 'gone', graceMs: 1000 });
    let finished = 0;
    // No worker: the jobs wait in Redis until it dies under them.
    const training = executor.train(tinyPlanForGone(), {
      onEpoch: () => undefined,
      finish: () => void finished++,
    });
    await new Promise((r) => setTimeout(r, 500));
    server.kill();
    await expect(training).rejects.toThrow(
      /lost the Redis queue at redis:\/\/127\.0\.0\.1:\d+ for more than 1 s.*the build stopped and wrote nothing/,
    );
    expect(finished).toBe(0);
    await server.stop();
  });

  it('fails the build when Redis comes back without its jobs', async () => {
    const first = await startRedisServer();
    const executor = queueZooExecutor({
      url: first.url,
      queueName: 'restarted',
      graceMs: 20_000,
      checkMs: 200,
    });
    const training = executor.train(tinyPlanForGone(), {
      onEpoch: () => undefined,
      finish: () => undefined,
    });
    await new Promise((r) => setTimeout(r, 500));
    first.kill();
    await first.stop();
    const second = await startRedisServer(first.port);
    try {
      await expect(training).rejects.toThrow(
        /lost zoo batch job \w+ \(restarted without persistence/,
      );
    } finally {
      await second.stop();
    }
  });
});

function tinyPlanForGone(): ZooTrainingPlan {
  const layout = layoutOf(
    resolveArchitecture(ArchitectureSchema.parse({ kind: 'mlp', hidden: [2] }), [2], 2),
  );
  const task = {
    id: 't',
    classes: [0, 1],
    trainIndex: Int32Array.from([0, 1]),
    testIndex: Int32Array.from([2, 3]),
    split: 'seen' as const,
  };
  return {
    layout,
    inputs: {
      x: new Float32Array(8),
      labels: Int32Array.from([0, 1, 0, 1]),
      sampleShape: [2],
      classNames: ['a', 'b'],
      source: 'synthetic',
    },
    inits: [initParams(layout, new Rng(0))],
    epochs: 1,
    batchSize: 2,
    lr: 1e-3,
    keepLast: 1,
    batches: [[{ run: 0, task, seedIndex: 0, shuffleSeed: 1 }]],
    workers: 1,
  };
}
