/**
 * The queue executor: a zoo's batches become BullMQ jobs on a Redis that `d2nwg worker` processes
 * on any machine serve. The dataset's member inputs go to Redis once, under their hash; each job
 * is named by the hash of its content, so a batch whose result is already stored is not queued
 * again. Progress comes back as the workers' per-epoch messages; cancelling removes waiting jobs
 * and tells the workers to stop active ones.
 *
 * Faults: a worker that dies mid-job loses its lock and BullMQ hands the job to another worker; a
 * job that fails every attempt fails the build with the worker's error; a Redis that stays away
 * longer than the grace period, or comes back without this build's jobs, fails the build with a
 * message saying so. In every failure no zoo is assembled: the build either has every result or
 * throws.
 */
import { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { CancelledError, InputError } from '../errors.ts';
import { errorFromWorker } from '../workers/pool.ts';
import type { ZooBatchHooks, ZooExecutor, ZooTrainingPlan } from '../zoo/executor.ts';
import type { MemberEpochMessage } from '../zoo/train-member.ts';
import {
  BLOB_TTL_SECONDS,
  DEFAULT_QUEUE_NAME,
  connectRedis,
  keys,
  parseQueueTarget,
  waitReady,
  type QueueTarget,
} from './connection.ts';
import { JOB_KINDS, packDataset, unpackResults, zooBatchJobData } from './jobs.ts';

export interface QueueExecutorOptions {
  /** redis://HOST:PORT */
  readonly url: string;
  /** BullMQ queue name (default 'd2nwg'); the workers must serve the same one. */
  readonly queueName?: string;
  /** Tries per job before the build fails (default 3). */
  readonly attempts?: number;
  /** First retry delay, doubling after each (default 1000 ms). */
  readonly backoffMs?: number;
  /**
   * How long Redis may be unreachable before the build fails (default D2NWG_QUEUE_GRACE_MS or
   * 15 s). A Redis that comes back with the build's jobs lets it go on.
   */
  readonly graceMs?: number;
  /** How often pending jobs are checked against Redis (default 2000 ms). */
  readonly checkMs?: number;
}

/** Jobs added per round trip. */
const ADD_CHUNK = 200;

const ProgressSchema = z.object({
  runs: z.array(z.number().int()),
  epoch: z.number().int(),
  epochs: z.number().int(),
  trainLoss: z.number().nullable(),
  testAcc: z.number().nullable(),
});

/** Rebuild the worker's error (class kept for exit codes) from BullMQ's failedReason. */
export function errorFromFailedReason(reason: string, jobId: string, attempts: number): Error {
  const m =
    /^(InputError|NumericError|CancelledError|DeviceLimitError|[A-Z][A-Za-z]*Error): ([\s\S]*)$/.exec(
      reason,
    );
  const name = m ? m[1] : 'Error';
  const message = `zoo batch job ${jobId.slice(0, 12)} failed on a queue worker (${attempts} attempt${attempts === 1 ? '' : 's'}): ${m ? m[2] : reason}`;
  return errorFromWorker({ name, message });
}

function graceFromEnv(): number {
  const v = process.env.D2NWG_QUEUE_GRACE_MS;
  if (v === undefined || v === '') return 15_000;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    throw new InputError(
      `must be a whole number of milliseconds, got '${v}'`,
      'D2NWG_QUEUE_GRACE_MS',
    );
  }
  return n;
}

/** An executor that trains zoo batches on the `d2nwg worker` processes of a Redis queue. */
export function queueZooExecutor(opts: QueueExecutorOptions): ZooExecutor {
  const target = parseQueueTarget(
    opts.url,
    opts.queueName ?? DEFAULT_QUEUE_NAME,
    'D2NWG_QUEUE / --queue',
  );
  const attempts = opts.attempts ?? 3;
  if (!Number.isInteger(attempts) || attempts < 1) {
    throw new InputError(`must be a positive integer, got ${attempts}`, 'queue attempts');
  }
  return {
    name: `queue ${target.shown} '${target.name}'`,
    train: (plan, hooks) => trainOnQueue(target, opts, attempts, plan, hooks),
  };
}

async function trainOnQueue(
  target: QueueTarget,
  opts: QueueExecutorOptions,
  attempts: number,
  plan: ZooTrainingPlan,
  hooks: ZooBatchHooks,
): Promise<void> {
  const { signal, onEpoch, finish } = hooks;
  if (signal?.aborted) throw new CancelledError();
  const graceMs = opts.graceMs ?? graceFromEnv();
  const checkMs = opts.checkMs ?? 2000;
  const conns: Redis[] = [];
  const open = (): Redis => {
    const r = connectRedis(target);
    conns.push(r);
    return r;
  };
  const conn = open();
  let queue: Queue | null = null;
  let events: QueueEvents | null = null;
  const timers: NodeJS.Timeout[] = [];
  try {
    await waitReady(conn, target);
    const { hash, blob } = packDataset(plan.inputs);
    await conn.set(keys.data(hash), blob, 'EX', BLOB_TTL_SECONDS);
    queue = new Queue(target.name, { connection: open() });
    events = new QueueEvents(target.name, { connection: open() });
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
    // BullMQ's own (duplicated) connections report a lost Redis too; the checks below handle it.
    const quiet = (): undefined => undefined;
    queue.on('error', quiet);
    events.on('error', quiet);
    const q = queue;
    const ev = events;

    // job id → batch indices (two identical batches share a job and its result).
    const pending = new Map<string, number[]>();
    const jobs: { id: string; name: string; data: unknown }[] = [];
    plan.batches.forEach((_, b) => {
      const { id, data } = zooBatchJobData(plan, b, hash);
      const list = pending.get(id);
      if (list) list.push(b);
      else {
        pending.set(id, [b]);
        jobs.push({ id, name: JOB_KINDS.zooBatch, data });
      }
    });

    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const missing = new Set<string>();
      let lostSince: number | null = null;
      let lastError = '';
      const settle = (err: unknown): void => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        if (err === null) resolve();
        else reject(err);
      };
      const collecting = new Set<string>();
      const collect = async (id: string): Promise<void> => {
        if (settled || collecting.has(id) || !pending.has(id)) return;
        collecting.add(id);
        try {
          const buf = await conn.getBuffer(keys.result(id));
          if (!buf)
            throw new Error(`the result of zoo batch job ${id.slice(0, 12)} is missing from Redis`);
          const results = unpackResults(buf, id);
          const batches = pending.get(id) ?? [];
          pending.delete(id);
          for (const b of batches) {
            const runs = new Set(plan.batches[b].map((r) => r.run));
            finish(results.filter((r) => runs.has(r.run)));
          }
          if (pending.size === 0) settle(null);
        } catch (err) {
          settle(err);
        } finally {
          collecting.delete(id);
        }
      };
      const onAbort = (): void => settle(new CancelledError());
      signal?.addEventListener('abort', onAbort, { once: true });

      ev.on('completed', ({ jobId }) => void collect(jobId));
      ev.on('failed', ({ jobId, failedReason }) => {
        if (pending.has(jobId)) settle(errorFromFailedReason(failedReason, jobId, attempts));
      });
      ev.on('progress', ({ jobId, data }) => {
        if (settled || !pending.has(jobId)) return;
        const p = ProgressSchema.safeParse(data);
        if (!p.success) return;
        const m: MemberEpochMessage = {
          ...p.data,
          trainLoss: p.data.trainLoss ?? NaN,
          testAcc: p.data.testAcc ?? NaN,
        };
        onEpoch(m);
      });

      // Redis away: fail after the grace period; back: check that the build's jobs survived.
      const onDown = (err?: Error): void => {
        if (err) lastError = err.message;
        lostSince ??= Date.now();
      };
      conn.on('error', onDown);
      conn.on('close', () => onDown());
      conn.on('ready', () => {
        lostSince = null;
        void check();
      });
      let checking = false;
      const check = async (): Promise<void> => {
        if (settled || checking || conn.status !== 'ready') return;
        checking = true;
        try {
          const ids = [...pending.keys()];
          const pipe = conn.pipeline();
          for (const id of ids) pipe.exists(keys.result(id)).exists(q.toKey(id));
          const res = (await pipe.exec()) ?? [];
          ids.forEach((id, i) => {
            const hasResult = res[2 * i]?.[1] === 1;
            const hasJob = res[2 * i + 1]?.[1] === 1;
            if (hasResult) void collect(id);
            else if (hasJob) missing.delete(id);
            else if (missing.has(id)) {
              // Gone in two checks in a row, no result and no failure event: Redis lost it.
              settle(
                new Error(
                  `the Redis queue at ${target.shown} lost zoo batch job ${id.slice(0, 12)} (restarted without persistence, or flushed?); the build stopped and wrote nothing`,
                ),
              );
            } else missing.add(id);
          });
        } catch {
          // Connection trouble: the grace timer decides.
        } finally {
          checking = false;
        }
      };
      const tick = (): void => {
        if (lostSince !== null && Date.now() - lostSince > graceMs) {
          settle(
            new Error(
              `lost the Redis queue at ${target.shown} for more than ${graceMs < 1000 ? `${graceMs} ms` : `${Math.round(graceMs / 1000)} s`}${lastError ? ` (${lastError})` : ''}; the build stopped and wrote nothing`,
            ),
          );
          return;
        }
        void check();
      };
      timers.push(setInterval(tick, Math.min(checkMs, Math.max(100, graceMs / 4))));

      void (async () => {
        try {
          // Results already stored (an earlier build of the same batches) are not queued again.
          const ids = jobs.map((j) => j.id);
          const pipe = conn.pipeline();
          for (const id of ids) pipe.exists(keys.result(id));
          const have = ((await pipe.exec()) ?? []).map((r) => r[1] === 1);
          const todo = jobs.filter((_, i) => !have[i]);
          ids.forEach((id, i) => {
            if (have[i]) void collect(id);
          });
          for (let i = 0; i < todo.length && !settled; i += ADD_CHUNK) {
            await q.addBulk(
              todo.slice(i, i + ADD_CHUNK).map((j) => ({
                name: j.name,
                data: j.data,
                opts: {
                  jobId: j.id,
                  attempts,
                  backoff: { type: 'exponential', delay: opts.backoffMs ?? 1000 },
                  removeOnComplete: true,
                  removeOnFail: true,
                },
              })),
            );
          }
        } catch (err) {
          settle(err);
        }
      })();
    }).catch(async (err: unknown) => {
      // Stop what is left, unless Redis itself is gone (the commands would only hang).
      const left = [...pending.keys()];
      if (left.length > 0 && conn.status === 'ready') {
        await withTimeout(stopJobs(q, conn, target, left), 5000);
      }
      throw err;
    });
  } finally {
    for (const t of timers) clearInterval(t);
    const closing = [events?.close(), queue?.close()].map((p) => p?.catch(() => undefined));
    await withTimeout(Promise.all(closing), 2000);
    for (const r of conns) r.disconnect();
  }
}

/** Remove waiting jobs and tell the workers to stop the active ones. */
async function stopJobs(q: Queue, conn: Redis, target: QueueTarget, ids: string[]): Promise<void> {
  await Promise.all(ids.map((id) => q.remove(id).catch(() => 0)));
  for (let i = 0; i < ids.length; i += 1000) {
    await conn.publish(keys.cancel(target.name), JSON.stringify(ids.slice(i, i + 1000)));
  }
}

async function withTimeout(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    p.then(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}
