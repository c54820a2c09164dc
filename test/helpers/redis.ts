/**
 * A real Redis for the queue tests (BullMQ's Lua scripts cannot be mocked). D2NWG_TEST_REDIS
 * (.ci/run exports it) names one to use; otherwise a private `redis-server` is started on a free
 * port when the binary is installed. Without either, the queue tests skip and say why, except
 * under CI (CI or D2NWG_TEST_REDIS set), where a missing Redis is a failure.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { Redis } from 'ioredis';
import { currentBackend } from '../../src/main/engine/backend.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** A Redis the tests may use, and how to let it go. */
export interface TestRedis {
  readonly url: string;
  readonly port: number;
  /** Stops the server if the helper started it. */
  stop(): Promise<void>;
}

export function haveRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Why the queue tests cannot run here, or null when they can. Throws where they must run. */
export function queueTestsSkipReason(): string | null {
  if (process.env.D2NWG_TEST_REDIS || haveRedisServer()) return null;
  if (process.env.CI) {
    throw new Error(
      'CI must run the queue tests: install redis-server (.ci/run does) or set D2NWG_TEST_REDIS',
    );
  }
  return 'no Redis: install redis-server (apt-get install redis-server) or set D2NWG_TEST_REDIS=redis://HOST:PORT';
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() - t0 > timeoutMs) throw new Error(`redis-server did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Start a private, non-persistent redis-server (port: a free one unless given). */
export async function startRedisServer(port?: number): Promise<TestRedis & { kill(): void }> {
  const p = port ?? (await freePort());
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  await waitForPort(p);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    url: `redis://127.0.0.1:${p}`,
    port: p,
    kill: () => void child.kill('SIGKILL'),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The Redis for a test file: D2NWG_TEST_REDIS, else a private server. */
export async function testRedis(): Promise<TestRedis> {
  const url = process.env.D2NWG_TEST_REDIS;
  if (url) {
    const port = Number(new URL(url).port || 6379);
    return { url, port, stop: async () => undefined };
  }
  return startRedisServer();
}

/** Lock settings that make a dead worker's job move on within ~3 s. */
const FAST_LOCK = { D2NWG_QUEUE_LOCK_MS: '2000', D2NWG_QUEUE_STALLED_MS: '1000' };

/** A `d2nwg worker` process the test started. */
export interface CliWorker {
  readonly child: ChildProcess;
  /** Everything it printed so far. */
  out(): string;
  /** Resolves once its output matches. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<void>;
}

/** Start `d2nwg worker` on the queue, with fast lock settings, on this process's backend. */
export function spawnWorker(url: string, queueName: string): CliWorker {
  const child = spawn(
    process.execPath,
    [
      path.join(ROOT, 'bin', 'd2nwg.mjs'),
      'worker',
      '--queue',
      url,
      '--queue-name',
      queueName,
      '--backend',
      currentBackend()?.name ?? 'wasm',
    ],
    { cwd: ROOT, env: { ...process.env, ...FAST_LOCK }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let text = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer): void => {
    text += d.toString('utf8');
    for (const l of listeners) l();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  return {
    child,
    out: () => text,
    waitFor: (re, timeoutMs = 60_000) =>
      new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (re.test(text)) {
            listeners.delete(check);
            clearTimeout(timer);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`worker output never matched ${re}:\n${text}`));
        }, timeoutMs);
        listeners.add(check);
        check();
      }),
  };
}

/** SIGTERM a worker and wait for it to exit. */
export function stopWorker(w: CliWorker): Promise<void> {
  if (w.child.exitCode !== null || w.child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    w.child.once('exit', () => resolve());
    w.child.kill('SIGTERM');
  });
}

/** Stop a test's workers, delete its queue's keys, and let its Redis go. */
export async function endQueueTest(
  redis: TestRedis,
  queueName: string,
  workers: readonly CliWorker[],
): Promise<void> {
  await Promise.all(workers.map(stopWorker));
  const r = new Redis(redis.url);
  const stale = await r.keys(`bull:${queueName}:*`);
  if (stale.length > 0) await r.del(...stale);
  r.disconnect();
  await redis.stop();
}
