/**
 * The producer's side of the queue, shared by a zoo build and a queued sweep: the connections it
 * holds, the options its jobs carry, and the watch it keeps while its jobs are out: that Redis is
 * reachable, and that each pending job still exists or has a stored result. A Redis away longer
 * than the grace period, or a job gone with no result in two checks in a row (a Redis restarted
 * without persistence, or flushed), is reported with a message saying what happened and what
 * the producer did about it. Both producers use this one watch so they fail the same way.
 */
import { Queue, QueueEvents, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { InputError } from '../errors.ts';
import {
  DEFAULT_QUEUE_NAME,
  connectRedis,
  keys,
  parseQueueTarget,
  waitReady,
  type QueueTarget,
} from './connection.ts';

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

/** Checked options, with their defaults filled in. */
export interface ProducerSettings {
  readonly target: QueueTarget;
  /** For messages: "queue redis://HOST:PORT 'd2nwg'". */
  readonly name: string;
  readonly attempts: number;
  readonly backoffMs: number;
  readonly graceMs: number;
  readonly checkMs: number;
}

/** Check a producer's options (InputErrors for a bad URL or attempts) and fill in defaults. */
export function producerSettings(opts: QueueExecutorOptions): ProducerSettings {
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
    target,
    name: `queue ${target.shown} '${target.name}'`,
    attempts,
    backoffMs: opts.backoffMs ?? 1000,
    graceMs: opts.graceMs ?? graceFromEnv(),
    checkMs: opts.checkMs ?? 2000,
  };
}

/** A producer's connections: one for its own commands, the queue, and the queue's events. */
export interface Producer {
  readonly conn: Redis;
  readonly queue: Queue;
  readonly events: QueueEvents;
  /** Close everything (bounded: a Redis that is gone does not hang it). */
  close(): Promise<void>;
}

/** Connect; fails with a message naming the URL when Redis cannot be reached. */
export async function openProducer(target: QueueTarget): Promise<Producer> {
  const conns: Redis[] = [];
  const open = (): Redis => {
    const r = connectRedis(target);
    conns.push(r);
    return r;
  };
  const conn = open();
  let queue: Queue | null = null;
  let events: QueueEvents | null = null;
  const close = async (): Promise<void> => {
    const closing = [events?.close(), queue?.close()].map((p) => p?.catch(() => undefined));
    await withTimeout(Promise.all(closing), 2000);
    for (const r of conns) r.disconnect();
  };
  try {
    await waitReady(conn, target);
    queue = new Queue(target.name, { connection: open() });
    events = new QueueEvents(target.name, { connection: open() });
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
  } catch (err) {
    await close();
    throw err;
  }
  // BullMQ's own (duplicated) connections report a lost Redis too; the watch handles it.
  const quiet = (): undefined => undefined;
  queue.on('error', quiet);
  events.on('error', quiet);
  return { conn, queue, events, close };
}

/** Options of a job: named by the hash of its content, retried with backoff, then dropped. */
export function jobOptions(id: string, attempts: number, backoffMs: number): JobsOptions {
  return {
    jobId: id,
    attempts,
    backoff: { type: 'exponential', delay: backoffMs },
    removeOnComplete: true,
    removeOnFail: true,
  };
}

export interface JobWatchArgs {
  readonly conn: Redis;
  readonly queue: Queue;
  readonly target: QueueTarget;
  /** How long Redis may be unreachable. */
  readonly graceMs: number;
  /** How often pending jobs are checked. */
  readonly checkMs: number;
  /** The jobs still out. */
  readonly pending: () => readonly string[];
  /** What a job is, in messages ('zoo batch job'). */
  readonly job: string;
  /** What the producer does on a fault, ending the messages ('the build stopped…'). */
  readonly consequence: string;
  /** The job's result is stored (its completed event may have been missed). */
  readonly onResult: (id: string) => void;
  /** The job is gone from Redis with no result. */
  readonly onLost: (id: string, err: Error) => void;
  /** Redis was away longer than the grace period. */
  readonly onDown: (err: Error) => void;
}

/** How long Redis may be away: D2NWG_QUEUE_GRACE_MS, else 15 s. */
export function graceFromEnv(): number {
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

/** Start watching; stop() ends it (call it once the jobs are all in, or on failure). */
export function watchJobs(args: JobWatchArgs): { stop(): void } {
  const { conn, queue, target, graceMs } = args;
  const missing = new Set<string>();
  let lostSince: number | null = null;
  let lastError = '';
  let stopped = false;
  let checking = false;

  const check = async (): Promise<void> => {
    if (stopped || checking || conn.status !== 'ready') return;
    checking = true;
    try {
      const ids = [...args.pending()];
      const pipe = conn.pipeline();
      for (const id of ids) pipe.exists(keys.result(id)).exists(queue.toKey(id));
      const res = (await pipe.exec()) ?? [];
      for (const [i, id] of ids.entries()) {
        if (stopped) return;
        const hasResult = res[2 * i]?.[1] === 1;
        const hasJob = res[2 * i + 1]?.[1] === 1;
        if (hasResult) args.onResult(id);
        else if (hasJob) missing.delete(id);
        else if (missing.has(id)) {
          // Gone in two checks in a row, no result and no failure event: Redis lost it.
          missing.delete(id);
          args.onLost(
            id,
            new Error(
              `the Redis queue at ${target.shown} lost ${args.job} ${id.slice(0, 12)} (restarted without persistence, or flushed?); ${args.consequence}`,
            ),
          );
        } else missing.add(id);
      }
    } catch {
      // Connection trouble: the grace timer decides.
    } finally {
      checking = false;
    }
  };

  // Redis away: fail after the grace period; back: check that the jobs survived.
  const onError = (err: Error): void => {
    lastError = err.message;
    lostSince ??= Date.now();
  };
  const onClose = (): void => {
    lostSince ??= Date.now();
  };
  const onReady = (): void => {
    lostSince = null;
    void check();
  };
  conn.on('error', onError);
  conn.on('close', onClose);
  conn.on('ready', onReady);
  const tick = (): void => {
    if (lostSince !== null && Date.now() - lostSince > graceMs) {
      const span = graceMs < 1000 ? `${graceMs} ms` : `${Math.round(graceMs / 1000)} s`;
      args.onDown(
        new Error(
          `lost the Redis queue at ${target.shown} for more than ${span}${lastError ? ` (${lastError})` : ''}; ${args.consequence}`,
        ),
      );
      return;
    }
    void check();
  };
  const timer = setInterval(tick, Math.min(args.checkMs, Math.max(100, graceMs / 4)));
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
      conn.off('error', onError);
      conn.off('close', onClose);
      conn.off('ready', onReady);
    },
  };
}

/** Remove waiting jobs and tell the workers to stop the active ones. */
export async function stopJobs(
  q: Queue,
  conn: Redis,
  target: QueueTarget,
  ids: readonly string[],
): Promise<void> {
  await Promise.all(ids.map((id) => q.remove(id).catch(() => 0)));
  for (let i = 0; i < ids.length; i += 1000) {
    await conn.publish(keys.cancel(target.name), JSON.stringify(ids.slice(i, i + 1000)));
  }
}

/** Wait for `p` at most `ms` (closing connections to a Redis that is gone would hang). */
export async function withTimeout(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    p.then(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}
