/**
 * The graph executor: runs a validated pipeline node by node in topological order on one thread,
 * caches node outputs by content hash, isolates failures to what lies downstream, honours an
 * AbortSignal, and turns node progress into throttled, typed events. It knows no node type: all
 * it uses of a node is its spec (ports, cacheable, version, config schema) and its runner.
 */
import { randomUUID } from 'node:crypto';
import type {
  NodeErrorKind,
  NodeSummary,
  RunEvent,
  RunEventListener,
} from '../../shared/events.ts';
import type { NodeResultStatus, RunOutcome } from '../../shared/runs.ts';
import type { NodeRegistry } from '../../shared/nodes/spec.ts';
import { validatePipeline } from '../../shared/nodes/validate.ts';
import type { Pipeline } from '../../shared/pipeline.ts';
import { currentBackend } from '../engine/backend.ts';
import { CancelledError, InputError, NumericError } from '../engine/errors.ts';
import type { Progress } from '../engine/progress.ts';
import { Rng } from '../engine/rng.ts';
import { unrestrictedPolicy, type PathPolicy } from '../paths/policy.ts';
import { cacheKey, disposeOutputs, MemoryNodeCache, type NodeCache } from './cache.ts';
import { PipelineInvalidError } from './errors.ts';
import type { NodeContext, NodeRunner, PortValueBase } from './types.ts';
import { errorMessage } from '../../shared/errors.ts';

export { PipelineInvalidError } from './errors.ts';

/** Default minimum gap between two progress events of one node. */
export const PROGRESS_INTERVAL_MS = 100;

/** Per-node outcome of a run. */
export interface NodeRunRecord {
  readonly nodeId: string;
  readonly type: string;
  status: NodeResultStatus;
  /** Cache key (content hash) of the node's outputs. */
  cacheKey?: string;
  /** Summary from the node (or the cache). */
  summary?: NodeSummary;
  /** Error message when failed. */
  error?: string;
  /** Error kind when failed. */
  errorKind?: NodeErrorKind;
  /** Seconds the node ran (0 for cache hits). */
  durationS?: number;
}

/** Outcome of a run. */
export interface RunResult {
  readonly runId: string;
  readonly status: RunOutcome;
  readonly durationS: number;
  /** Node ids in execution order. */
  readonly order: readonly string[];
  /** Per node, keyed by node id. */
  readonly nodes: ReadonlyMap<string, NodeRunRecord>;
}

/** Arguments of runPipeline. */
export interface RunPipelineArgs<V extends PortValueBase> {
  /** A parsed and migrated pipeline; it is validated again here. */
  readonly pipeline: Pipeline;
  readonly registry: NodeRegistry;
  /** Run function per node type id. A node whose type has none fails (kind 'internal'). */
  readonly runners: Readonly<Record<string, NodeRunner<V> | undefined>>;
  /** Seed of the run; every node derives its stream from it. */
  readonly seed: number;
  /** Abort to cancel: the running node is asked to stop, no further node starts. */
  readonly signal?: AbortSignal;
  /** Receives every event, synchronously, in order. */
  readonly onEvent?: RunEventListener;
  /** Output cache shared across runs; default: a fresh in-memory one, dropped after the run. */
  readonly cache?: NodeCache<V>;
  /** Id of the run (e.g. the store's); default: a random UUID. */
  readonly runId?: string;
  /** Folder relative paths are resolved against. */
  readonly dataDir: string;
  /** File access of the nodes; default: unrestricted (the CLI, the user's own machine). */
  readonly paths?: PathPolicy;
  /** Backend name for runStart; default: the initialised tfjs backend. */
  readonly backend?: string;
  /** Minimum milliseconds between progress events of one node (default 100). */
  readonly progressIntervalMs?: number;
  /** Clock in milliseconds, injectable for tests. */
  readonly now?: () => number;
}

function errorKind(err: unknown): NodeErrorKind {
  if (err instanceof InputError) return 'input';
  if (err instanceof NumericError) return 'numeric';
  return 'internal';
}

/**
 * Run a pipeline to the end (or to cancellation). Throws PipelineInvalidError before anything runs
 * if validation fails; otherwise node failures are reported as events and in the result, never
 * thrown. The returned status is 'failed' if any node failed.
 */
export async function runPipeline<V extends PortValueBase>(
  args: RunPipelineArgs<V>,
): Promise<RunResult> {
  const now = args.now ?? (() => performance.now());
  const interval = args.progressIntervalMs ?? PROGRESS_INTERVAL_MS;
  const paths = args.paths ?? unrestrictedPolicy(args.dataDir);
  const t0 = now();
  const { pipeline, registry } = args;
  const validation = validatePipeline(pipeline, registry);
  if (!validation.ok) throw new PipelineInvalidError(validation.problems, pipeline.name);

  const runId = args.runId ?? randomUUID();
  const signal = args.signal ?? new AbortController().signal;
  const emit = (e: RunEvent): void => args.onEvent?.(e);
  const ownCache = args.cache === undefined;
  const cache: NodeCache<V> = args.cache ?? new MemoryNodeCache<V>();
  const nodesById = new Map(pipeline.nodes.map((n) => [n.id, n]));
  const order = validation.order;
  const records = new Map<string, NodeRunRecord>();
  for (const id of order) {
    const n = nodesById.get(id);
    records.set(id, { nodeId: id, type: n ? n.type : '?', status: 'pending' });
  }
  const outputs = new Map<string, Readonly<Record<string, V>>>();
  const keys = new Map<string, string>();
  const usedKeys = new Set<string>();
  /** Outputs this run owns (not handed to the cache), disposed at the end. */
  const owned: Readonly<Record<string, V>>[] = [];
  let cancelled = false;

  emit({
    type: 'runStart',
    runId,
    pipeline: pipeline.name,
    nodeIds: order,
    seed: args.seed,
    backend: args.backend ?? currentBackend()?.name ?? 'unknown',
  });

  try {
    for (const nodeId of order) {
      const node = nodesById.get(nodeId);
      const spec = node ? registry.get(node.type) : undefined;
      const record = records.get(nodeId);
      if (!node || !spec || !record) continue; // validation guarantees these
      if (signal.aborted) {
        cancelled = true;
        break;
      }
      const inEdges = pipeline.edges.filter((e) => e.target === nodeId);
      const blocker = inEdges.find((e) => {
        const s = records.get(e.source)?.status;
        return s === 'failed' || s === 'skipped';
      });
      if (blocker) {
        const upstream = records.get(blocker.source);
        record.status = 'skipped';
        emit({
          type: 'nodeSkipped',
          runId,
          nodeId,
          reason: `upstream node '${blocker.source}' ${upstream?.status === 'failed' ? 'failed' : 'was skipped'}`,
        });
        continue;
      }

      const inputs: Record<string, V[]> = {};
      const inputKeys: Record<string, string[]> = {};
      for (const port of spec.inputs) {
        inputs[port.id] = [];
        inputKeys[port.id] = [];
      }
      for (const e of inEdges) {
        const value = outputs.get(e.source)?.[e.sourcePort];
        if (value === undefined) continue; // a node without that output (e.g. failed) is skipped above
        inputs[e.targetPort].push(value);
        inputKeys[e.targetPort].push(`${keys.get(e.source) ?? ''}/${e.sourcePort}`);
      }
      const config = validation.configs.get(nodeId);
      const key = cacheKey({
        type: spec.type,
        version: spec.version,
        config,
        inputs: inputKeys,
        seed: args.seed,
      });
      keys.set(nodeId, key);
      record.cacheKey = key;

      if (spec.cacheable) {
        let hit: Awaited<ReturnType<NodeCache<V>['get']>>;
        try {
          hit = await cache.get(key);
        } catch (err) {
          // A broken cache costs time, never the run: treat it as a miss.
          hit = undefined;
          emit({
            type: 'log',
            runId,
            level: 'warn',
            nodeId,
            message: `cache lookup failed: ${errorMessage(err)}`,
          });
        }
        if (hit) {
          outputs.set(nodeId, hit.outputs);
          usedKeys.add(key);
          record.status = 'cached';
          record.summary = hit.summary;
          record.durationS = 0;
          emit({ type: 'nodeCached', runId, nodeId, summary: hit.summary });
          continue;
        }
      }

      const runner = args.runners[spec.type];
      if (!runner) {
        fail(record, `no run function is registered for node type '${spec.type}'`, 'internal');
        continue;
      }

      const started = now();
      let lastSent = -Infinity;
      let pending: Progress | null = null;
      const sendProgress = (p: Progress): void => {
        const elapsedS = (now() - started) / 1000;
        const etaS =
          p.value > 0 && p.value < p.max ? (elapsedS * (p.max - p.value)) / p.value : undefined;
        emit({
          type: 'nodeProgress',
          runId,
          nodeId,
          value: p.value,
          max: p.max,
          unit: p.unit,
          ...(p.label !== undefined ? { label: p.label } : {}),
          ...(p.metrics !== undefined ? { metrics: p.metrics } : {}),
          ...(etaS !== undefined ? { etaS } : {}),
        });
      };
      const flush = (): void => {
        if (pending) sendProgress(pending);
        pending = null;
      };
      const ctx: NodeContext = {
        runId,
        nodeId,
        config,
        seed: args.seed,
        rng: new Rng(args.seed).fork(spec.type),
        signal,
        dataDir: args.dataDir,
        paths,
        progress: (p) => {
          const t = now();
          if (t - lastSent >= interval) {
            lastSent = t;
            pending = null;
            sendProgress(p);
          } else {
            pending = p;
          }
        },
        log: (message, level = 'info') => emit({ type: 'log', runId, level, message, nodeId }),
        artifact: (a) => emit({ type: 'artifact', runId, nodeId, ...a }),
      };

      emit({ type: 'nodeStart', runId, nodeId });
      let result: Awaited<ReturnType<NodeRunner<V>>>;
      try {
        result = await runner(ctx, inputs);
      } catch (err) {
        flush();
        if (signal.aborted || err instanceof CancelledError) {
          record.status = 'cancelled';
          cancelled = true;
          break;
        }
        fail(record, errorMessage(err), errorKind(err));
        continue;
      }
      flush();
      const problem = checkOutputs(spec.outputs, result.outputs);
      if (problem) {
        disposeOutputs(result.outputs);
        fail(record, problem, 'internal');
        continue;
      }
      const summary = result.summary ?? {};
      const durationS = (now() - started) / 1000;
      outputs.set(nodeId, result.outputs);
      record.status = 'done';
      record.summary = summary;
      record.durationS = durationS;
      if (spec.cacheable) {
        try {
          await cache.set(key, { outputs: result.outputs, summary });
          usedKeys.add(key);
        } catch (err) {
          owned.push(result.outputs);
          emit({
            type: 'log',
            runId,
            level: 'warn',
            nodeId,
            message: `cache store failed: ${errorMessage(err)}`,
          });
        }
      } else {
        owned.push(result.outputs);
      }
      emit({ type: 'nodeFinish', runId, nodeId, durationS, summary });
      if (signal.aborted) {
        cancelled = true;
        break;
      }
    }
  } finally {
    for (const o of owned) disposeOutputs(o);
    if (ownCache && cache instanceof MemoryNodeCache) cache.clear();
    else cache.endRun?.(usedKeys);
  }

  if (cancelled) emit({ type: 'runCancelled', runId });
  const failed = [...records.values()].some((r) => r.status === 'failed');
  const status: RunOutcome = cancelled ? 'cancelled' : failed ? 'failed' : 'done';
  const durationS = (now() - t0) / 1000;
  emit({ type: 'runDone', runId, status, durationS });
  return { runId, status, durationS, order, nodes: records };

  function fail(record: NodeRunRecord, message: string, kind: NodeErrorKind): void {
    record.status = 'failed';
    record.error = message;
    record.errorKind = kind;
    emit({ type: 'nodeError', runId, nodeId: record.nodeId, message, kind });
  }
}

function checkOutputs<V extends PortValueBase>(
  declared: readonly { id: string; type: string }[],
  got: Readonly<Record<string, V>>,
): string | null {
  for (const port of declared) {
    const v = got[port.id];
    if (v === undefined) return `node returned no value for output '${port.id}'`;
    if (v.type !== port.type)
      return `node returned a '${v.type}' value for output '${port.id}', which is declared '${port.type}'`;
  }
  const extra = Object.keys(got).filter((k) => !declared.some((p) => p.id === k));
  if (extra.length) return `node returned undeclared outputs: ${extra.join(', ')}`;
  return null;
}
