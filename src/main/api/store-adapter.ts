/**
 * Adapts the SQLite Store (src/main/store) to the narrow StudioStore the API uses, converting only
 * what genuinely differs between a stored row and the contract: seconds → milliseconds, nullable
 * columns → optional fields, a node's stored lifecycle → the state the UI shows (nodeState), and
 * blob paths → absolute files. Run events are recorded through one RunRecorder per run. The
 * pipeline snapshot is re-validated through pipelineSchema before it crosses to the UI.
 */
import type { RunEvent } from '../../shared/events.ts';
import type {
  MetricSeries,
  NodeRunInfo,
  PipelineDoc,
  PipelineSummary,
  RunDetail,
  RunLatents,
  RunSummary,
} from '../../shared/ipc.ts';
import {
  ACCURACY_PREFIX,
  ACCURACY_STD_PREFIX,
  accuracyKeyTail,
  accuracyStdOfSummary,
} from '../../shared/schemas/accuracy.ts';
import { latentsOfSummary } from '../../shared/schemas/latents.ts';
import { parsePipeline, type Pipeline } from '../../shared/pipeline.ts';
import { RunRecorder } from '../store/recorder.ts';
import type { NodeState, RunAnnotation, StoredArtifact } from '../../shared/runs.ts';
import type {
  MetricPoint,
  NodeRunRecord,
  PipelineSummary as StorePipelineSummary,
  RunRecord,
  Store,
  SweepRecord,
} from '../store/index.ts';
import { SweepSpecSchema, type SweepSpec, type SweepStatus } from '../../shared/sweeps.ts';
import { nodeConfigIn } from '../sweeps/plan.ts';
import type {
  NodeTiming,
  RunTableSource,
  StoredSweep,
  StudioStore,
  StudioSweepStore,
  SweepRun,
} from './ports.ts';

function summary(r: RunRecord): RunSummary {
  return {
    id: r.id,
    name: r.name,
    tags: r.tags,
    notes: r.notes,
    status: r.status,
    seed: r.seed ?? 0,
    backend: r.backend ?? '',
    startedAt: r.started ?? r.created,
    durationMs: r.durationS === null ? null : Math.round(r.durationS * 1000),
    ...(r.error ? { error: r.error } : {}),
    ...(r.sweepId !== null ? { sweepId: r.sweepId } : {}),
    ...(r.sweepPoint !== null ? { sweepPoint: r.sweepPoint } : {}),
  };
}

/**
 * The state the UI shows for a stored node row: a cache hit is `cached`, a failure `error`, and a
 * node whose run was cancelled or interrupted before it finished `skipped`.
 */
export function nodeState(n: Pick<NodeRunRecord, 'status' | 'cached'>): NodeState {
  if (n.cached) return 'cached';
  switch (n.status) {
    case 'failed':
      return 'error';
    case 'interrupted':
    case 'cancelled':
      return 'skipped';
    default:
      return n.status;
  }
}

function nodeInfo(n: NodeRunRecord): NodeRunInfo {
  const status = nodeState(n);
  const ms = n.started && n.finished ? Date.parse(n.finished) - Date.parse(n.started) : undefined;
  return {
    nodeId: n.nodeId,
    status,
    ...(n.error ? { error: n.error } : {}),
    ...(ms !== undefined && Number.isFinite(ms) ? { durationMs: ms } : {}),
  };
}

function pipelineSummary(p: StorePipelineSummary): PipelineSummary {
  return { id: p.id, name: p.name, updatedAt: p.updated };
}

/** A pipeline snapshot from the DB, parsed; a broken one is reported, not passed on. */
function snapshot(config: unknown, where: string): Pipeline {
  const parsed = parsePipeline(config);
  if (!parsed.ok) throw new Error(`${where}: stored pipeline is malformed: ${parsed.problems[0]}`);
  return parsed.pipeline;
}

/** A sweep row with its spec and pipeline parsed; a broken one is reported, not passed on. */
function storedSweep(s: SweepRecord): StoredSweep {
  const spec = SweepSpecSchema.safeParse(s.spec);
  if (!spec.success) throw new Error(`sweep ${s.id}: stored spec is malformed`);
  return {
    id: s.id,
    name: s.name,
    status: s.status,
    seed: s.seed,
    points: s.points,
    created: s.created,
    ...(s.pipelineId !== null ? { pipelineId: s.pipelineId } : {}),
    pipeline: snapshot(s.pipeline, `sweep ${s.id}`),
    spec: spec.data,
  };
}

/** StudioStore over the SQLite store. */
export class SqliteStudioStore implements StudioStore, StudioSweepStore {
  private readonly recorders = new Map<string, RunRecorder>();
  /**
   * Backends reported by runStart in this session. The store's startRun (used by the recorder for
   * a run created while queued) does not take the backend, so the row keeps null; this fills it in
   * for the lifetime of the process.
   */
  private readonly backends = new Map<string, string>();

  constructor(
    readonly store: Store,
    /** Provenance stored with each run. */
    private readonly versions: Readonly<Record<string, unknown>> = {},
  ) {}

  listPipelines(): PipelineSummary[] {
    return this.store.listPipelines().map(pipelineSummary);
  }

  getPipeline(id: string): PipelineDoc | undefined {
    const rec = this.store.getPipeline(id);
    if (!rec) return undefined;
    return {
      id: rec.id,
      name: rec.name,
      updatedAt: rec.updated,
      pipeline: snapshot(rec.pipeline, `pipeline ${id}`),
    };
  }

  savePipeline(id: string | undefined, pipeline: Pipeline): PipelineSummary {
    const rec = this.store.savePipeline({ id, name: pipeline.name, pipeline });
    return pipelineSummary(rec);
  }

  deletePipeline(id: string): boolean {
    return this.store.deletePipeline(id);
  }

  createRun(args: {
    pipeline: Pipeline;
    pipelineId?: string;
    seed: number;
    sweep?: { id: string; point: number; label: string };
  }): string {
    const run = this.store.createRun({
      pipelineId: args.pipelineId ?? null,
      name: args.sweep ? `${args.pipeline.name} · ${args.sweep.label}` : args.pipeline.name,
      config: args.pipeline,
      seed: args.seed,
      versions: this.versions,
      ...(args.sweep ? { sweep: { id: args.sweep.id, point: args.sweep.point } } : {}),
    });
    this.recorders.set(
      run.id,
      new RunRecorder({
        store: this.store,
        config: args.pipeline,
        pipelineId: args.pipelineId ?? null,
        versions: this.versions,
      }),
    );
    return run.id;
  }

  recordEvent(runId: string, event: RunEvent, at?: number): void {
    const rec = this.recorders.get(runId);
    if (!rec) throw new Error(`no recorder for run '${runId}'`);
    rec.handle(event, at);
    if (event.type === 'runStart') this.backends.set(runId, event.backend);
    if (event.type === 'runDone') {
      this.recorders.delete(runId);
      // A run that never started in the engine (cancelled while queued, crash at start-up) still
      // needs its final status.
      const row = this.store.getRun(runId);
      if (row && (row.status === 'queued' || row.status === 'running')) {
        this.store.finishRun(runId, { status: event.status });
      }
    }
  }

  createSweep(args: {
    name: string;
    pipeline: Pipeline;
    pipelineId?: string;
    spec: SweepSpec;
    seed: number;
    points: number;
  }): string {
    return this.store.sweeps.create({ ...args, pipelineId: args.pipelineId ?? null }).id;
  }

  getSweep(sweepId: string): StoredSweep | undefined {
    const s = this.store.sweeps.get(sweepId);
    return s ? storedSweep(s) : undefined;
  }

  listSweeps(): StoredSweep[] {
    return this.store.sweeps.list().map(storedSweep);
  }

  claimSweep(sweepId: string): void {
    this.store.sweeps.claim(sweepId);
  }

  finishSweep(sweepId: string, status: Exclude<SweepStatus, 'queued' | 'running'>): void {
    this.store.sweeps.finish(sweepId, status);
  }

  sweepRuns(sweepId: string): SweepRun[] {
    return this.store.sweeps
      .runs(sweepId)
      .map((r) => ({ runId: r.id, point: r.sweepPoint, status: r.status }));
  }

  nodeTimings(types: readonly string[]): NodeTiming[] {
    return this.store.sweeps.nodeTimings(types).map((t) => ({
      type: t.type,
      config: nodeConfigIn(t.config, t.nodeId),
      seconds: t.seconds,
    }));
  }

  listRuns(): RunSummary[] {
    return this.store.listRuns({ limit: 1000 }).runs.map((r) => this.summary(r));
  }

  getRun(runId: string): RunDetail | undefined {
    const r = this.store.getRun(runId);
    if (!r) return undefined;
    return {
      ...this.summary(r),
      pipeline: snapshot(r.config, `run ${runId}`),
      nodes: r.nodes.map(nodeInfo),
      artifacts: this.artifactsOf(runId),
    };
  }

  private summary(r: RunRecord): RunSummary {
    const s = summary(r);
    return s.backend ? s : { ...s, backend: this.backends.get(r.id) ?? '' };
  }

  annotateRun(runId: string, change: RunAnnotation): RunSummary | undefined {
    if (!this.store.runs.exists(runId)) return undefined;
    return this.summary(this.store.annotateRun(runId, change));
  }

  tableSources(): RunTableSource[] {
    // One query for every run's accuracy points, grouped here; losses are never read.
    const points = new Map<string, MetricPoint[]>();
    for (const p of this.store.metricsWithPrefix(ACCURACY_PREFIX)) {
      const list = points.get(p.runId);
      if (list) list.push(p);
      else points.set(p.runId, [p]);
    }
    return this.store.listRuns({ limit: 1000 }).runs.map((r) => ({
      runId: r.id,
      pipeline: snapshot(r.config, `run ${r.id}`),
      series: this.series(r.id, points.get(r.id) ?? []),
    }));
  }

  deleteRun(runId: string): boolean {
    return this.store.deleteRun(runId).deleted;
  }

  metricsOf(runId: string): MetricSeries[] {
    return this.series(runId, this.store.metricsOf(runId));
  }

  /**
   * Points of one run grouped into series by (node, key), plus the std-over-tasks series that
   * live in its evaluation summaries (the charts' error bars, the tables' ± std).
   */
  private series(runId: string, points: readonly MetricPoint[]): MetricSeries[] {
    const groups = new Map<
      string,
      { nodeId: string; key: string; steps: number[]; values: number[] }
    >();
    for (const p of points) {
      const k = `${p.nodeId}\u0000${p.key}`;
      let g = groups.get(k);
      if (!g) {
        g = { nodeId: p.nodeId, key: p.key, steps: [], values: [] };
        groups.set(k, g);
      }
      g.steps.push(p.step);
      g.values.push(p.value);
    }
    const series: MetricSeries[] = [...groups.values()].map((g) => ({ runId, ...g }));
    // The std over tasks lives in evaluation summaries only; the charts need it for error bars.
    for (const n of this.store.nodeRuns.ofRun(runId)) {
      for (const r of accuracyStdOfSummary(n.summary)) {
        const key = `${ACCURACY_STD_PREFIX}${accuracyKeyTail(r.method, r.split)}`;
        series.push({ runId, nodeId: n.nodeId, key, steps: r.epochs, values: r.std });
      }
    }
    return series;
  }

  latentsOf(runId: string): RunLatents[] {
    const out: RunLatents[] = [];
    for (const n of this.store.getRun(runId)?.nodes ?? []) {
      const projection = latentsOfSummary(n.summary);
      if (projection) out.push({ runId, nodeId: n.nodeId, projection });
    }
    return out;
  }

  artifactsOf(runId: string): StoredArtifact[] {
    return this.store.artifactsOf(runId).map((a) => ({
      id: a.id,
      nodeId: a.nodeId,
      kind: a.kind,
      path: this.store.artifactFile(a),
      bytes: a.bytes,
    }));
  }

  close(): void {
    this.store.close();
  }
}
