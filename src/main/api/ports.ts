/**
 * What the API needs from the rest of main, as narrow interfaces: the store (the SQLite store is
 * adapted to it in store-adapter.ts), the engine host, pipeline validation and weight export.
 * Keeping them narrow lets the API be tested with small real doubles and keeps transports thin.
 */
import type { RunEvent } from '../../shared/events.ts';
import type { RunAnnotation, RunOutcome, RunStatus, StoredArtifact } from '../../shared/runs.ts';
import type {
  ExportFormat,
  ExportPreview,
  ExportResult,
  ExportSelect,
  MetricSeries,
  PipelineDoc,
  RunLatents,
  PipelineSummary,
  RunDetail,
  RunSummary,
  ValidationResult,
} from '../../shared/ipc.ts';
import type { Pipeline } from '../../shared/pipeline.ts';
import type { SweepSpec, SweepStatus } from '../../shared/sweeps.ts';
import type { HostRunRequest } from '../host/protocol.ts';

/** Persistence the API relies on. */
export interface StudioStore {
  listPipelines(): PipelineSummary[];
  getPipeline(id: string): PipelineDoc | undefined;
  /** Insert (no id) or update; returns the saved summary. */
  savePipeline(id: string | undefined, pipeline: Pipeline): PipelineSummary;
  /** Delete a saved pipeline and its history; its runs stay. False when there was none. */
  deletePipeline(id: string): boolean;
  /** Create a queued run record; returns its id. */
  createRun(args: {
    readonly pipeline: Pipeline;
    readonly pipelineId?: string;
    readonly seed: number;
    /** The sweep point this run is; `label` (its values) is added to the run's name. */
    readonly sweep?: { readonly id: string; readonly point: number; readonly label: string };
  }): string;
  /**
   * Record one event of a run (status, node runs, metrics); `at` is when it happened (ms since the
   * epoch, default now), for a run computed elsewhere and recorded afterwards.
   */
  recordEvent(runId: string, event: RunEvent, at?: number): void;
  listRuns(): RunSummary[];
  getRun(runId: string): RunDetail | undefined;
  /** Rename, tag or annotate a run; undefined when there is no such run. */
  annotateRun(runId: string, change: RunAnnotation): RunSummary | undefined;
  /**
   * What the runs table needs of each listed run: its pipeline as it ran and its accuracy series
   * (mean and std over tasks), in the order of `listRuns`.
   */
  tableSources(): RunTableSource[];
  deleteRun(runId: string): boolean;
  metricsOf(runId: string): MetricSeries[];
  /** The latent maps a run's nodes recorded in their summaries, validated, in node order. */
  latentsOf(runId: string): RunLatents[];
  artifactsOf(runId: string): StoredArtifact[];
  close(): void;
}

/**
 * Sweeps and what their estimate reads (SqliteStudioStore implements it beside StudioStore; the
 * runs of a sweep are created through StudioStore.createRun).
 */
export interface StudioSweepStore {
  /** Record a new sweep (status queued); returns its id. */
  createSweep(args: {
    readonly name: string;
    readonly pipeline: Pipeline;
    readonly pipelineId?: string;
    readonly spec: SweepSpec;
    readonly seed: number;
    readonly points: number;
  }): string;
  getSweep(sweepId: string): StoredSweep | undefined;
  /** Newest first. */
  listSweeps(): StoredSweep[];
  /** Mark a sweep running in this process; throws when it already runs. */
  claimSweep(sweepId: string): void;
  finishSweep(sweepId: string, status: Exclude<SweepStatus, 'queued' | 'running'>): void;
  /** The runs of a sweep, by point then creation. */
  sweepRuns(sweepId: string): SweepRun[];
  /** Recorded run times of nodes of these types (not cache hits), with their configs. */
  nodeTimings(types: readonly string[]): NodeTiming[];
}

/** A sweep as stored: the spec and base pipeline its points are expanded from. */
export interface StoredSweep {
  readonly id: string;
  readonly name: string;
  readonly status: SweepStatus;
  readonly seed: number;
  readonly points: number;
  readonly created: string;
  readonly pipelineId?: string;
  readonly pipeline: Pipeline;
  readonly spec: SweepSpec;
}

/** One run of a sweep. */
export interface SweepRun {
  readonly runId: string;
  readonly point: number;
  readonly status: RunStatus;
}

/** How long one node ran, with its type and config (as stored in its run's snapshot). */
export interface NodeTiming {
  readonly type: string;
  readonly config: unknown;
  readonly seconds: number;
}

/** One run as the runs table reads it. */
export interface RunTableSource {
  readonly runId: string;
  readonly pipeline: Pipeline;
  /** Its `accuracy/…` and `accuracy_std/…` series. */
  readonly series: readonly MetricSeries[];
}

/** The engine host as the API uses it. */
export interface StudioHost {
  submit(request: HostRunRequest, onEvent: (event: RunEvent) => void): Promise<RunOutcome>;
  cancel(runId: string): boolean;
  has(runId: string): boolean;
  dispose(): Promise<void>;
}

/** Arguments of a weight export, already resolved to an absolute folder. */
export interface ExportArgs {
  readonly run: RunDetail;
  /** Node whose weights to export; undefined = the run's last weights artifact. */
  readonly nodeId?: string;
  readonly format: ExportFormat;
  /** Best sample per task (default) or every sample. */
  readonly select?: ExportSelect;
  /** Absolute destination folder; the export goes to `<folder>/<run id>/`. */
  readonly folder: string;
}

/** Weight export (engine/export adapted in exporter.ts). */
export interface StudioExporter {
  preview(args: Omit<ExportArgs, 'folder'>): Promise<ExportPreview>;
  exportWeights(args: ExportArgs): Promise<ExportResult>;
}

/** Pipeline validation against the registry (validatePipeline adapted). */
export type StudioValidator = (pipeline: unknown) => ValidationResult;
