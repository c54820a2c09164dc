/**
 * `d2nwg bench queue`: what the Redis queue costs and buys on one machine. Throughput with empty
 * jobs (jobs/s through one worker process), the round trip of one job (add → completed event),
 * and the standard quality preset's zoo built in-process (2 threads) against the queue with 1, 2
 * and 3 `d2nwg worker` processes, in interleaved rounds, checking the zoos are identical. The
 * queue builds cut the runs into 6 batches, so 1, 2 and 3 workers all share them evenly.
 * Without --queue it starts a private redis-server (Debian's) on a free port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as net from 'node:net';
import { fileURLToPath } from 'node:url';
import { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import * as os from 'node:os';
import { currentBackend } from '../backend.ts';
import { buildZoo, type BuiltZoo } from '../zoo/build.ts';
import { standardZooConfig } from '../zoo/bench.ts';
import { threadExecutor, type ZooExecutor } from '../zoo/executor.ts';
import { connectRedis, keys, parseQueueTarget, waitReady, type QueueTarget } from './connection.ts';
import { queueZooExecutor } from './executor.ts';
import { JOB_KINDS } from './jobs.ts';

/** Batches of a queue build: 1, 2 and 3 workers take equal shares. */
const QUEUE_BATCHES = 6;
/** Runs per job of the large-zoo comparison (40 jobs of the 4,000 runs). */
const LARGE_JOB_RUNS = 100;

const BIN = fileURLToPath(new URL('../../../../bin/d2nwg.mjs', import.meta.url));

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

/** A `d2nwg worker` child process, ready once it printed its banner. */
async function spawnWorker(
  target: QueueTarget,
  concurrency: number,
  backend: string,
): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      BIN,
      'worker',
      '--queue',
      target.url,
      '--queue-name',
      target.name,
      '--concurrency',
      String(concurrency),
      '--backend',
      backend,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    let text = '';
    child.stdout?.on('data', (d: Buffer) => {
      text += d.toString('utf8');
      if (/^worker on /m.test(text)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`worker exited with code ${code}: ${text}`)));
  });
  return child;
}

/** Empty jobs through one worker: jobs/s with `n` queued at once, and the one-job round trip. */
async function measureEmptyJobs(
  target: QueueTarget,
  n: number,
  rounds: number,
): Promise<{ jobs: number; jobsPerSecond: number; roundTripMs: number; roundTrips: number }> {
  const conns: Redis[] = [connectRedis(target), connectRedis(target)];
  const queue = new Queue(target.name, { connection: conns[0] });
  const events = new QueueEvents(target.name, { connection: conns[1] });
  try {
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
    const waiters = new Map<string, () => void>();
    events.on('completed', ({ jobId }) => waiters.get(jobId)?.());
    const done = (id: string): Promise<void> =>
      new Promise((resolve) => {
        waiters.set(id, () => {
          waiters.delete(id);
          resolve();
        });
      });
    const run = randomUUID().slice(0, 8);
    const opts = { removeOnComplete: true, removeOnFail: true };
    const ids = Array.from({ length: n }, (_, i) => `noop-${run}-${i}`);
    const all = Promise.all(ids.map(done));
    const t0 = performance.now();
    for (let i = 0; i < n; i += 500) {
      await queue.addBulk(
        ids
          .slice(i, i + 500)
          .map((jobId) => ({ name: JOB_KINDS.noop, data: {}, opts: { ...opts, jobId } })),
      );
    }
    await all;
    const seconds = (performance.now() - t0) / 1000;
    const trips: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const jobId = `trip-${run}-${i}`;
      const finished = done(jobId);
      const t = performance.now();
      await queue.add(JOB_KINDS.noop, {}, { ...opts, jobId });
      await finished;
      trips.push(performance.now() - t);
    }
    return { jobs: n, jobsPerSecond: n / seconds, roundTripMs: median(trips), roundTrips: rounds };
  } finally {
    await events.close();
    await queue.close();
    for (const c of conns) c.disconnect();
  }
}

export interface QueueBenchReport {
  readonly bench: 'queue';
  readonly backend: string;
  readonly node: string;
  readonly date: string;
  readonly cpus: number;
  readonly emptyJobs: {
    readonly jobs: number;
    readonly workerConcurrency: number;
    readonly jobsPerSecond: number;
    /** Median add → completed-event time of one job on an idle queue. */
    readonly roundTripMs: number;
  };
  readonly standardZoo: {
    readonly runs: number;
    readonly members: number;
    readonly rounds: number;
    /** Training stage seconds per round, per way of building. */
    readonly trainSeconds: Record<string, number[]>;
    readonly runsPerSecond: Record<string, number>;
    /** Queue with 2 workers over queue with 1 (same rounds, medians). */
    readonly speedup1to2: number;
    /** Queue with 3 workers over queue with 1. */
    readonly speedup1to3: number;
    /** Batches (jobs) of each queue build. */
    readonly queueBatches: number;
    /** Queue with 2 workers over in-process with 2 threads. */
    readonly queue2OverInProcess: number;
    /** Every queue-built zoo equalled the in-process one, member by member. */
    readonly identical: boolean;
  };
  /**
   * The large preset's zoo (4,000 seen tasks, one run each) cut into jobs of LARGE_JOB_RUNS runs,
   * built in-process on 2 threads and on the queue with 2 workers, the same batches both ways:
   * the difference per job is the queue's cost of a job at this size. Absent with --large-rounds 0.
   */
  readonly largeZoo?: {
    readonly runs: number;
    readonly jobs: number;
    readonly rounds: number;
    readonly trainSeconds: Record<string, number[]>;
    /** Median training seconds of one job (in-process time × 2 threads / jobs). */
    readonly trainSecondsPerJob: number;
    /** (queue − in-process) × 2 workers / jobs, medians: what the queue adds to a job. */
    readonly overheadMsPerJob: number;
    readonly identical: boolean;
  };
}

export interface QueueBenchOptions {
  /** A Redis to use; default: a private redis-server on a free port. */
  readonly url?: string;
  /** Interleaved rounds of the standard-zoo comparison. */
  readonly rounds: number;
  /** Empty jobs queued at once for the throughput figure. */
  readonly jobs: number;
  /** Interleaved rounds of the large-zoo comparison (0: skip it). */
  readonly largeRounds?: number;
  readonly log?: (line: string) => void;
}

/** Run the benchmark on the current backend (call initBackend first). */
export async function runQueueBenchmark(opts: QueueBenchOptions): Promise<QueueBenchReport> {
  const { rounds, jobs } = opts;
  const log = opts.log ?? (() => undefined);
  const backend = currentBackend()?.name ?? 'wasm';
  let server: ChildProcess | null = null;
  let url = opts.url;
  if (!url) {
    const port = await freePort();
    server = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    server.once('error', () => undefined);
    url = `redis://127.0.0.1:${port}`;
    log(`started redis-server on ${url}`);
  }
  const run = randomUUID().slice(0, 8);
  const target = (name: string): QueueTarget => parseQueueTarget(url, `bench-${name}-${run}`);
  const children: ChildProcess[] = [];
  const probe = connectRedis(target('probe'));
  try {
    await waitReady(probe, target('probe'));
    // 1. empty jobs through one worker process.
    const noopTarget = target('noop');
    const concurrency = 8;
    children.push(await spawnWorker(noopTarget, concurrency, backend));
    const empty = await measureEmptyJobs(noopTarget, jobs, 50);
    log(
      `empty jobs: ${empty.jobsPerSecond.toFixed(0)} jobs/s (${jobs} jobs, 1 worker × ${concurrency}); one job add → done ${empty.roundTripMs.toFixed(1)} ms`,
    );

    // 2. the standard zoo: in-process vs queue with 1, 2 and 3 workers, interleaved.
    const ways: { name: string; executor: ZooExecutor; batches: number }[] = [
      { name: 'in-process, 2 threads', executor: threadExecutor, batches: 2 },
    ];
    for (const n of [1, 2, 3]) {
      const q = target(`zoo${n}`);
      for (let i = 0; i < n; i++) children.push(await spawnWorker(q, 1, backend));
      ways.push({
        name: `queue, ${n} worker${n === 1 ? '' : 's'}`,
        executor: queueZooExecutor({ url, queueName: q.name }),
        batches: QUEUE_BATCHES,
      });
    }
    // Warm-up, not measured: each worker process starts its training thread on its first job.
    for (const w of ways.slice(1)) {
      await buildZoo(standardZooConfig(w.batches, undefined, true), { executor: w.executor });
    }
    const trainSeconds: Record<string, number[]> = {};
    let reference: BuiltZoo | null = null;
    let identical = true;
    let runs = 0;
    for (let r = 0; r < rounds; r++) {
      for (const w of ways) {
        // Results are content-addressed: drop this zoo's, so every round trains.
        const before = new Set(await probe.keys(keys.result('*')));
        const zoo = await buildZoo(standardZooConfig(w.batches), { executor: w.executor });
        const added = (await probe.keys(keys.result('*'))).filter((k) => !before.has(k));
        if (added.length > 0) await probe.del(...added);
        const train = zoo.manifest.timings?.train ?? NaN;
        runs = new Set(zoo.manifest.members.map((m) => `${m.taskId}#${m.seed}`)).size;
        (trainSeconds[w.name] ??= []).push(train);
        if (reference === null) reference = zoo;
        else {
          const same =
            zoo.vectors.length === reference.vectors.length &&
            zoo.vectors.every((v, i) => Object.is(v, reference?.vectors[i]));
          identical &&= same;
        }
        log(
          `round ${r + 1} ${w.name}: ${runs} runs in ${train.toFixed(2)} s = ${(runs / train).toFixed(1)} runs/s`,
        );
      }
    }
    // 3. the large zoo, the same 40 batches in-process (2 threads) and on the 2-worker queue.
    let largeZoo: QueueBenchReport['largeZoo'];
    const largeRounds = opts.largeRounds ?? 1;
    if (largeRounds > 0) {
      const two = ways.find((w) => w.name === 'queue, 2 workers');
      const largeWays = [
        { name: 'in-process, 2 threads', executor: threadExecutor, workers: 2 },
        { name: 'queue, 2 workers', executor: two?.executor ?? threadExecutor, workers: 2 },
      ];
      const secs: Record<string, number[]> = {};
      let ref: BuiltZoo | null = null;
      let same = true;
      let largeRuns = 0;
      let jobCount = 0;
      for (let r = 0; r < largeRounds; r++) {
        for (const w of largeWays) {
          const before = new Set(await probe.keys(keys.result('*')));
          const cfg = standardZooConfig(w.workers, LARGE_JOB_RUNS, false, 'large');
          const zoo = await buildZoo(cfg, { executor: w.executor });
          const added = (await probe.keys(keys.result('*'))).filter((k) => !before.has(k));
          if (added.length > 0) await probe.del(...added);
          const train = zoo.manifest.timings?.train ?? NaN;
          largeRuns = new Set(zoo.manifest.members.map((m) => `${m.taskId}#${m.seed}`)).size;
          jobCount = Math.ceil(largeRuns / LARGE_JOB_RUNS);
          (secs[w.name] ??= []).push(train);
          if (ref === null) ref = zoo;
          else same &&= zoo.vectors.every((v, i) => Object.is(v, ref?.vectors[i]));
          log(
            `large zoo round ${r + 1} ${w.name}: ${largeRuns} runs (${jobCount} jobs) in ${train.toFixed(2)} s = ${(largeRuns / train).toFixed(1)} runs/s`,
          );
        }
      }
      const local = median(secs['in-process, 2 threads']);
      const queued = median(secs['queue, 2 workers']);
      largeZoo = {
        runs: largeRuns,
        jobs: jobCount,
        rounds: largeRounds,
        trainSeconds: secs,
        trainSecondsPerJob: (local * 2) / jobCount,
        overheadMsPerJob: ((queued - local) * 2 * 1000) / jobCount,
        identical: same,
      };
      log(
        `large zoo: ${largeZoo.trainSecondsPerJob.toFixed(2)} s of training a job; the queue adds ${largeZoo.overheadMsPerJob.toFixed(0)} ms a job; identical zoos: ${same}`,
      );
    }
    const rps: Record<string, number> = {};
    for (const [k, v] of Object.entries(trainSeconds)) rps[k] = runs / median(v);
    const speedup1to2 = rps['queue, 2 workers'] / rps['queue, 1 worker'];
    const speedup1to3 = rps['queue, 3 workers'] / rps['queue, 1 worker'];
    const queue2OverInProcess = rps['queue, 2 workers'] / rps['in-process, 2 threads'];
    log(
      `queue 1 → 2 → 3 workers: ${speedup1to2.toFixed(2)}×, ${speedup1to3.toFixed(2)}×; queue (2 workers) / in-process (2 threads): ${queue2OverInProcess.toFixed(2)}×; identical zoos: ${identical}`,
    );
    return {
      bench: 'queue',
      backend,
      node: process.version,
      date: new Date().toISOString(),
      cpus: os.cpus().length,
      emptyJobs: {
        jobs: empty.jobs,
        workerConcurrency: concurrency,
        jobsPerSecond: empty.jobsPerSecond,
        roundTripMs: empty.roundTripMs,
      },
      standardZoo: {
        runs,
        members: reference?.manifest.members.length ?? 0,
        rounds,
        trainSeconds,
        runsPerSecond: rps,
        speedup1to2,
        speedup1to3,
        queueBatches: QUEUE_BATCHES,
        queue2OverInProcess,
        identical,
      },
      ...(largeZoo ? { largeZoo } : {}),
    };
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(
      children.map((c) =>
        c.exitCode === null ? new Promise((r) => c.once('exit', r)) : Promise.resolve(),
      ),
    );
    probe.disconnect();
    server?.kill('SIGTERM');
  }
}
