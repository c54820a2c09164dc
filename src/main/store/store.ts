/**
 * The experiment store: one SQLite connection (connection.ts) plus the content-addressed blob
 * folder, behind one facade. Each table family has its repository (pipelines, runs, node runs,
 * metrics, artifacts); this class wires them and keeps the API the rest of main calls. Every
 * method that changes the database runs as one transaction; rows come back parsed by zod.
 */
import type Database from 'better-sqlite3';
import { ArtifactRepository, type ArtifactFilter, type PutArtifactArgs } from './artifacts.ts';
import { Connection, type When } from './connection.ts';
import { markInterrupted } from './liveness.ts';
import { MetricRepository, type MetricInput, type MetricsTable } from './metrics.ts';
import { NodeRunRepository, type NodeRunArgs } from './node-runs.ts';
import { PipelineRepository, type SavePipelineArgs } from './pipelines.ts';
import { SweepRepository } from './sweeps.ts';
import {
  RunRepository,
  type CreateRunArgs,
  type FinishRunArgs,
  type ListRunsQuery,
  type ListRunsResult,
  type RunDetail,
} from './runs.ts';
import {
  IntegrityRowSchema,
  parseRow,
  type ArtifactRecord,
  type MetricPoint,
  type PipelineRecord,
  type PipelineSummary,
  type PipelineVersion,
  type RunRecord,
} from './schemas.ts';
import { z } from 'zod';
import type { RunAnnotation } from '../../shared/runs.ts';

export interface DeleteRunResult {
  readonly deleted: boolean;
  /** Blob paths (relative) removed because no other artifact referenced them. */
  readonly removedFiles: readonly string[];
}

/** The store API; get one from `openStore` (store/index.ts). */
export class Store {
  /** Runs this open found `running` with a dead owner and marked `interrupted`. */
  readonly interruptedAtOpen: readonly string[];
  /** Sweeps this open found `running` with a dead owner and marked `interrupted`. */
  readonly interruptedSweepsAtOpen: readonly string[];
  private readonly db: Connection;
  readonly pipelines: PipelineRepository;
  readonly runs: RunRepository;
  readonly nodeRuns: NodeRunRepository;
  readonly metrics: MetricRepository;
  readonly artifacts: ArtifactRepository;
  readonly sweeps: SweepRepository;

  constructor(
    db: Database.Database,
    /** Absolute path of the database file. */
    readonly file: string,
    /** Absolute folder that artifact paths are relative to. */
    readonly dataDir: string,
    isProcessAlive: (pid: number) => boolean,
  ) {
    this.db = new Connection(db);
    this.pipelines = new PipelineRepository(this.db);
    this.nodeRuns = new NodeRunRepository(this.db);
    this.runs = new RunRepository(this.db, this.nodeRuns);
    this.metrics = new MetricRepository(this.db);
    this.artifacts = new ArtifactRepository(this.db, dataDir);
    this.sweeps = new SweepRepository(this.db);
    this.interruptedAtOpen = markInterrupted(this.db, isProcessAlive);
    this.interruptedSweepsAtOpen = this.sweeps.markInterrupted(isProcessAlive);
  }

  /** Close the connection (checkpoints the WAL). Further calls throw. */
  close(): void {
    this.db.close();
  }

  /** `PRAGMA integrity_check` result: 'ok' when the file is sound. */
  integrityCheck(): string {
    const rows = parseRow(z.array(IntegrityRowSchema), this.db.pragma('integrity_check'), 'pragma');
    return rows.map((r) => r.integrity_check).join('\n');
  }

  /** Schema version of the open database (PRAGMA user_version). */
  schemaVersion(): number {
    return Number(this.db.pragmaValue('user_version'));
  }

  // ------------------------------------------------------------------------- pipelines

  savePipeline(args: SavePipelineArgs): PipelineRecord {
    return this.pipelines.save(args);
  }
  listPipelines(): PipelineSummary[] {
    return this.pipelines.list();
  }
  getPipeline(id: string): PipelineRecord | null {
    return this.pipelines.get(id);
  }
  /** Every saved version, oldest first. */
  pipelineHistory(id: string): PipelineVersion[] {
    return this.pipelines.history(id);
  }
  /** Delete a pipeline and its history; its runs stay, detached (pipeline_id NULL). */
  deletePipeline(id: string): boolean {
    return this.pipelines.delete(id);
  }

  // ------------------------------------------------------------------------- runs

  createRun(args: CreateRunArgs): RunRecord {
    return this.runs.create(args);
  }
  /** Mark a queued run running, owned by this process. */
  startRun(id: string, at?: When): RunRecord {
    return this.runs.start(id, at);
  }
  /** Final status; stamps `finished` and `duration_s`, closes nodes still open. */
  finishRun(id: string, args: FinishRunArgs): RunRecord {
    return this.runs.finish(id, args);
  }
  listRuns(q: ListRunsQuery = {}): ListRunsResult {
    return this.runs.list(q);
  }
  /** Rename, tag or annotate a run; fields left out keep their value. */
  annotateRun(id: string, change: RunAnnotation): RunRecord {
    return this.runs.annotate(id, change);
  }
  /** Every tag in use with its number of runs, most used first. */
  runTags(): { tag: string; runs: number }[] {
    return this.runs.tags();
  }
  /** A run with its node rows (in start order), or null. */
  getRun(id: string): RunDetail | null {
    return this.runs.get(id);
  }
  /** Run ids equal to `prefix` or starting with it (for CLI id abbreviations). */
  findRunIds(prefix: string): string[] {
    return this.runs.findIds(prefix);
  }

  /**
   * Delete a run with its node rows, metrics and artifact rows (one transaction), then the blob
   * files no remaining artifact references. Files go after the commit: a crash in between leaves
   * an unreferenced blob (reclaimed by collectGarbage), never a row pointing at nothing.
   */
  deleteRun(id: string): DeleteRunResult {
    const orphaned = this.db.tx(() => {
      const paths = this.artifacts.pathsOfRun(id);
      const deleted = this.runs.delete(id);
      return { deleted, paths: this.artifacts.unreferenced(paths) };
    });
    return { deleted: orphaned.deleted, removedFiles: this.artifacts.removeBlobs(orphaned.paths) };
  }

  // ------------------------------------------------------------------------- node runs, metrics

  /** Insert or update one node's row; fields left undefined keep their stored values. */
  upsertNodeRun(args: NodeRunArgs): void {
    this.nodeRuns.upsert(args);
  }
  /** Append (or overwrite same run/node/key/step) metric points, all in one transaction. */
  addMetrics(runId: string, nodeId: string, points: readonly MetricInput[]): void {
    this.metrics.add(runId, nodeId, points);
  }
  /** All points of one run, ordered by node, key, step. */
  metricsOf(runId: string, key?: string): MetricPoint[] {
    return this.metrics.of(runId, key);
  }
  /** The points of every run whose key starts with `prefix`, ordered by run, node, key, step. */
  metricsWithPrefix(prefix: string): MetricPoint[] {
    return this.metrics.withPrefix(prefix);
  }
  /** Metrics of several runs side by side, aligned on (node, key, step). */
  metricsFor(runIds: readonly string[], key?: string): MetricsTable {
    return this.metrics.table(runIds, key);
  }

  // ------------------------------------------------------------------------- artifacts

  putArtifact(args: PutArtifactArgs): ArtifactRecord {
    return this.artifacts.put(args, (runId) => this.runs.exists(runId));
  }
  getArtifact(id: string): ArtifactRecord | null {
    return this.artifacts.get(id);
  }
  /** A run's artifacts, optionally of one node and/or kind, in insertion order. */
  artifactsOf(runId: string, filter: ArtifactFilter = {}): ArtifactRecord[] {
    return this.artifacts.of(runId, filter);
  }
  /** Absolute path of an artifact's blob file. */
  artifactFile(a: Pick<ArtifactRecord, 'path'>): string {
    return this.artifacts.file(a);
  }
  /** Whether the blob exists with the recorded size and sha256. */
  verifyArtifact(a: ArtifactRecord): boolean {
    return this.artifacts.verify(a);
  }
  /** Read a payload, refusing it when the file is missing or does not match its sha256. */
  readArtifact(a: ArtifactRecord): Buffer {
    return this.artifacts.read(a);
  }
  /** Remove blob files no artifact references and temp files left by killed writers. */
  collectGarbage(): { readonly removed: readonly string[] } {
    return this.artifacts.collectGarbage();
  }
}
