/**
 * Events of one pipeline run, as the executor emits them. Every front door listens to the same
 * stream: the CLI draws progress bars from it, the app colours nodes and plots curves, the store
 * records it, tests assert on it. Pure data (JSON-safe), so it crosses IPC and WebSockets as is.
 */
import type { RunOutcome, WrittenArtifact } from './runs.ts';

/** A JSON value, for node summaries that go to the store and over IPC unchanged. */
export type JsonValue =
  string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** Small result of a finished node: headline metrics plus a few descriptive fields. */
export interface NodeSummary {
  /** Scalar metrics (accuracy, loss, counts…), recorded per node in the store. */
  readonly metrics?: Readonly<Record<string, number>>;
  /** Anything else small and JSON-safe (shapes, names, per-epoch tables). */
  readonly [key: string]: JsonValue | Readonly<Record<string, number>> | undefined;
}

/** Why a node failed: bad user input (fix the config/data), NaN/Inf in training, or a bug. */
export type NodeErrorKind = 'input' | 'numeric' | 'internal';

/** The run began; lists the nodes that will be considered, in execution order. */
export interface RunStartEvent {
  readonly type: 'runStart';
  readonly runId: string;
  /** The pipeline's name. */
  readonly pipeline: string;
  /** Node ids in topological (execution) order. */
  readonly nodeIds: readonly string[];
  /** Seed of the run; with the config it fixes every number. */
  readonly seed: number;
  /** Tensor backend in use (wasm, cpu, tensorflow…). */
  readonly backend: string;
}

/** A node started computing (not emitted for cache hits). */
export interface NodeStartEvent {
  readonly type: 'nodeStart';
  readonly runId: string;
  readonly nodeId: string;
}

/** Progress of a running node; throttled to about one per 100 ms per node, the last always sent. */
export interface NodeProgressEvent {
  readonly type: 'nodeProgress';
  readonly runId: string;
  readonly nodeId: string;
  /** Work done, in `unit`s. */
  readonly value: number;
  /** Total work, in `unit`s. */
  readonly max: number;
  /** What is counted: 'epoch', 'step', 'member'… */
  readonly unit: string;
  /** Sub-stage, e.g. 'zoo member 3/20'. */
  readonly label?: string;
  /** Latest scalar metrics, for live curves. */
  readonly metrics?: Readonly<Record<string, number>>;
  /** Estimated seconds left for this node, when it can be guessed. */
  readonly etaS?: number;
}

/** A node's outputs were reused from the cache; it did not run. */
export interface NodeCachedEvent {
  readonly type: 'nodeCached';
  readonly runId: string;
  readonly nodeId: string;
  /** The summary recorded when the cached outputs were computed, if known. */
  readonly summary?: NodeSummary;
}

/** A node finished successfully. */
export interface NodeFinishEvent {
  readonly type: 'nodeFinish';
  readonly runId: string;
  readonly nodeId: string;
  /** Wall-clock seconds the node ran. */
  readonly durationS: number;
  /** Small JSON result: metrics and descriptive fields. */
  readonly summary: NodeSummary;
}

/** A node failed; everything downstream of it will be skipped. */
export interface NodeErrorEvent {
  readonly type: 'nodeError';
  readonly runId: string;
  readonly nodeId: string;
  /** What went wrong, meant for the user. */
  readonly message: string;
  readonly kind: NodeErrorKind;
}

/** A node did not run, because an upstream node failed or was skipped. */
export interface NodeSkippedEvent {
  readonly type: 'nodeSkipped';
  readonly runId: string;
  readonly nodeId: string;
  /** E.g. "upstream node 'vae' failed". */
  readonly reason: string;
}

/** The run was cancelled (AbortSignal); no further node starts. Followed by runDone. */
export interface RunCancelledEvent {
  readonly type: 'runCancelled';
  readonly runId: string;
}

/** The run ended; always the last event. */
export interface RunDoneEvent {
  readonly type: 'runDone';
  readonly runId: string;
  readonly status: RunOutcome;
  /** Wall-clock seconds of the whole run. */
  readonly durationS: number;
}

/** A node wrote a file the user may want (an export, a saved model); the store records it. */
export interface ArtifactEvent extends WrittenArtifact {
  readonly type: 'artifact';
  readonly runId: string;
  readonly nodeId: string;
}

/** A log line from the executor or a node. */
export interface LogEvent {
  readonly type: 'log';
  readonly runId: string;
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly message: string;
  /** The node that logged it, if any. */
  readonly nodeId?: string;
}

/** Every event a run emits, discriminated by `type`. */
export type RunEvent =
  | RunStartEvent
  | NodeStartEvent
  | NodeProgressEvent
  | NodeCachedEvent
  | NodeFinishEvent
  | NodeErrorEvent
  | NodeSkippedEvent
  | RunCancelledEvent
  | RunDoneEvent
  | ArtifactEvent
  | LogEvent;

/** The event type tags, for exhaustive switches and IPC filters. */
export type RunEventType = RunEvent['type'];

/** Listener the executor calls for each event, synchronously and in order. */
export type RunEventListener = (event: RunEvent) => void;
