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
import type { InheritedInput } from '../../shared/nodes/inherit.ts';
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
  const t0 = now();
  const validation = validatePipeline(args.pipeline, args.registry);
  if (!validation.ok) throw new PipelineInvalidError(validation.problems, args.pipeline.name);
  return new PipelineRun(args, validation, now, t0).execute();
}

type Validation = ReturnType<typeof validatePipeline>;
type Outputs<V> = Readonly<Record<string, V>>;
type Edge = Pipeline['edges'][number];
/** After a node: go on with the next one, or stop the run (cancelled). */
type Step = 'next' | 'stop';

/** The state of one run of runPipeline, and its steps in the order they happen. */
class PipelineRun<V extends PortValueBase> {
  private readonly runId: string;
  private readonly signal: AbortSignal;
  private readonly paths: PathPolicy;
  private readonly interval: number;
  private readonly ownCache: boolean;
  private readonly cache: NodeCache<V>;
  private readonly order: readonly string[];
  private readonly nodesById: ReadonlyMap<string, Pipeline['nodes'][number]>;
  private readonly records = new Map<string, NodeRunRecord>();
  private readonly outputs = new Map<string, Outputs<V>>();
  private readonly keys = new Map<string, string>();
  private readonly usedKeys = new Set<string>();
  /** Outputs this run owns (not handed to the cache), disposed at the end. */
  private readonly owned: Outputs<V>[] = [];
  private cancelled = false;

  constructor(
    private readonly args: RunPipelineArgs<V>,
    private readonly validation: Validation,
    private readonly now: () => number,
    private readonly t0: number,
  ) {
    this.runId = args.runId ?? randomUUID();
    this.signal = args.signal ?? new AbortController().signal;
    this.paths = args.paths ?? unrestrictedPolicy(args.dataDir);
    this.interval = args.progressIntervalMs ?? PROGRESS_INTERVAL_MS;
    this.ownCache = args.cache === undefined;
    this.cache = args.cache ?? new MemoryNodeCache<V>();
    this.order = validation.order;
    this.nodesById = new Map(args.pipeline.nodes.map((n) => [n.id, n]));
    for (const id of this.order) {
      const n = this.nodesById.get(id);
      this.records.set(id, { nodeId: id, type: n ? n.type : '?', status: 'pending' });
    }
  }

  private emit(e: RunEvent): void {
    this.args.onEvent?.(e);
  }

  async execute(): Promise<RunResult> {
    this.emit({
      type: 'runStart',
      runId: this.runId,
      pipeline: this.args.pipeline.name,
      nodeIds: this.order,
      seed: this.args.seed,
      backend: this.args.backend ?? currentBackend()?.name ?? 'unknown',
    });
    try {
      for (const nodeId of this.order) {
        if ((await this.runNode(nodeId)) === 'stop') break;
      }
    } finally {
      this.release();
    }
    return this.finish();
  }

  /** One node: skip it, reuse its cached outputs, or run it. */
  private async runNode(nodeId: string): Promise<Step> {
    const node = this.nodesById.get(nodeId);
    const spec = node ? this.args.registry.get(node.type) : undefined;
    const record = this.records.get(nodeId);
    if (!node || !spec || !record) return 'next'; // validation guarantees these
    if (this.signal.aborted) return this.stop();
    const inEdges = this.inEdgesOf(nodeId);
    if (this.skipIfBlocked(record, inEdges)) return 'next';

    const { inputs, inputKeys } = this.gatherInputs(spec.inputs, inEdges);
    const config = this.validation.configs.get(nodeId);
    const key = cacheKey({
      type: spec.type,
      version: spec.version,
      config,
      inputs: inputKeys,
      seed: this.args.seed,
    });
    this.keys.set(nodeId, key);
    record.cacheKey = key;
    if (spec.cacheable && (await this.reuseCached(record, key))) return 'next';

    const runner = this.args.runners[spec.type];
    if (!runner) {
      this.fail(record, `no run function is registered for node type '${spec.type}'`, 'internal');
      return 'next';
    }
    const started = this.now();
    const { ctx, flush } = this.contextFor(nodeId, spec.type, config, started);
    this.emit({ type: 'nodeStart', runId: this.runId, nodeId });
    let result: Awaited<ReturnType<NodeRunner<V>>>;
    try {
      result = await runner(ctx, inputs);
    } catch (err) {
      flush();
      if (this.signal.aborted || err instanceof CancelledError) {
        record.status = 'cancelled';
        return this.stop();
      }
      this.fail(record, errorMessage(err), errorKind(err));
      return 'next';
    }
    flush();
    const problem = checkOutputs(spec.outputs, result.outputs);
    if (problem) {
      disposeOutputs(result.outputs);
      this.fail(record, problem, 'internal');
      return 'next';
    }
    const summary = result.summary ?? {};
    const durationS = (this.now() - started) / 1000;
    this.outputs.set(nodeId, result.outputs);
    record.status = 'done';
    record.summary = summary;
    record.durationS = durationS;
    await this.keepOutputs(nodeId, spec.cacheable, key, result.outputs, summary);
    this.emit({ type: 'nodeFinish', runId: this.runId, nodeId, durationS, summary });
    return this.signal.aborted ? this.stop() : 'next';
  }

  private stop(): Step {
    this.cancelled = true;
    return 'stop';
  }

  /**
   * The edges into a node, with an implied edge for each input it inherits (validate.ts): fed and
   * hashed into the cache key exactly as a wired edge from the same output, so a chain and the
   * fully wired graph compute, and reuse, the same values.
   */
  private inEdgesOf(nodeId: string): Edge[] {
    const wired = this.args.pipeline.edges.filter((e) => e.target === nodeId);
    const inherited = this.validation.inherited.get(nodeId) ?? new Map<string, InheritedInput>();
    const implied = [...inherited].map(([port, from]) => ({
      id: `${from.node}.${from.port}->${nodeId}.${port} (via ${from.via})`,
      source: from.node,
      sourcePort: from.port,
      target: nodeId,
      targetPort: port,
    }));
    return [...wired, ...implied];
  }

  /** Skip a node downstream of a failed or skipped one; true when it was skipped. */
  private skipIfBlocked(record: NodeRunRecord, inEdges: readonly Edge[]): boolean {
    const blocker = inEdges.find((e) => {
      const s = this.records.get(e.source)?.status;
      return s === 'failed' || s === 'skipped';
    });
    if (!blocker) return false;
    const upstream = this.records.get(blocker.source);
    record.status = 'skipped';
    this.emit({
      type: 'nodeSkipped',
      runId: this.runId,
      nodeId: record.nodeId,
      reason: `upstream node '${blocker.source}' ${upstream?.status === 'failed' ? 'failed' : 'was skipped'}`,
    });
    return true;
  }

  /** Input values per port in edge order, and the cache keys of what feeds them. */
  private gatherInputs(
    ports: readonly { readonly id: string }[],
    inEdges: readonly Edge[],
  ): { inputs: Record<string, V[]>; inputKeys: Record<string, string[]> } {
    const inputs: Record<string, V[]> = {};
    const inputKeys: Record<string, string[]> = {};
    for (const port of ports) {
      inputs[port.id] = [];
      inputKeys[port.id] = [];
    }
    for (const e of inEdges) {
      const value = this.outputs.get(e.source)?.[e.sourcePort];
      if (value === undefined) continue; // a node without that output (e.g. failed) is skipped
      inputs[e.targetPort].push(value);
      inputKeys[e.targetPort].push(`${this.keys.get(e.source) ?? ''}/${e.sourcePort}`);
    }
    return { inputs, inputKeys };
  }

  /** Use the cached outputs for `key` if there are any; a broken cache counts as a miss. */
  private async reuseCached(record: NodeRunRecord, key: string): Promise<boolean> {
    const nodeId = record.nodeId;
    let hit: Awaited<ReturnType<NodeCache<V>['get']>>;
    try {
      hit = await this.cache.get(key);
    } catch (err) {
      // A broken cache costs time, never the run: treat it as a miss.
      hit = undefined;
      this.log(nodeId, `cache lookup failed: ${errorMessage(err)}`);
    }
    if (!hit) return false;
    this.outputs.set(nodeId, hit.outputs);
    this.usedKeys.add(key);
    record.status = 'cached';
    record.summary = hit.summary;
    record.durationS = 0;
    this.emit({ type: 'nodeCached', runId: this.runId, nodeId, summary: hit.summary });
    return true;
  }

  /** What a node's run function gets, with progress throttled to one event per interval. */
  private contextFor(
    nodeId: string,
    type: string,
    config: unknown,
    started: number,
  ): { ctx: NodeContext; flush: () => void } {
    const runId = this.runId;
    let lastSent = -Infinity;
    let pending: Progress | null = null;
    const sendProgress = (p: Progress): void => {
      const elapsedS = (this.now() - started) / 1000;
      const etaS =
        p.value > 0 && p.value < p.max ? (elapsedS * (p.max - p.value)) / p.value : undefined;
      this.emit({
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
      seed: this.args.seed,
      rng: new Rng(this.args.seed).fork(type),
      signal: this.signal,
      dataDir: this.args.dataDir,
      paths: this.paths,
      progress: (p) => {
        const t = this.now();
        if (t - lastSent >= this.interval) {
          lastSent = t;
          pending = null;
          sendProgress(p);
        } else {
          pending = p;
        }
      },
      log: (message, level = 'info') => this.emit({ type: 'log', runId, level, message, nodeId }),
      artifact: (a) => this.emit({ type: 'artifact', runId, nodeId, ...a }),
    };
    return { ctx, flush };
  }

  /** Hand new outputs to the cache (cacheable nodes) or keep them for disposal at the end. */
  private async keepOutputs(
    nodeId: string,
    cacheable: boolean,
    key: string,
    outputs: Outputs<V>,
    summary: NodeSummary,
  ): Promise<void> {
    if (!cacheable) {
      this.owned.push(outputs);
      return;
    }
    try {
      await this.cache.set(key, { outputs, summary });
      this.usedKeys.add(key);
    } catch (err) {
      this.owned.push(outputs);
      this.log(nodeId, `cache store failed: ${errorMessage(err)}`);
    }
  }

  private log(nodeId: string, message: string): void {
    this.emit({ type: 'log', runId: this.runId, level: 'warn', nodeId, message });
  }

  private fail(record: NodeRunRecord, message: string, kind: NodeErrorKind): void {
    record.status = 'failed';
    record.error = message;
    record.errorKind = kind;
    this.emit({ type: 'nodeError', runId: this.runId, nodeId: record.nodeId, message, kind });
  }

  /** Dispose what the run owns; let the cache drop what this run did not use. */
  private release(): void {
    for (const o of this.owned) disposeOutputs(o);
    if (this.ownCache && this.cache instanceof MemoryNodeCache) this.cache.clear();
    else this.cache.endRun?.(this.usedKeys);
  }

  /** The run's outcome: runCancelled if cancelled, then runDone, and the result. */
  private finish(): RunResult {
    const runId = this.runId;
    if (this.cancelled) this.emit({ type: 'runCancelled', runId });
    const failed = [...this.records.values()].some((r) => r.status === 'failed');
    const status: RunOutcome = this.cancelled ? 'cancelled' : failed ? 'failed' : 'done';
    const durationS = (this.now() - this.t0) / 1000;
    this.emit({ type: 'runDone', runId, status, durationS });
    return { runId, status, durationS, order: this.order, nodes: this.records };
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
