/**
 * Messages between the engine host (main side) and its worker thread. Plain structured-clone data;
 * the worker owns tfjs and the executor, the main side owns the store and the transports.
 */
import type { RunEvent } from '../../shared/events.ts';
import type { Pipeline } from '../../shared/pipeline.ts';
import type { PathPolicySpec } from '../paths/policy.ts';

/** What a worker needs to run one pipeline. */
export interface HostRunRequest {
  readonly runId: string;
  readonly pipeline: Pipeline;
  readonly seed: number;
  /** Where artifacts and caches live. */
  readonly dataDir: string;
  /** The API's path policy, as data; nodes check every config path against it. */
  readonly paths: PathPolicySpec;
}

/** Main → worker. */
export type ToWorker =
  { readonly type: 'run'; readonly request: HostRunRequest } | { readonly type: 'cancel' };

/** Worker → main. */
export type FromWorker =
  | { readonly type: 'event'; readonly event: RunEvent }
  | { readonly type: 'finished' }
  | { readonly type: 'failed'; readonly message: string };

/** Data the worker is started with. */
export interface HostWorkerData {
  /** URL of a module exporting `runInHost`; default: the real executor entry. */
  readonly entry?: string;
}

/** The contract of an engine entry module: run the pipeline, emitting events, until done. */
export type RunInHost = (
  request: HostRunRequest,
  onEvent: (event: RunEvent) => void,
  signal: AbortSignal,
) => Promise<void>;
