/**
 * Turns the executor's run events (src/shared/events.ts) into store rows, so the executor stays
 * ignorant of the database and any front door (CLI, app, server) records runs the same way:
 *
 * ```ts
 * const recorder = new RunRecorder({ store, config: pipeline });
 * await runPipeline({ ..., runId, onEvent: recorder.listener });
 * ```
 *
 * Mapping: runStart → run row 'running' + a 'queued' row per node; nodeStart/nodeCached/
 * nodeFinish/nodeError/nodeSkipped → node rows; nodeProgress metrics → metric points at
 * step = round(progress value), keyed `<label>:<key>` when the progress has a label;
 * nodeFinish/nodeCached summary.metrics → metric points, where a key `name@N` is stored as key
 * `name` at step N (e.g. `accuracy/d2nwg@1` = accuracy of method d2nwg after 1 fine-tuning
 * epoch) and a plain key at step 0; a run-level error log → the run's error; artifact events naming a single file → the file is copied
 * into the blob store (its `meta`, when the event carries one, is kept); runDone → final status.
 *
 * Recording never breaks a run: a store failure is passed to `onError` and the run goes on.
 */
import fs from 'node:fs';
import { z } from 'zod';
import type { NodeSummary, RunEvent, RunEventListener } from '../../shared/events.ts';
import type { MetricInput } from './metrics.ts';
import type { Store } from './store.ts';

export interface RunRecorderArgs {
  /** Where to record. */
  readonly store: Store;
  /** Snapshot kept as the run's config: the pipeline JSON as executed. */
  readonly config: unknown;
  /** Saved pipeline the run came from, if any. */
  readonly pipelineId?: string | null;
  /** Provenance: app, tfjs, node spec versions. */
  readonly versions?: Readonly<Record<string, unknown>>;
  /** Node id → type id for node rows; default: read from `config.nodes[]` when it is a pipeline. */
  readonly nodeTypes?: Readonly<Record<string, string>>;
  /** Copy files announced by artifact events into the blob store (default true). */
  readonly storeArtifactFiles?: boolean;
  /** Told about recording failures; default: one line on stderr. */
  readonly onError?: (err: Error, event: RunEvent) => void;
}

const PipelineNodesSchema = z.object({
  nodes: z.array(z.object({ id: z.string(), type: z.string() })),
});

const STEP_KEY = /^(.+)@(-?\d+)$/;

/** Metric points from a node summary's `metrics` record (`name@N` → key name, step N). */
export function summaryMetrics(summary: NodeSummary | undefined): MetricInput[] {
  const out: MetricInput[] = [];
  for (const [k, v] of Object.entries(summary?.metrics ?? {})) {
    if (typeof v !== 'number') continue;
    const m = STEP_KEY.exec(k);
    out.push(m ? { key: m[1], step: Number(m[2]), value: v } : { key: k, step: 0, value: v });
  }
  return out;
}

function errorOf(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** Records one run's events into the store; see the module comment for the mapping. */
export class RunRecorder {
  /** Pass this as the executor's `onEvent`. */
  readonly listener: RunEventListener;
  /** The run being recorded, once runStart was seen. */
  runId: string | null = null;
  /** Failures so far (also given to onError). */
  readonly errors: Error[] = [];
  private readonly nodeTypes: Map<string, string>;
  private firstFailure: string | null = null;

  constructor(private readonly args: RunRecorderArgs) {
    this.nodeTypes = new Map(Object.entries(args.nodeTypes ?? {}));
    if (!args.nodeTypes) {
      const p = PipelineNodesSchema.safeParse(args.config);
      if (p.success) for (const n of p.data.nodes) this.nodeTypes.set(n.id, n.type);
    }
    this.listener = (e) => this.handle(e);
  }

  private typeOf(nodeId: string): string {
    return this.nodeTypes.get(nodeId) ?? '?';
  }

  /**
   * Record one event; never throws. `at` is when it happened (ms since the epoch; default now):
   * a run computed elsewhere (a queue worker) is recorded afterwards with its own times.
   */
  handle(event: RunEvent, at: number = Date.now()): void {
    try {
      this.apply(event, at);
    } catch (err) {
      const e = errorOf(err);
      this.errors.push(e);
      if (this.args.onError) this.args.onError(e, event);
      else
        console.error(`d2nwg: could not record ${event.type} of run ${event.runId}: ${e.message}`);
    }
  }

  private apply(e: RunEvent, now: number): void {
    const { store } = this.args;
    switch (e.type) {
      case 'runStart': {
        this.runId = e.runId;
        if (store.getRun(e.runId)) {
          store.startRun(e.runId, now);
        } else {
          store.createRun({
            id: e.runId,
            pipelineId: this.args.pipelineId ?? null,
            name: e.pipeline,
            config: this.args.config,
            seed: e.seed,
            backend: e.backend,
            versions: this.args.versions,
            status: 'running',
            at: now,
          });
        }
        for (const nodeId of e.nodeIds) {
          store.upsertNodeRun({
            runId: e.runId,
            nodeId,
            type: this.typeOf(nodeId),
            status: 'queued',
          });
        }
        return;
      }
      case 'nodeStart':
        store.upsertNodeRun({
          runId: e.runId,
          nodeId: e.nodeId,
          type: this.typeOf(e.nodeId),
          status: 'running',
          started: now,
          finished: null,
          error: null,
        });
        return;
      case 'nodeProgress': {
        if (!e.metrics) return;
        const step = Math.round(e.value);
        const points = Object.entries(e.metrics).map(([k, v]) => ({
          key: e.label ? `${e.label}:${k}` : k,
          step,
          value: v,
        }));
        if (points.length) store.addMetrics(e.runId, e.nodeId, points);
        return;
      }
      case 'nodeCached':
      case 'nodeFinish': {
        const summary = e.summary;
        store.upsertNodeRun({
          runId: e.runId,
          nodeId: e.nodeId,
          type: this.typeOf(e.nodeId),
          status: 'done',
          cached: e.type === 'nodeCached',
          finished: now,
          ...(e.type === 'nodeCached' ? { started: now } : {}),
          summary: summary ?? null,
        });
        const points = summaryMetrics(summary);
        if (points.length) store.addMetrics(e.runId, e.nodeId, points);
        return;
      }
      case 'nodeError':
        this.firstFailure ??= `node '${e.nodeId}' failed: ${e.message}`;
        store.upsertNodeRun({
          runId: e.runId,
          nodeId: e.nodeId,
          type: this.typeOf(e.nodeId),
          status: 'failed',
          finished: now,
          error: `${e.kind}: ${e.message}`,
        });
        return;
      case 'nodeSkipped':
        store.upsertNodeRun({
          runId: e.runId,
          nodeId: e.nodeId,
          type: this.typeOf(e.nodeId),
          status: 'skipped',
          error: e.reason,
        });
        return;
      case 'artifact': {
        if (this.args.storeArtifactFiles === false) return;
        let isFile = false;
        try {
          isFile = fs.statSync(e.path).isFile();
        } catch {
          isFile = false;
        }
        // Folders (a tfjs export) stay where the node wrote them; only single files are kept.
        if (!isFile) return;
        const meta = MetaSchema.safeParse(e.meta);
        store.putArtifact({
          runId: e.runId,
          nodeId: e.nodeId,
          kind: e.kind,
          sourceFilePath: e.path,
          shape: e.shape ?? null,
          meta: { sourcePath: e.path, ...(meta.success ? meta.data : {}) },
        });
        return;
      }
      case 'log':
        // A run-level error (the pipeline could not start, a queue job that failed) is the run's.
        if (e.level === 'error' && e.nodeId === undefined) this.firstFailure ??= e.message;
        return;
      case 'runCancelled':
        return;
      case 'runDone':
        store.finishRun(e.runId, {
          status: e.status,
          error: e.status === 'failed' ? (this.firstFailure ?? 'run failed') : null,
          at: now,
        });
        return;
    }
  }
}

const MetaSchema = z.record(z.string(), z.unknown());
