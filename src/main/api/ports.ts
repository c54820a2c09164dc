/**
 * What the API needs from the rest of main, as narrow interfaces: the store (the SQLite store is
 * adapted to it in store-adapter.ts), the engine host, pipeline validation and weight export.
 * Keeping them narrow lets the API be tested with small real doubles and keeps transports thin.
 */
import type { RunEvent } from '../../shared/events.ts';
import type { RunAnnotation, RunOutcome, StoredArtifact } from '../../shared/runs.ts';
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
import type { HostRunRequest } from '../host/protocol.ts';

/** Persistence the API relies on. */
export interface StudioStore {
  listPipelines(): PipelineSummary[];
  getPipeline(id: string): PipelineDoc | undefined;
  /** Insert (no id) or update; returns the saved summary. */
  savePipeline(id: string | undefined, pipeline: Pipeline): PipelineSummary;
  /** Create a queued run record; returns its id. */
  createRun(args: {
    readonly pipeline: Pipeline;
    readonly pipelineId?: string;
    readonly seed: number;
  }): string;
  /** Record one event of a run (status, node runs, metrics). */
  recordEvent(runId: string, event: RunEvent): void;
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
