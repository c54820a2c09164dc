/**
 * The worker-thread side of WorkerPool: initialise this thread's tensor backend once, then run
 * each job the pool sends through a handler and post back its result or its error (with the error
 * class, so an InputError in a worker still means exit code 2 in the CLI).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Transferable } from 'node:worker_threads';
import { initBackend } from '../backend.ts';
import { NumericError } from '../errors.ts';
import {
  isJobRequest,
  type JobFailure,
  type JobMessage,
  type JobResult,
  type PoolWorkerData,
  type WorkerErrorInfo,
} from './protocol.ts';

/** What a job handler gets besides its payload. */
export interface JobContext {
  /** Post a message to the job's onMessage callback in the parent. */
  post(data: unknown, transfer?: readonly Transferable[]): void;
  /** workerData.shared as the pool's owner passed it. */
  readonly shared: unknown;
}

/** A handler's answer: the result and the buffers to move (not copy) back to the parent. */
export interface JobOutput {
  readonly result: unknown;
  readonly transfer?: readonly Transferable[];
}

/** Describe any thrown value in a form that survives postMessage. */
export function describeError(err: unknown): WorkerErrorInfo {
  if (err instanceof NumericError) {
    return {
      name: err.name,
      message: err.message,
      stack: err.stack,
      stage: err.stage,
      step: err.step,
    };
  }
  if (err instanceof Error) return { name: err.name, message: err.message, stack: err.stack };
  return { name: 'Error', message: String(err) };
}

/**
 * Call once at the top level of a worker file. Jobs run one at a time; the backend is the
 * parent's (workerData.backend), so results match a single-threaded run.
 */
export function serveJobs(
  handler: (payload: unknown, ctx: JobContext) => Promise<JobOutput> | JobOutput,
): void {
  const port = parentPort;
  if (!port) throw new Error('serveJobs must run inside a worker thread');
  const data = (workerData ?? { backend: null }) as PoolWorkerData;
  const ready = initBackend({ backend: data.backend ?? undefined, quiet: true });
  port.on('message', (msg: unknown) => {
    if (!isJobRequest(msg)) return;
    const id = msg.id;
    const ctx: JobContext = {
      shared: data.shared,
      post: (d, transfer) => {
        const m: JobMessage = { type: 'message', id, data: d };
        port.postMessage(m, transfer ? [...transfer] : undefined);
      },
    };
    void (async () => {
      try {
        await ready;
        const out = await handler(msg.payload, ctx);
        const m: JobResult = { type: 'result', id, data: out.result };
        port.postMessage(m, out.transfer ? [...out.transfer] : undefined);
      } catch (err) {
        const m: JobFailure = { type: 'error', id, error: describeError(err) };
        port.postMessage(m);
      }
    })();
  });
}
