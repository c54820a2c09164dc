/**
 * Messages between a WorkerPool and its worker threads. Kept in one place so both sides agree on
 * the shapes; structured clone carries them, so only plain data and typed arrays go in.
 */

/** What every pool worker receives as `workerData`. */
export interface PoolWorkerData {
  /** The parent's tensor backend, so every thread computes on the same one. */
  readonly backend: string | null;
  /** Anything the pool's owner passes to all workers (must be structured-cloneable). */
  readonly shared?: unknown;
}

/** Parent → worker: run one job. */
export interface JobRequest {
  readonly type: 'job';
  readonly id: number;
  readonly payload: unknown;
}

/** Worker → parent: a progress or log message for the job's onMessage callback. */
export interface JobMessage {
  readonly type: 'message';
  readonly id: number;
  readonly data: unknown;
}

/** Worker → parent: the job finished. */
export interface JobResult {
  readonly type: 'result';
  readonly id: number;
  readonly data: unknown;
}

/** A serialisable description of an error thrown inside a worker. */
export interface WorkerErrorInfo {
  /** Error class name ('InputError', 'NumericError', 'CancelledError', 'Error'…). */
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  /** NumericError's stage, when name is 'NumericError'. */
  readonly stage?: string;
  /** NumericError's step, when name is 'NumericError'. */
  readonly step?: number;
}

/** Worker → parent: the job failed. */
export interface JobFailure {
  readonly type: 'error';
  readonly id: number;
  readonly error: WorkerErrorInfo;
}

export type WorkerToParent = JobMessage | JobResult | JobFailure;

/** Type guard for messages arriving from a worker. */
export function isWorkerToParent(msg: unknown): msg is WorkerToParent {
  if (typeof msg !== 'object' || msg === null) return false;
  const m = msg as { type?: unknown; id?: unknown };
  return (
    (m.type === 'message' || m.type === 'result' || m.type === 'error') && typeof m.id === 'number'
  );
}

/** Type guard for messages arriving from the pool. */
export function isJobRequest(msg: unknown): msg is JobRequest {
  if (typeof msg !== 'object' || msg === null) return false;
  const m = msg as { type?: unknown; id?: unknown };
  return m.type === 'job' && typeof m.id === 'number';
}
