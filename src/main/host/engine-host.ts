/**
 * The engine host, main side: runs each pipeline in its own worker thread (DESIGN.md convention
 * 10: training never runs on the Electron main thread or the server's event loop). It guarantees
 * every submitted run ends with exactly one `runDone`, even when the worker crashes, so the
 * store and the UI never wait for a run that is gone.
 */
import { Worker } from 'node:worker_threads';
import type { RunEvent } from '../../shared/events.ts';
import type { RunOutcome } from '../../shared/runs.ts';
import type { FromWorker, HostRunRequest, HostWorkerData, ToWorker } from './protocol.ts';

export interface EngineHostOptions {
  /** Worker script; default: bootstrap.mjs from sources, host-worker.js in the built app. */
  readonly workerUrl?: URL;
  /** Passed to each worker (tests point `entry` at a fake engine). */
  readonly workerData?: HostWorkerData;
  /** The workers' environment (default: a copy of this process's). */
  readonly env?: NodeJS.ProcessEnv;
  /** Runs computing at once; more wait in a queue (2 cores: default 1). */
  readonly maxConcurrent?: number;
  /** After a cancel, how long a worker may take to stop by itself before it is terminated. */
  readonly cancelGraceMs?: number;
}

/** Where the worker script is, for sources (tsx/vitest) and for the electron-vite bundle. */
export function defaultWorkerUrl(): URL {
  const here = import.meta.url;
  const name = /\.ts$/.test(here) ? 'bootstrap.mjs' : 'host-worker.js';
  return new URL(name, here);
}

interface Job {
  readonly request: HostRunRequest;
  readonly onEvent: (event: RunEvent) => void;
  readonly resolve: (status: RunOutcome) => void;
  readonly startedAt: number;
  worker?: Worker;
  /** Detaches this job's listeners from its worker. */
  detach?: () => void;
  cancelled: boolean;
  done: boolean;
  sawCancelled: boolean;
  timer?: ReturnType<typeof setTimeout>;
}

/**
 * Runs pipelines off the main thread with a queue and cancellation. Workers are reused between
 * runs (they keep the executor's cache); a worker that crashed or had to be killed is replaced.
 */
export class EngineHost {
  private readonly queue: Job[] = [];
  /** Jobs holding a worker, by run id (a finished job holds it until the worker says so). */
  private readonly active = new Map<string, Job>();
  private readonly idle: Worker[] = [];
  /**
   * Workers that already carry the listener dropping them from `idle` when they exit. A worker is
   * reused for many runs; adding that listener at every release leaked one per run
   * (MaxListenersExceededWarning after 10 runs).
   */
  private readonly watched = new WeakSet<Worker>();
  private readonly url: URL;
  private readonly maxConcurrent: number;
  private readonly grace: number;
  private disposed = false;

  constructor(private readonly opts: EngineHostOptions = {}) {
    this.url = opts.workerUrl ?? defaultWorkerUrl();
    this.maxConcurrent = Math.max(1, opts.maxConcurrent ?? 1);
    this.grace = opts.cancelGraceMs ?? 5000;
  }

  /**
   * Queue a run. `onEvent` receives every event in order, ending with one `runDone`; the promise
   * resolves with the final status and never rejects.
   */
  submit(request: HostRunRequest, onEvent: (event: RunEvent) => void): Promise<RunOutcome> {
    if (this.disposed) throw new Error('the engine host is shut down');
    if (this.has(request.runId)) throw new Error(`run '${request.runId}' is already in the host`);
    return new Promise<RunOutcome>((resolve) => {
      this.queue.push({
        request,
        onEvent,
        resolve,
        startedAt: Date.now(),
        cancelled: false,
        done: false,
        sawCancelled: false,
      });
      this.pump();
    });
  }

  /** True while the run is queued or computing. */
  has(runId: string): boolean {
    const job = this.active.get(runId);
    return (job !== undefined && !job.done) || this.queue.some((j) => j.request.runId === runId);
  }

  /** Ids of queued and computing runs. */
  runIds(): string[] {
    return [
      ...[...this.active.values()].filter((j) => !j.done).map((j) => j.request.runId),
      ...this.queue.map((j) => j.request.runId),
    ];
  }

  /** Cancel a queued or running run; false when the host does not know it. */
  cancel(runId: string): boolean {
    const qi = this.queue.findIndex((j) => j.request.runId === runId);
    if (qi >= 0) {
      const [job] = this.queue.splice(qi, 1);
      job.cancelled = true;
      this.finish(job, 'cancelled');
      return true;
    }
    const job = this.active.get(runId);
    if (!job || job.done) return false;
    if (job.cancelled) return true;
    job.cancelled = true;
    job.worker?.postMessage({ type: 'cancel' } satisfies ToWorker);
    const worker = job.worker;
    job.timer = setTimeout(() => void worker?.terminate(), this.grace);
    return true;
  }

  /** Cancel everything and stop every worker. */
  async dispose(): Promise<void> {
    this.disposed = true;
    for (const id of this.runIds()) this.cancel(id);
    const workers = [...this.idle, ...[...this.active.values()].flatMap((j) => j.worker ?? [])];
    this.idle.length = 0;
    await Promise.all(workers.map((w) => w.terminate().catch(() => undefined)));
  }

  private pump(): void {
    while (!this.disposed && this.active.size < this.maxConcurrent && this.queue.length > 0) {
      const job = this.queue.shift();
      if (job) this.launch(job);
    }
  }

  private launch(job: Job): void {
    this.active.set(job.request.runId, job);
    let worker: Worker;
    try {
      worker =
        this.idle.pop() ??
        new Worker(this.url, {
          workerData: this.opts.workerData ?? {},
          ...(this.opts.env ? { env: this.opts.env } : {}),
        });
    } catch (err) {
      this.crash(job, `engine host could not start: ${String(err)}`);
      this.release(job, null);
      return;
    }
    job.worker = worker;
    let crashMessage: string | null = null;
    const onMessage = (msg: FromWorker) => {
      if (msg.type === 'event') {
        if (job.done) return;
        if (msg.event.type === 'runCancelled') job.sawCancelled = true;
        job.onEvent(msg.event);
        if (msg.event.type === 'runDone') this.settle(job, msg.event.status);
        return;
      }
      // 'finished' or 'failed': the worker is free again.
      if (!job.done) {
        this.crash(
          job,
          msg.type === 'failed' ? msg.message : 'the engine finished without reporting an outcome',
        );
      }
      this.release(job, worker);
    };
    const onError = (err: Error) => {
      crashMessage = `engine host crashed: ${err.message}`;
    };
    const onExit = (code: number) => {
      if (!job.done) {
        if (job.cancelled && crashMessage === null) this.finish(job, 'cancelled');
        else this.crash(job, crashMessage ?? `engine host exited with code ${code}`);
      }
      this.release(job, null);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    job.detach = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    worker.postMessage({ type: 'run', request: job.request } satisfies ToWorker);
  }

  /** Give the worker back (null: it is gone) and start what waits. */
  private release(job: Job, worker: Worker | null): void {
    if (this.active.get(job.request.runId) !== job) return;
    job.detach?.();
    if (job.timer) clearTimeout(job.timer);
    this.active.delete(job.request.runId);
    if (worker) {
      if (this.disposed || job.cancelled) void worker.terminate().catch(() => undefined);
      else {
        if (!this.watched.has(worker)) {
          this.watched.add(worker);
          worker.once('exit', () => {
            const i = this.idle.indexOf(worker);
            if (i >= 0) this.idle.splice(i, 1);
          });
        }
        this.idle.push(worker);
      }
    }
    this.pump();
  }

  /** Synthesise the end of a run the worker could not finish. */
  private crash(job: Job, message: string): void {
    if (job.done) return;
    if (job.cancelled) {
      this.finish(job, 'cancelled');
      return;
    }
    const runId = job.request.runId;
    job.onEvent({ type: 'log', runId, level: 'error', message });
    this.finish(job, 'failed');
  }

  /** Emit the closing events of a run that ended outside the executor. */
  private finish(job: Job, status: RunOutcome): void {
    if (job.done) return;
    const runId = job.request.runId;
    if (status === 'cancelled' && !job.sawCancelled) job.onEvent({ type: 'runCancelled', runId });
    job.onEvent({
      type: 'runDone',
      runId,
      status,
      durationS: (Date.now() - job.startedAt) / 1000,
    });
    this.settle(job, status);
  }

  private settle(job: Job, status: RunOutcome): void {
    if (job.done) return;
    job.done = true;
    job.resolve(status);
  }
}
