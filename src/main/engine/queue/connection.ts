/**
 * The Redis side of the zoo queue: the URL setting, connections, key names, and the numbers that
 * decide how fast a dead worker's job is handed to another one. Both ends (the build that adds
 * jobs and `d2nwg worker`) take them from here so they agree.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { InputError } from '../errors.ts';

import { DEFAULT_QUEUE_NAME } from '../zoo/executor.ts';

export { DEFAULT_QUEUE_NAME };

/** How long content-addressed blobs (datasets, results) live in Redis after their last use. */
export const BLOB_TTL_SECONDS = 7 * 24 * 3600;

/** A checked queue setting. */
export interface QueueTarget {
  /** As given, e.g. redis://127.0.0.1:6390; passwords are never printed (see `shown`). */
  readonly url: string;
  /** The URL without credentials, for messages. */
  readonly shown: string;
  /** BullMQ queue name. */
  readonly name: string;
}

/** Parse `redis://[user:pass@]HOST[:PORT][/DB]` (or rediss://); anything else is an InputError. */
export function parseQueueTarget(
  url: string,
  name: string = DEFAULT_QUEUE_NAME,
  where = '--queue',
): QueueTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InputError(`expected redis://HOST:PORT, got '${url}'`, where);
  }
  if ((u.protocol !== 'redis:' && u.protocol !== 'rediss:') || !u.hostname) {
    throw new InputError(`expected redis://HOST:PORT, got '${url}'`, where);
  }
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
    throw new InputError(
      `a queue name is 1–64 letters, digits, '_', '.' or '-', got '${name}'`,
      'queue name',
    );
  }
  const shown = `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  return { url, shown, name };
}

/**
 * A connection BullMQ can use (blocking commands need maxRetriesPerRequest null). Connection
 * errors are left to the caller's 'error' listener; without one ioredis would print them.
 */
export function connectRedis(target: QueueTarget, extra: RedisOptions = {}): Redis {
  const r = new Redis(target.url, {
    maxRetriesPerRequest: null,
    connectTimeout: 5000,
    retryStrategy: (times) => Math.min(200 * times, 2000),
    ...extra,
  });
  r.on('error', () => undefined);
  return r;
}

/** Wait until a connection is ready, or fail with a message naming the URL. */
export async function waitReady(r: Redis, target: QueueTarget, timeoutMs = 10_000): Promise<void> {
  if (r.status === 'ready') return;
  let lastError = '';
  const onError = (e: Error): void => {
    lastError = e.message;
  };
  r.on('error', onError);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `cannot reach the Redis queue at ${target.shown}${lastError ? ` (${lastError})` : ''}; is redis-server running there?`,
            ),
          ),
        timeoutMs,
      );
      r.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  } finally {
    r.off('error', onError);
  }
}

/** Redis keys of the zoo queue's own data (BullMQ keeps its jobs under `bull:<name>:…`). */
export const keys = {
  /** A dataset's member inputs, by content hash. */
  data: (hash: string): string => `d2nwg:data:${hash}`,
  /** A user file a sweep point needs, by the sha256 of its bytes. */
  file: (sha256: string): string => `d2nwg:file:${sha256}`,
  /** A batch job's result, by the hash of the job. */
  result: (hash: string): string => `d2nwg:result:${hash}`,
  /** Pub/sub channel: job ids whose training should stop (JSON array). */
  cancel: (queue: string): string => `d2nwg:cancel:${queue}`,
};

/**
 * How workers hold their jobs: a worker renews its lock every lockMs/2; a job whose lock lapsed
 * (its worker died) goes back to the queue at the next stalled check (every stalledMs), at most
 * maxStalled times. Defaults suit long batches; tests and benches set them small.
 */
export interface LockSettings {
  readonly lockMs: number;
  readonly stalledMs: number;
  readonly maxStalled: number;
}

export const DEFAULT_LOCK: LockSettings = { lockMs: 30_000, stalledMs: 15_000, maxStalled: 3 };

/** Lock settings from D2NWG_QUEUE_LOCK_MS / D2NWG_QUEUE_STALLED_MS, else the defaults. */
export function lockSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): LockSettings {
  const num = (name: string, fallback: number): number => {
    const v = env[name];
    if (v === undefined || v === '') return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 100) {
      throw new InputError(`must be an integer number of milliseconds ≥ 100, got '${v}'`, name);
    }
    return n;
  };
  return {
    lockMs: num('D2NWG_QUEUE_LOCK_MS', DEFAULT_LOCK.lockMs),
    stalledMs: num('D2NWG_QUEUE_STALLED_MS', DEFAULT_LOCK.stalledMs),
    maxStalled: DEFAULT_LOCK.maxStalled,
  };
}
