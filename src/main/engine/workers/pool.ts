/**
 * A small pool of worker_threads for independent, CPU-heavy jobs (training zoo members). The wasm
 * backend is single-threaded in Node, so parallelism comes from one backend per worker. Workers
 * are TypeScript files: they start with tsx's loader so that `node bin/d2nwg.mjs`, vitest and the
 * engine host can all spawn them from the sources without a build step.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, type Transferable } from 'node:worker_threads';
import { currentBackend } from '../backend.ts';
import { CancelledError, InputError, NumericError } from '../errors.ts';
import {
  isWorkerToParent,
  type JobRequest,
  type PoolWorkerData,
  type WorkerErrorInfo,
} from './protocol.ts';

/** Options of one job. */
export interface RunJobOptions {
  /** Called with every message the worker posts for this job (progress, logs). */
  readonly onMessage?: (data: unknown) => void;
  /** Aborting it terminates the worker running the job (or drops it from the queue). */
  readonly signal?: AbortSignal;
  /** Buffers moved to the worker instead of copied; they become unusable here. */
  readonly transfer?: readonly Transferable[];
}

export interface WorkerPoolOptions {
  /** Passed to every worker as workerData.shared (structured clone). */
  readonly shared?: unknown;
  /** Tensor backend for the workers; default: the parent's current backend. */
  readonly backend?: string;
  /**
   * Idle workers do not keep the process alive (a long-lived shared pool): a worker is ref'd
   * while it runs a job and unref'd when it has none.
   */
  readonly unrefIdle?: boolean;
}

interface PendingJob {
  readonly id: number;
  readonly payload: unknown;
  readonly opts: RunJobOptions;
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: unknown) => void;
  readonly onAbort: () => void;
}

interface Slot {
  readonly worker: Worker;
  job: PendingJob | null;
}

/** Node flags that are safe (and useful) to pass on to worker threads. */
const SAFE_FLAGS = [
  '--enable-source-maps',
  '--no-warnings',
  '--no-deprecation',
  '--expose-gc',
  '--trace-uncaught',
  '--trace-warnings',
];

function inheritedExecArgv(): string[] {
  return process.execArgv.filter(
    (a) => SAFE_FLAGS.includes(a) || a.startsWith('--conditions=') || a.startsWith('--stack-size='),
  );
}

/**
 * A tiny ES-module bootstrap that registers tsx in the worker and then imports the TypeScript
 * worker file. Node 20 ignores `--import tsx` for a Worker's entry module, so the hooks must be
 * registered from inside the thread before the .ts file is imported (as bin/d2nwg.mjs does).
 */
function tsBootstrapUrl(workerFile: URL): URL {
  const require = createRequire(import.meta.url);
  const pkgPath = require.resolve('tsx/package.json');
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as {
    exports?: Record<string, { import?: { default?: string } } | string>;
  };
  const entry = pkg.exports?.['./esm/api'];
  const rel = typeof entry === 'object' ? entry.import?.default : undefined;
  if (!rel) throw new Error(`cannot find tsx's ESM API in ${pkgPath}`);
  const api = pathToFileURL(path.join(path.dirname(pkgPath), rel)).href;
  const code = [
    `const { register } = await import(${JSON.stringify(api)});`,
    'register();',
    `await import(${JSON.stringify(workerFile.href)});`,
  ].join('\n');
  return new URL(`data:text/javascript,${encodeURIComponent(code)}`);
}

/** Rebuild an engine error from what a worker reported, keeping its class for exit codes. */
export function errorFromWorker(info: WorkerErrorInfo): Error {
  let err: Error;
  if (info.name === 'InputError') err = new InputError(info.message);
  else if (info.name === 'CancelledError') err = new CancelledError(info.message);
  else if (info.name === 'NumericError' && info.stage !== undefined && info.step !== undefined) {
    err = new NumericError(info.stage, info.step, '');
    err.message = info.message;
  } else {
    err = new Error(info.message);
    if (info.name !== 'Error') err.name = info.name;
  }
  if (info.stack) err.stack = info.stack;
  return err;
}

/**
 * Runs jobs on up to `size` worker threads, FIFO. Workers start lazily and are replaced after a
 * crash or a cancellation. A job that throws in its worker rejects with the worker's message and
 * error class; the pool stays usable.
 */
export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly queue: PendingJob[] = [];
  private nextId = 1;
  private closed = false;
  private readonly execArgv: string[];
  private readonly entry: URL;
  private readonly workerData: PoolWorkerData;
  private readonly unrefIdle: boolean;

  constructor(
    /** The worker module (.ts files are loaded through tsx). */
    workerFile: URL,
    /** Maximum number of threads. */
    readonly size: number,
    options: WorkerPoolOptions = {},
  ) {
    if (!Number.isInteger(size) || size < 1) {
      throw new InputError(`the worker count must be a positive integer, got ${size}`, 'workers');
    }
    const isTs = /\.[mc]?ts$/.test(workerFile.pathname);
    this.entry = isTs ? tsBootstrapUrl(workerFile) : workerFile;
    this.execArgv = inheritedExecArgv();
    this.workerData = {
      backend: options.backend ?? currentBackend()?.name ?? null,
      shared: options.shared,
    };
    this.unrefIdle = options.unrefIdle ?? false;
  }

  /** Number of threads currently alive. */
  get threads(): number {
    return this.slots.length;
  }

  /**
   * Queue a job; resolves with the worker's result. The second argument is the options, or just
   * an onMessage callback.
   */
  run<TIn, TOut>(job: TIn, options: RunJobOptions | ((data: unknown) => void) = {}): Promise<TOut> {
    const opts: RunJobOptions = typeof options === 'function' ? { onMessage: options } : options;
    if (this.closed) return Promise.reject(new Error('the worker pool is closed'));
    if (opts.signal?.aborted) return Promise.reject(new CancelledError());
    return new Promise<TOut>((resolve, reject) => {
      const id = this.nextId++;
      const pending: PendingJob = {
        id,
        payload: job,
        opts,
        resolve: (v) => resolve(v as TOut),
        reject,
        onAbort: () => this.abortJob(id),
      };
      opts.signal?.addEventListener('abort', pending.onAbort, { once: true });
      this.queue.push(pending);
      this.pump();
    });
  }

  /**
   * Start `count` workers now (at most the pool's size) instead of at their first job, so their
   * start-up (tsx, the tensor backend: ~1 s each) overlaps the caller's own preparation.
   */
  warm(count = this.size): void {
    while (!this.closed && this.slots.length < Math.min(count, this.size)) this.spawn();
  }

  /** Terminate every worker and reject queued and running jobs. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = new CancelledError('the worker pool was closed');
    for (const job of this.queue.splice(0)) this.settle(job, err);
    const slots = this.slots.splice(0);
    for (const s of slots) if (s.job) this.settle(s.job, err);
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  private settle(job: PendingJob, error: unknown, value?: unknown): void {
    job.opts.signal?.removeEventListener('abort', job.onAbort);
    if (error !== undefined) job.reject(error);
    else job.resolve(value);
  }

  private abortJob(id: number): void {
    const qi = this.queue.findIndex((j) => j.id === id);
    if (qi >= 0) {
      const [job] = this.queue.splice(qi, 1);
      this.settle(job, new CancelledError());
      return;
    }
    const slot = this.slots.find((s) => s.job?.id === id);
    if (slot?.job) {
      const job = slot.job;
      slot.job = null;
      this.removeSlot(slot);
      void slot.worker.terminate();
      this.settle(job, new CancelledError());
      this.pump();
    }
  }

  private removeSlot(slot: Slot): void {
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
  }

  private spawn(): Slot {
    const worker = new Worker(this.entry, {
      execArgv: this.execArgv,
      workerData: this.workerData,
    });
    const slot: Slot = { worker, job: null };
    if (this.unrefIdle) worker.unref();
    worker.on('message', (msg: unknown) => this.onMessage(slot, msg));
    worker.on('error', (err: Error) => this.onCrash(slot, err));
    worker.on('exit', (code) => {
      if (this.slots.includes(slot)) {
        this.onCrash(slot, new Error(`worker thread exited with code ${code}`));
      }
    });
    this.slots.push(slot);
    return slot;
  }

  private onCrash(slot: Slot, err: Error): void {
    if (!this.slots.includes(slot)) return;
    this.removeSlot(slot);
    void slot.worker.terminate();
    const job = slot.job;
    slot.job = null;
    if (job) this.settle(job, err);
    this.pump();
  }

  private onMessage(slot: Slot, msg: unknown): void {
    const job = slot.job;
    if (!isWorkerToParent(msg) || !job || msg.id !== job.id) return;
    if (msg.type === 'message') {
      job.opts.onMessage?.(msg.data);
      return;
    }
    slot.job = null;
    if (this.unrefIdle) slot.worker.unref();
    if (msg.type === 'result') this.settle(job, undefined, msg.data);
    else this.settle(job, errorFromWorker(msg.error));
    this.pump();
  }

  private pump(): void {
    if (this.closed) return;
    while (this.queue.length > 0) {
      let slot = this.slots.find((s) => s.job === null);
      if (!slot) {
        if (this.slots.length >= this.size) return;
        slot = this.spawn();
      }
      const job = this.queue.shift();
      if (!job) return;
      slot.job = job;
      if (this.unrefIdle) slot.worker.ref();
      const req: JobRequest = { type: 'job', id: job.id, payload: job.payload };
      try {
        slot.worker.postMessage(req, job.opts.transfer ? [...job.opts.transfer] : undefined);
      } catch (err) {
        slot.job = null;
        this.settle(job, err);
      }
    }
  }
}
