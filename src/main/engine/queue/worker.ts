/**
 * `d2nwg worker`: a process on any machine that reaches the Redis takes zoo batch jobs, trains
 * them on its own worker threads (one tensor backend each; the process's event loop stays free to
 * renew its job locks), stores each result under the hash of its job and reports per-epoch
 * progress. A job whose result is already stored (delivered twice, or built before) is not
 * trained again. Other kinds of job (a sweep's points, src/main/sweeps/queue.ts) join through
 * `kinds`: a handler per job name, with the same store-once result.
 */
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { currentBackend } from '../backend.ts';
import { CancelledError } from '../errors.ts';
import type { LabelledData } from '../data/types.ts';
import { WorkerPool } from '../workers/pool.ts';
import { MEMBER_WORKER_FILE, runBatchOnPool } from '../zoo/executor.ts';
import {
  BLOB_TTL_SECONDS,
  DEFAULT_LOCK,
  connectRedis,
  keys,
  waitReady,
  type LockSettings,
  type QueueTarget,
} from './connection.ts';
import {
  JOB_KINDS,
  jobHash,
  materializeZooBatch,
  packResults,
  parseZooBatchJob,
  unpackDataset,
} from './jobs.ts';

/** What a job handler gets besides its job. */
export interface JobContext {
  /** Aborted when the producer cancels the job (or the worker closes). */
  readonly signal?: AbortSignal;
  readonly log: (line: string) => void;
  /**
   * The job's result under the hash of the job: `compute` runs only when none is stored yet (a job
   * delivered twice, or done before), and the first stored copy stays.
   */
  readonly storeOnce: (compute: () => Promise<Buffer | string>) => Promise<StoredResult>;
  /** A blob the producer put in Redis (keys.file, keys.data), or null when it is not there. */
  readonly getBlob: (key: string) => Promise<Buffer | null>;
}

/** Another kind of job a worker serves (a sweep's point), by its BullMQ job name. */
export interface QueueJobKind {
  /** Do the job; the value is the job's return value. */
  run(job: Job, ctx: JobContext): Promise<unknown>;
  /** Let go of what the kind holds when the worker closes. */
  close?(): Promise<void>;
}

export interface QueueWorkerOptions {
  readonly target: QueueTarget;
  /** Job kinds served besides zoo batches (keyed by job name). */
  readonly kinds?: Readonly<Record<string, QueueJobKind>>;
  /** Jobs trained at once, each on its own thread. */
  readonly concurrency: number;
  /** Lock and stalled-job settings (default DEFAULT_LOCK). */
  readonly lock?: LockSettings;
  /** One line per job started, finished or failed. */
  readonly log?: (line: string) => void;
}

/** What a job returns through BullMQ: the key of its result, not the result. */
export interface StoredResult {
  readonly result: string;
  /** True when the result was already stored and nothing was trained. */
  readonly reused: boolean;
}

export interface QueueWorkerHandle {
  /** Stop taking jobs, let active ones end, and disconnect. */
  close(): Promise<void>;
}

/** Datasets kept in memory, by hash (a worker usually serves one zoo at a time). */
const DATA_CACHE_SIZE = 2;

/** An error as the producer will see it: the class name in front, so it can be rebuilt. */
function forQueue(err: unknown): Error {
  if (err instanceof CancelledError) return new UnrecoverableError('CancelledError: cancelled');
  if (err instanceof Error) {
    return new Error(err.name === 'Error' ? err.message : `${err.name}: ${err.message}`);
  }
  return new Error(String(err));
}

async function closeKinds(kinds: QueueWorkerOptions['kinds']): Promise<void> {
  await Promise.all(Object.values(kinds ?? {}).map((k) => k.close?.().catch(() => undefined)));
}

/** Start a worker; it runs until close() (the CLI closes it on SIGINT/SIGTERM). */
export async function startQueueWorker(opts: QueueWorkerOptions): Promise<QueueWorkerHandle> {
  const { target, concurrency } = opts;
  const lock = opts.lock ?? DEFAULT_LOCK;
  const log = opts.log ?? (() => undefined);
  const conn = connectRedis(target);
  const sub = connectRedis(target);
  const workerConn = connectRedis(target);
  const all: Redis[] = [conn, sub, workerConn];
  let pool: WorkerPool | null = null;
  let worker: Worker | null = null;
  try {
    await Promise.all(all.map((r) => waitReady(r, target)));
    pool = new WorkerPool(MEMBER_WORKER_FILE, concurrency, { backend: currentBackend()?.name });
    const threads = pool;
    const datasets = new Map<string, Promise<LabelledData>>();
    const dataset = (hash: string): Promise<LabelledData> => {
      let p = datasets.get(hash);
      if (!p) {
        p = (async () => {
          const blob = await conn.getBuffer(keys.data(hash));
          if (!blob) {
            throw new Error(
              `dataset ${hash.slice(0, 12)} is not in Redis (expired, flushed, or Redis restarted); rebuild the zoo`,
            );
          }
          return unpackDataset(blob, hash);
        })();
        datasets.set(hash, p);
        p.catch(() => datasets.delete(hash));
        while (datasets.size > DATA_CACHE_SIZE) {
          const oldest = datasets.keys().next().value;
          if (oldest === undefined) break;
          datasets.delete(oldest);
        }
      }
      return p;
    };

    const context = (job: Job, signal?: AbortSignal): JobContext => ({
      log,
      ...(signal ? { signal } : {}),
      async storeOnce(compute) {
        const id = jobHash(job.data);
        const key = keys.result(id);
        if ((await conn.expire(key, BLOB_TTL_SECONDS)) === 1) return { result: id, reused: true };
        const value = await compute();
        // NX: a job delivered twice computes the same result; the first copy stays.
        await conn.set(key, value, 'EX', BLOB_TTL_SECONDS, 'NX');
        return { result: id, reused: false };
      },
      getBlob: (key) => conn.getBuffer(key),
    });

    const zooBatch = (job: Job, ctx: JobContext): Promise<StoredResult> =>
      ctx.storeOnce(async () => {
        const id = jobHash(job.data);
        log(`job ${id.slice(0, 12)} started (attempt ${job.attemptsMade + 1})`);
        const data = parseZooBatchJob(job.data, job.id ?? id);
        const batch = materializeZooBatch(data, await dataset(data.data));
        const t0 = performance.now();
        const results = await runBatchOnPool(
          threads,
          batch,
          (m) => void job.updateProgress({ ...m }).catch(() => undefined),
          ctx.signal,
        );
        log(
          `job ${id.slice(0, 12)}: ${results.length} runs trained in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
        );
        return packResults(results);
      });

    worker = new Worker(
      target.name,
      async (job: Job, _token?: string, signal?: AbortSignal): Promise<unknown> => {
        try {
          if (job.name === JOB_KINDS.noop) return {};
          if (job.name === JOB_KINDS.zooBatch) return await zooBatch(job, context(job, signal));
          const kind = opts.kinds?.[job.name];
          if (kind) return await kind.run(job, context(job, signal));
          throw new UnrecoverableError(
            `unknown job kind '${job.name}' (added by a newer d2nwg? update this worker)`,
          );
        } catch (err) {
          if (err instanceof UnrecoverableError) throw err;
          throw forQueue(err);
        }
      },
      {
        connection: workerConn,
        concurrency,
        lockDuration: lock.lockMs,
        stalledInterval: lock.stalledMs,
        maxStalledCount: lock.maxStalled,
      },
    );
    worker.on('failed', (job, err) => {
      if (job) log(`job ${String(job.id).slice(0, 12)} failed: ${err.message}`);
    });
    worker.on('error', (err) => log(`queue error: ${err.message}`));
    const w = worker;
    await sub.subscribe(keys.cancel(target.name));
    sub.on('message', (_channel: string, message: string) => {
      let ids: unknown;
      try {
        ids = JSON.parse(message);
      } catch {
        return;
      }
      if (!Array.isArray(ids)) return;
      for (const id of ids) if (typeof id === 'string') w.cancelJob(id, 'cancelled by the build');
    });
    await worker.waitUntilReady();
    log(
      `worker on ${target.shown} queue '${target.name}': ${concurrency} thread${concurrency === 1 ? '' : 's'}, backend ${currentBackend()?.name ?? 'default'}`,
    );
  } catch (err) {
    await worker?.close(true).catch(() => undefined);
    await pool?.close();
    await closeKinds(opts.kinds);
    for (const r of all) r.disconnect();
    throw err;
  }
  const w = worker;
  const p = pool;
  let closing: Promise<void> | null = null;
  return {
    close() {
      closing ??= (async () => {
        await w.close().catch(() => undefined);
        await p.close();
        await closeKinds(opts.kinds);
        for (const r of all) r.disconnect();
      })();
      return closing;
    },
  };
}
