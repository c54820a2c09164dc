/**
 * The experiment store: one better-sqlite3 connection plus the content-addressed blob folder.
 * Every method that changes the database runs as one transaction (BEGIN IMMEDIATE, so a second
 * process waits on busy_timeout instead of failing half-way). Rows come back parsed by zod.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { InputError } from '../engine/errors.ts';
import {
  putBlobBytes,
  putBlobFile,
  removeBlob,
  sha256Of,
  sha256OfFile,
  type PutBlobResult,
} from './blobs.ts';
import {
  ArtifactRowSchema,
  MetricRowSchema,
  NodeRunRowSchema,
  PipelineRowSchema,
  PipelineSummaryRowSchema,
  PipelineVersionRowSchema,
  RunRowSchema,
  parseRow,
  type ArtifactRow,
  type NodeRunRow,
  type NodeRunStatus,
  type RunRow,
  type RunStatus,
} from './schemas.ts';
import { errorMessage } from '../../shared/errors.ts';

/** A timestamp as callers give it: a Date, epoch milliseconds, or now when omitted. */
export type When = Date | number | undefined;

function iso(at: When): string {
  if (at === undefined) return new Date().toISOString();
  return (typeof at === 'number' ? new Date(at) : at).toISOString();
}

/** A fresh id like `run_3f9c0a1b2c4d`: short enough to type, unique enough for one machine. */
export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

function toJson(value: unknown, what: string): string {
  const text = JSON.stringify(value ?? null);
  if (text === undefined) throw new InputError(`${what} is not JSON-serialisable`);
  return text;
}

// ---------------------------------------------------------------------------------------------
// Records handed to callers (camelCase, parsed JSON).

export interface RunRecord {
  readonly id: string;
  readonly pipelineId: string | null;
  readonly name: string;
  readonly status: RunStatus;
  /** Snapshot of the pipeline/config the run executed, as given to createRun. */
  readonly config: unknown;
  readonly seed: number | null;
  /** Tensor backend name, e.g. 'wasm'. */
  readonly backend: string | null;
  /** Versions of the app, tfjs, node types… for provenance. */
  readonly versions: Readonly<Record<string, unknown>>;
  readonly created: string;
  readonly started: string | null;
  readonly finished: string | null;
  readonly durationS: number | null;
  readonly error: string | null;
  /** Process that ran it; used at open to tell a live run from a crashed one. */
  readonly pid: number | null;
}

export interface NodeRunRecord {
  readonly runId: string;
  readonly nodeId: string;
  readonly type: string;
  readonly status: NodeRunStatus;
  readonly started: string | null;
  readonly finished: string | null;
  /** The executor reused a cached output instead of running the node. */
  readonly cached: boolean;
  readonly error: string | null;
  /** Small JSON summary of the node's outputs (shapes, final loss…). */
  readonly summary: unknown;
}

export interface RunDetail extends RunRecord {
  readonly nodes: readonly NodeRunRecord[];
}

export interface ArtifactRecord {
  readonly id: string;
  readonly runId: string;
  readonly nodeId: string;
  readonly kind: string;
  /** Free label inside the node, e.g. the output port or 'sample-3'. */
  readonly name: string;
  /** Relative to the store's data dir, POSIX separators. */
  readonly path: string;
  readonly sha256: string;
  readonly bytes: number;
  readonly shape: readonly number[] | null;
  readonly meta: Readonly<Record<string, unknown>> | null;
  readonly created: string;
}

export interface MetricPoint {
  readonly runId: string;
  readonly nodeId: string;
  readonly key: string;
  readonly step: number;
  /** NaN when a non-finite value was recorded as NaN. */
  readonly value: number;
}

/** Metrics of several runs aligned for comparison: one row per (node, key, step). */
export interface MetricsTable {
  /** Column order of `values`. */
  readonly runIds: readonly string[];
  readonly rows: readonly {
    readonly nodeId: string;
    readonly key: string;
    readonly step: number;
    /** values[i] belongs to runIds[i]; null where that run has no such point. */
    readonly values: readonly (number | null)[];
  }[];
}

export interface PipelineRecord {
  readonly id: string;
  readonly name: string;
  /** The latest saved pipeline JSON. */
  readonly pipeline: unknown;
  /** Number of saves so far (the latest history version). */
  readonly version: number;
  readonly created: string;
  readonly updated: string;
}

export type PipelineSummary = Omit<PipelineRecord, 'pipeline'>;

export interface PipelineVersion {
  readonly pipelineId: string;
  readonly version: number;
  readonly name: string;
  readonly pipeline: unknown;
  readonly saved: string;
}

// ---------------------------------------------------------------------------------------------
// Arguments.

export interface CreateRunArgs {
  /** Caller-chosen id (e.g. the executor's run id); generated when omitted. */
  readonly id?: string;
  /** The saved pipeline this run came from, if any. */
  readonly pipelineId?: string | null;
  /** Shown in run lists; usually the pipeline name. */
  readonly name: string;
  /** Snapshot of what was executed (pipeline JSON with resolved configs). */
  readonly config: unknown;
  readonly seed?: number | null;
  readonly backend?: string | null;
  /** Versions for provenance: app, tfjs, node spec versions. */
  readonly versions?: Readonly<Record<string, unknown>>;
  /** Initial status: 'queued' (default) or 'running' (also stamps `started`). */
  readonly status?: 'queued' | 'running';
  readonly at?: When;
}

export interface FinishRunArgs {
  /** Final status. */
  readonly status: 'done' | 'failed' | 'cancelled';
  /** Message shown for a failed run. */
  readonly error?: string | null;
  readonly at?: When;
}

export interface NodeRunArgs {
  readonly runId: string;
  readonly nodeId: string;
  /** Node type id, e.g. 'zoo.train'. */
  readonly type: string;
  readonly status: NodeRunStatus;
  /** Stamped on the row when given; existing values are kept otherwise. */
  readonly started?: When | null;
  readonly finished?: When | null;
  readonly cached?: boolean;
  readonly error?: string | null;
  readonly summary?: unknown;
}

export interface MetricInput {
  readonly key: string;
  /** Epoch, step or sample index; integer. */
  readonly step: number;
  readonly value: number;
}

export interface PutArtifactArgs {
  readonly runId: string;
  readonly nodeId: string;
  /** What the payload is; see the conventions at the top of store/index.ts ('weights', …). */
  readonly kind: string;
  /** Free label inside the node; defaults to ''. */
  readonly name?: string;
  /** The payload in memory… */
  readonly bytes?: Uint8Array;
  /** …or a file to copy in (left where it is). Exactly one of the two. */
  readonly sourceFilePath?: string;
  readonly shape?: readonly number[] | null;
  /** JSON object describing the payload (layout, architecture, dataset…). */
  readonly meta?: Readonly<Record<string, unknown>> | null;
  readonly id?: string;
}

export interface ListRunsQuery {
  readonly status?: RunStatus;
  readonly pipelineId?: string;
  /** Case-insensitive substring of the run name or id. */
  readonly search?: string;
  /** Default 50, at most 1000. */
  readonly limit?: number;
  readonly offset?: number;
}

export interface ListRunsResult {
  /** Newest first. */
  readonly runs: readonly RunRecord[];
  /** Matching runs ignoring limit/offset, for paging. */
  readonly total: number;
}

export interface DeleteRunResult {
  readonly deleted: boolean;
  /** Blob paths (relative) removed because no other artifact referenced them. */
  readonly removedFiles: readonly string[];
}

// ---------------------------------------------------------------------------------------------

function runFromRow(r: RunRow): RunRecord {
  return {
    id: r.id,
    pipelineId: r.pipeline_id,
    name: r.name,
    status: r.status,
    config: r.config,
    seed: r.seed,
    backend: r.backend,
    versions: r.versions,
    created: r.created,
    started: r.started,
    finished: r.finished,
    durationS: r.duration_s,
    error: r.error,
    pid: r.pid,
  };
}

function nodeFromRow(r: NodeRunRow): NodeRunRecord {
  return {
    runId: r.run_id,
    nodeId: r.node_id,
    type: r.type,
    status: r.status,
    started: r.started,
    finished: r.finished,
    cached: r.cached,
    error: r.error,
    summary: r.summary,
  };
}

function artifactFromRow(r: ArtifactRow): ArtifactRecord {
  return {
    id: r.id,
    runId: r.run_id,
    nodeId: r.node_id,
    kind: r.kind,
    name: r.name,
    path: r.path,
    sha256: r.sha256,
    bytes: r.bytes,
    shape: r.shape,
    meta: r.meta,
    created: r.created,
  };
}

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** The store API; get one from `openStore` (store/index.ts). */
export class Store {
  /** Runs this open found `running` with a dead owner and marked `interrupted`. */
  readonly interruptedAtOpen: readonly string[];

  constructor(
    private readonly db: Database.Database,
    /** Absolute path of the database file. */
    readonly file: string,
    /** Absolute folder that artifact paths are relative to. */
    readonly dataDir: string,
    isProcessAlive: (pid: number) => boolean,
  ) {
    this.interruptedAtOpen = this.markInterrupted(isProcessAlive);
  }

  /** Close the connection (checkpoints the WAL). Further calls throw. */
  close(): void {
    if (this.db.open) this.db.close();
  }

  /** `PRAGMA integrity_check` result: 'ok' when the file is sound. */
  integrityCheck(): string {
    const rows = this.db.pragma('integrity_check') as { integrity_check: string }[];
    return rows.map((r) => r.integrity_check).join('\n');
  }

  /** Schema version of the open database (PRAGMA user_version). */
  schemaVersion(): number {
    return Number(this.db.pragma('user_version', { simple: true }));
  }

  private tx<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  private markInterrupted(isProcessAlive: (pid: number) => boolean): string[] {
    const running = this.db.prepare("SELECT id, pid FROM runs WHERE status = 'running'").all() as {
      id: string;
      pid: number | null;
    }[];
    const dead = running.filter((r) => r.pid === null || !isProcessAlive(r.pid)).map((r) => r.id);
    if (dead.length === 0) return [];
    const now = iso(undefined);
    const upRun = this.db.prepare(
      `UPDATE runs SET status = 'interrupted', finished = ?,
         error = COALESCE(error, 'the process running it ended before the run finished')
       WHERE id = ? AND status = 'running'`,
    );
    const upNodes = this.db.prepare(
      `UPDATE node_runs SET status = 'interrupted', finished = ?
       WHERE run_id = ? AND status IN ('running', 'queued')`,
    );
    this.tx(() => {
      for (const id of dead) {
        upRun.run(now, id);
        upNodes.run(now, id);
      }
    });
    return dead;
  }

  // ------------------------------------------------------------------------- pipelines

  /**
   * Save a pipeline: updates `current` and appends a history version, so every run can point at
   * exactly what it executed and the user can go back.
   */
  savePipeline(args: {
    readonly id?: string;
    readonly name: string;
    readonly pipeline: unknown;
    readonly at?: When;
  }): PipelineRecord {
    const id = args.id ?? newId('pl');
    const now = iso(args.at);
    const json = toJson(args.pipeline, 'pipeline');
    this.tx(() => {
      const prev = this.db.prepare('SELECT version FROM pipelines WHERE id = ?').get(id) as
        { version: number } | undefined;
      const version = (prev?.version ?? 0) + 1;
      if (prev) {
        this.db
          .prepare(
            'UPDATE pipelines SET name = ?, current = ?, version = ?, updated = ? WHERE id = ?',
          )
          .run(args.name, json, version, now, id);
      } else {
        this.db
          .prepare(
            'INSERT INTO pipelines (id, name, current, version, created, updated) VALUES (?, ?, ?, ?, ?, ?)',
          )
          .run(id, args.name, json, version, now, now);
      }
      this.db
        .prepare(
          'INSERT INTO pipeline_versions (pipeline_id, version, name, json, saved) VALUES (?, ?, ?, ?, ?)',
        )
        .run(id, version, args.name, json, now);
    });
    const saved = this.getPipeline(id);
    if (!saved) throw new Error(`store: pipeline ${id} vanished after save`);
    return saved;
  }

  listPipelines(): PipelineSummary[] {
    return this.db
      .prepare(
        'SELECT id, name, version, created, updated FROM pipelines ORDER BY updated DESC, id',
      )
      .all()
      .map((r) => parseRow(PipelineSummaryRowSchema, r, 'pipelines'));
  }

  getPipeline(id: string): PipelineRecord | null {
    const row = this.db.prepare('SELECT * FROM pipelines WHERE id = ?').get(id);
    if (row === undefined) return null;
    const r = parseRow(PipelineRowSchema, row, 'pipelines');
    return {
      id: r.id,
      name: r.name,
      pipeline: r.current,
      version: r.version,
      created: r.created,
      updated: r.updated,
    };
  }

  /** Every saved version, oldest first. */
  pipelineHistory(id: string): PipelineVersion[] {
    return this.db
      .prepare('SELECT * FROM pipeline_versions WHERE pipeline_id = ? ORDER BY version')
      .all(id)
      .map((row) => {
        const r = parseRow(PipelineVersionRowSchema, row, 'pipeline_versions');
        return {
          pipelineId: r.pipeline_id,
          version: r.version,
          name: r.name,
          pipeline: r.json,
          saved: r.saved,
        };
      });
  }

  /** Delete a pipeline and its history; its runs stay, detached (pipeline_id NULL). */
  deletePipeline(id: string): boolean {
    return this.tx(() => this.db.prepare('DELETE FROM pipelines WHERE id = ?').run(id).changes > 0);
  }

  // ------------------------------------------------------------------------- runs

  createRun(args: CreateRunArgs): RunRecord {
    const id = args.id ?? newId('run');
    const now = iso(args.at);
    const status = args.status ?? 'queued';
    this.tx(() => {
      this.db
        .prepare(
          `INSERT INTO runs (id, pipeline_id, name, status, config, seed, backend, versions,
                             created, started, pid)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          id,
          args.pipelineId ?? null,
          args.name,
          status,
          toJson(args.config, 'run config'),
          args.seed ?? null,
          args.backend ?? null,
          toJson(args.versions ?? {}, 'run versions'),
          now,
          status === 'running' ? now : null,
          status === 'running' ? process.pid : null,
        );
    });
    return this.requireRun(id);
  }

  /** Mark a queued run running, owned by this process. */
  startRun(id: string, at?: When): RunRecord {
    this.tx(() => {
      const n = this.db
        .prepare(
          "UPDATE runs SET status = 'running', started = ?, pid = ? WHERE id = ? AND status IN ('queued', 'running')",
        )
        .run(iso(at), process.pid, id).changes;
      if (n === 0) this.throwRunState(id, 'start');
    });
    return this.requireRun(id);
  }

  /** Final status; stamps `finished` and `duration_s` (from `started`). */
  finishRun(id: string, args: FinishRunArgs): RunRecord {
    const finished = iso(args.at);
    this.tx(() => {
      const row = this.db.prepare('SELECT started FROM runs WHERE id = ?').get(id) as
        { started: string | null } | undefined;
      if (!row) throw new InputError(`unknown run '${id}'`);
      const duration =
        row.started === null ? null : (Date.parse(finished) - Date.parse(row.started)) / 1000;
      this.db
        .prepare('UPDATE runs SET status = ?, finished = ?, duration_s = ?, error = ? WHERE id = ?')
        .run(args.status, finished, duration, args.error ?? null, id);
      // Nodes still open when the run ends did not get to finish.
      this.db
        .prepare(
          `UPDATE node_runs SET status = ?, finished = COALESCE(finished, ?)
           WHERE run_id = ? AND status IN ('queued', 'running')`,
        )
        .run(args.status === 'done' ? 'skipped' : 'cancelled', finished, id);
    });
    return this.requireRun(id);
  }

  private throwRunState(id: string, action: string): never {
    const r = this.db.prepare('SELECT status FROM runs WHERE id = ?').get(id) as
      { status: string } | undefined;
    if (!r) throw new InputError(`unknown run '${id}'`);
    throw new InputError(`cannot ${action} run '${id}': it is ${r.status}`);
  }

  private requireRun(id: string): RunRecord {
    const row = this.db.prepare('SELECT * FROM runs WHERE id = ?').get(id);
    if (row === undefined) throw new InputError(`unknown run '${id}'`);
    return runFromRow(parseRow(RunRowSchema, row, 'runs'));
  }

  /** Insert or update one node's row; fields left undefined keep their stored values. */
  upsertNodeRun(args: NodeRunArgs): void {
    const started =
      args.started === undefined ? undefined : args.started === null ? null : iso(args.started);
    const finished =
      args.finished === undefined ? undefined : args.finished === null ? null : iso(args.finished);
    const summary = args.summary === undefined ? undefined : toJson(args.summary, 'node summary');
    this.tx(() => {
      const prev = this.db
        .prepare('SELECT * FROM node_runs WHERE run_id = ? AND node_id = ?')
        .get(args.runId, args.nodeId);
      const p = prev === undefined ? null : parseRow(NodeRunRowSchema, prev, 'node_runs');
      const keepJson =
        p?.summary === undefined || p.summary === null ? null : JSON.stringify(p.summary);
      this.db
        .prepare(
          `INSERT OR REPLACE INTO node_runs
             (run_id, node_id, type, status, started, finished, cached, error, summary)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          args.runId,
          args.nodeId,
          args.type,
          args.status,
          started === undefined ? (p?.started ?? null) : started,
          finished === undefined ? (p?.finished ?? null) : finished,
          args.cached === undefined ? (p?.cached ? 1 : 0) : args.cached ? 1 : 0,
          args.error === undefined ? (p?.error ?? null) : args.error,
          summary === undefined ? keepJson : summary,
        );
    });
  }

  /** Append (or overwrite same run/node/key/step) metric points, all in one transaction. */
  addMetrics(runId: string, nodeId: string, points: readonly MetricInput[]): void {
    for (const p of points) {
      if (!Number.isInteger(p.step)) {
        throw new InputError(`metric '${p.key}': step must be an integer, got ${p.step}`);
      }
    }
    const ins = this.db.prepare(
      'INSERT OR REPLACE INTO metrics (run_id, node_id, key, step, value) VALUES (?, ?, ?, ?, ?)',
    );
    this.tx(() => {
      for (const p of points)
        ins.run(runId, nodeId, p.key, p.step, Number.isNaN(p.value) ? null : p.value);
    });
  }

  listRuns(q: ListRunsQuery = {}): ListRunsResult {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (q.status) {
      where.push('status = ?');
      params.push(q.status);
    }
    if (q.pipelineId) {
      where.push('pipeline_id = ?');
      params.push(q.pipelineId);
    }
    if (q.search) {
      const like = `%${escapeLike(q.search.toLowerCase())}%`;
      where.push("(lower(name) LIKE ? ESCAPE '\\' OR lower(id) LIKE ? ESCAPE '\\')");
      params.push(like, like);
    }
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const limit = Math.min(Math.max(Math.trunc(q.limit ?? 50), 0), 1000);
    const offset = Math.max(Math.trunc(q.offset ?? 0), 0);
    const total = (
      this.db.prepare(`SELECT COUNT(*) AS n FROM runs ${clause}`).get(...params) as { n: number }
    ).n;
    const runs = this.db
      .prepare(`SELECT * FROM runs ${clause} ORDER BY created DESC, rowid DESC LIMIT ? OFFSET ?`)
      .all(...params, limit, offset)
      .map((r) => runFromRow(parseRow(RunRowSchema, r, 'runs')));
    return { runs, total };
  }

  /** A run with its node rows (in start order), or null. */
  getRun(id: string): RunDetail | null {
    const row = this.db.prepare('SELECT * FROM runs WHERE id = ?').get(id);
    if (row === undefined) return null;
    const nodes = this.db
      .prepare('SELECT * FROM node_runs WHERE run_id = ? ORDER BY started IS NULL, started, rowid')
      .all(id)
      .map((r) => nodeFromRow(parseRow(NodeRunRowSchema, r, 'node_runs')));
    return { ...runFromRow(parseRow(RunRowSchema, row, 'runs')), nodes };
  }

  /** Run ids equal to `prefix` or starting with it (for CLI id abbreviations). */
  findRunIds(prefix: string): string[] {
    const exact = this.db.prepare('SELECT id FROM runs WHERE id = ?').get(prefix) as
      { id: string } | undefined;
    if (exact) return [exact.id];
    return (
      this.db
        .prepare("SELECT id FROM runs WHERE id LIKE ? ESCAPE '\\' ORDER BY id LIMIT 20")
        .all(`${escapeLike(prefix)}%`) as { id: string }[]
    ).map((r) => r.id);
  }

  /** All points of one run, ordered by node, key, step. */
  metricsOf(runId: string, key?: string): MetricPoint[] {
    const rows =
      key === undefined
        ? this.db
            .prepare('SELECT * FROM metrics WHERE run_id = ? ORDER BY node_id, key, step')
            .all(runId)
        : this.db
            .prepare('SELECT * FROM metrics WHERE run_id = ? AND key = ? ORDER BY node_id, step')
            .all(runId, key);
    return rows.map((row) => {
      const r = parseRow(MetricRowSchema, row, 'metrics');
      return { runId: r.run_id, nodeId: r.node_id, key: r.key, step: r.step, value: r.value };
    });
  }

  /** Metrics of several runs side by side, aligned on (node, key, step). */
  metricsFor(runIds: readonly string[], key?: string): MetricsTable {
    const index = new Map<
      string,
      { nodeId: string; key: string; step: number; values: (number | null)[] }
    >();
    runIds.forEach((runId, col) => {
      for (const p of this.metricsOf(runId, key)) {
        const k = JSON.stringify([p.nodeId, p.key, p.step]);
        let row = index.get(k);
        if (!row) {
          row = { nodeId: p.nodeId, key: p.key, step: p.step, values: runIds.map(() => null) };
          index.set(k, row);
        }
        row.values[col] = p.value;
      }
    });
    const rows = [...index.values()].sort(
      (a, b) => a.key.localeCompare(b.key) || a.nodeId.localeCompare(b.nodeId) || a.step - b.step,
    );
    return { runIds: [...runIds], rows };
  }

  /**
   * Delete a run with its node rows, metrics and artifact rows (one transaction), then the blob
   * files no remaining artifact references. Files go after the commit: a crash in between leaves
   * an unreferenced blob (reclaimed by collectGarbage), never a row pointing at nothing.
   */
  deleteRun(id: string): DeleteRunResult {
    const orphaned = this.tx(() => {
      const paths = (
        this.db.prepare('SELECT DISTINCT path FROM artifacts WHERE run_id = ?').all(id) as {
          path: string;
        }[]
      ).map((r) => r.path);
      const deleted = this.db.prepare('DELETE FROM runs WHERE id = ?').run(id).changes > 0;
      const stillUsed = this.db.prepare('SELECT 1 FROM artifacts WHERE path = ? LIMIT 1');
      return { deleted, paths: paths.filter((p) => stillUsed.get(p) === undefined) };
    });
    const removedFiles = orphaned.paths.filter((p) => removeBlob(this.dataDir, p));
    return { deleted: orphaned.deleted, removedFiles };
  }

  // ------------------------------------------------------------------------- artifacts

  /**
   * Store an artifact payload as a content-addressed blob (deduplicated on sha256) and record it.
   * The blob is complete on disk before the row commits, so every committed row has its file.
   */
  putArtifact(args: PutArtifactArgs): ArtifactRecord {
    const hasBytes = args.bytes !== undefined;
    const hasFile = args.sourceFilePath !== undefined;
    if (hasBytes === hasFile) {
      throw new InputError('putArtifact needs exactly one of `bytes` and `sourceFilePath`');
    }
    if (args.shape && !args.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new InputError(
        `artifact shape must be non-negative integers, got [${args.shape.join(', ')}]`,
      );
    }
    const exists = this.db.prepare('SELECT 1 FROM runs WHERE id = ?').get(args.runId);
    if (exists === undefined) throw new InputError(`unknown run '${args.runId}'`);
    if (args.sourceFilePath !== undefined) {
      let isFile = false;
      try {
        isFile = fs.statSync(args.sourceFilePath).isFile();
      } catch {
        isFile = false;
      }
      if (!isFile) {
        throw new InputError(`artifact source file ${args.sourceFilePath} does not exist`);
      }
    }
    let blob: PutBlobResult;
    try {
      blob =
        args.bytes !== undefined
          ? putBlobBytes(this.dataDir, args.bytes)
          : putBlobFile(this.dataDir, args.sourceFilePath ?? '');
    } catch (err) {
      throw blobError(err, this.dataDir, args.sourceFilePath);
    }
    const id = args.id ?? newId('art');
    this.tx(() => {
      this.db
        .prepare(
          `INSERT INTO artifacts (id, run_id, node_id, kind, name, path, sha256, bytes, shape, meta, created)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          id,
          args.runId,
          args.nodeId,
          args.kind,
          args.name ?? '',
          blob.relPath,
          blob.sha256,
          blob.bytes,
          args.shape ? JSON.stringify(args.shape) : null,
          args.meta ? toJson(args.meta, 'artifact meta') : null,
          iso(undefined),
        );
    });
    const rec = this.getArtifact(id);
    if (!rec) throw new Error(`store: artifact ${id} vanished after insert`);
    return rec;
  }

  getArtifact(id: string): ArtifactRecord | null {
    const row = this.db.prepare('SELECT * FROM artifacts WHERE id = ?').get(id);
    return row === undefined
      ? null
      : artifactFromRow(parseRow(ArtifactRowSchema, row, 'artifacts'));
  }

  /** A run's artifacts, optionally of one node and/or kind, in insertion order. */
  artifactsOf(
    runId: string,
    filter: { readonly nodeId?: string; readonly kind?: string } = {},
  ): ArtifactRecord[] {
    const where = ['run_id = ?'];
    const params: string[] = [runId];
    if (filter.nodeId !== undefined) {
      where.push('node_id = ?');
      params.push(filter.nodeId);
    }
    if (filter.kind !== undefined) {
      where.push('kind = ?');
      params.push(filter.kind);
    }
    return this.db
      .prepare(`SELECT * FROM artifacts WHERE ${where.join(' AND ')} ORDER BY rowid`)
      .all(...params)
      .map((r) => artifactFromRow(parseRow(ArtifactRowSchema, r, 'artifacts')));
  }

  /** Absolute path of an artifact's blob file. */
  artifactFile(a: Pick<ArtifactRecord, 'path'>): string {
    return path.join(this.dataDir, ...a.path.split('/'));
  }

  /** Whether the blob exists with the recorded size and sha256. */
  verifyArtifact(a: ArtifactRecord): boolean {
    const file = this.artifactFile(a);
    try {
      if (fs.statSync(file).size !== a.bytes) return false;
    } catch {
      return false;
    }
    return sha256OfFile(file) === a.sha256;
  }

  /** Read a payload, refusing it when the file is missing or does not match its sha256. */
  readArtifact(a: ArtifactRecord): Buffer {
    const file = this.artifactFile(a);
    let data: Buffer;
    try {
      data = fs.readFileSync(file);
    } catch (err) {
      throw new Error(`artifact ${a.id}: cannot read ${file}: ${errorMessage(err)}`);
    }
    if (data.byteLength !== a.bytes || sha256Of(data) !== a.sha256) {
      throw new Error(
        `artifact ${a.id}: ${file} does not match its recorded sha256 (corrupt or replaced)`,
      );
    }
    return data;
  }

  /**
   * Remove blob files no artifact references and temp files left by killed writers. Run it from a
   * maintenance command, not at every open: it walks the whole blob folder.
   */
  collectGarbage(): { readonly removed: readonly string[] } {
    const root = path.join(this.dataDir, 'blobs');
    if (!fs.existsSync(root)) return { removed: [] };
    const used = new Set(
      (this.db.prepare('SELECT DISTINCT path FROM artifacts').all() as { path: string }[]).map(
        (r) => r.path,
      ),
    );
    const removed: string[] = [];
    for (const entry of fs.readdirSync(root, { withFileTypes: true })) {
      const rel = path.posix.join('blobs', entry.name);
      if (entry.isFile()) {
        if (/\.tmp-(\d+)-/.test(entry.name) && !tempOwnerAlive(entry.name)) {
          fs.rmSync(path.join(root, entry.name), { force: true });
          removed.push(rel);
        }
        continue;
      }
      if (!entry.isDirectory()) continue;
      for (const f of fs.readdirSync(path.join(root, entry.name))) {
        const frel = path.posix.join(rel, f);
        const isTemp = /\.tmp-(\d+)-/.test(f);
        if ((isTemp && !tempOwnerAlive(f)) || (!isTemp && !used.has(frel))) {
          removeBlob(this.dataDir, frel);
          removed.push(frel);
        }
      }
    }
    return { removed };
  }
}

const IO_REASONS: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'the filesystem is read-only',
  ENOTDIR: 'a parent path is not a directory',
};

/** Say in words why a payload could not be stored; a missing source file is the caller's fault. */
function blobError(err: unknown, dataDir: string, source: string | undefined): Error {
  const code = (err as { code?: unknown } | null)?.code;
  const c = typeof code === 'string' ? code : undefined;
  if (source !== undefined && c === 'ENOENT' && !fs.existsSync(source)) {
    return new InputError(`artifact source file ${source} does not exist`);
  }
  const reason = (c && IO_REASONS[c]) ?? errorMessage(err);
  return new Error(
    `cannot store the artifact payload under ${path.join(dataDir, 'blobs')}: ${reason}${c ? ` (${c})` : ''}`,
    { cause: err },
  );
}

function tempOwnerAlive(name: string): boolean {
  const m = /\.tmp-(\d+)-/.exec(name);
  if (!m) return false;
  return processAlive(Number(m[1]));
}

/** Whether a process with this pid exists (EPERM means it exists but belongs to someone else). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
