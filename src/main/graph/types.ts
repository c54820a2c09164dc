/**
 * What the executor and node run functions agree on. The executor is generic over the port value
 * type so that it knows no node type (DESIGN.md convention 5); src/main/nodes/values.ts supplies
 * the real union, tests supply tiny ones.
 */
import type { z } from 'zod';
import type { NodeSummary } from '../../shared/events.ts';
import type { WrittenArtifact } from '../../shared/runs.ts';
import type { NodeSpec, PortType } from '../../shared/nodes/spec.ts';
import type { Progress } from '../engine/progress.ts';
import type { Rng } from '../engine/rng.ts';
import type { PathPolicy } from '../paths/policy.ts';

/**
 * The least a port value must be: tagged with its port type (checked against the spec) and, when
 * it holds tensors or other resources, disposable. Whoever owns a value (the cache, or the run for
 * values that are not cached) calls `dispose` exactly once; consumers never do.
 */
export interface PortValueBase {
  readonly type: PortType;
  /** Free tensors / resources; called once by the owner. Absent for plain data. */
  dispose?(): void;
}

/** Everything a node's run function may use besides its inputs. */
export interface NodeContext<C = unknown> {
  /** The run this node belongs to (for provenance in exports). */
  readonly runId: string;
  /** The pipeline node being run (for messages). */
  readonly nodeId: string;
  /** The node's config, parsed by its spec (defaults filled in). */
  readonly config: C;
  /** The run's seed. */
  readonly seed: number;
  /** A stream derived from the run seed and the node type: same config + seed → same numbers. */
  readonly rng: Rng;
  /** Aborted when the run is cancelled; check between batches and epochs. */
  readonly signal: AbortSignal;
  /** Report progress; the executor throttles and adds an ETA. */
  progress(p: Progress): void;
  /** A log line shown with the node. */
  log(message: string, level?: 'debug' | 'info' | 'warn'): void;
  /** Announce a file written by the node. */
  artifact(a: WrittenArtifact): void;
  /** Folder relative paths in configs are resolved against, and where outputs go. */
  readonly dataDir: string;
  /**
   * What files the node may read and write: every path from a config goes through
   * `checkRead`/`checkWrite` (the API's policy in web mode and the app; unrestricted in the CLI).
   */
  readonly paths: PathPolicy;
}

/** Input values per input port id, in edge order; an unconnected port has an empty list. */
export type NodeInputs<V> = Readonly<Record<string, readonly V[]>>;

/** What a run function returns: one value per output port, and a small JSON summary. */
export interface NodeResult<V> {
  /** Keyed by output port id; every declared output must be present. */
  readonly outputs: Readonly<Record<string, V>>;
  /** Metrics and small facts for events, the store and result tables. */
  readonly summary?: NodeSummary;
}

/** A node type's implementation, as the executor calls it. */
export type NodeRunner<V> = (ctx: NodeContext, inputs: NodeInputs<V>) => Promise<NodeResult<V>>;

/**
 * Bind a typed run function to its spec: the config is re-parsed by the spec's schema (cheap, and
 * it gives the run function its precise config type without casts). A bad config or input fails
 * the returned promise; it never throws synchronously.
 */
export function defineRunner<V, C extends z.ZodType>(
  spec: NodeSpec<C>,
  run: (ctx: NodeContext<z.infer<C>>, inputs: NodeInputs<V>) => Promise<NodeResult<V>>,
): NodeRunner<V> {
  return async (ctx, inputs) => run({ ...ctx, config: spec.config.parse(ctx.config) }, inputs);
}
