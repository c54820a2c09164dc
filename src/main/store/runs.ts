/** Runs: their lifecycle (queued → running → an outcome), listing and lookup (table `runs`). */
import { InputError } from '../engine/errors.ts';
import { formatIssues } from '../../shared/issues.ts';
import {
  RunAnnotationSchema,
  type RunAnnotation,
  type RunOutcome,
  type RunStatus,
} from '../../shared/runs.ts';
import { escapeLike, iso, toJson, type Connection, type When } from './connection.ts';
import { newId } from './ids.ts';
import type { NodeRunRepository } from './node-runs.ts';
import {
  CountRowSchema,
  IdRowSchema,
  RunRowSchema,
  RunStateRowSchema,
  TagCountRowSchema,
  type NodeRunRecord,
  type RunRecord,
} from './schemas.ts';

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
  /** The sweep point this run is, if any. */
  readonly sweep?: { readonly id: string; readonly point: number };
  readonly at?: When;
}

export interface FinishRunArgs {
  /** Final status. */
  readonly status: RunOutcome;
  /** Message shown for a failed run. */
  readonly error?: string | null;
  readonly at?: When;
}

export interface ListRunsQuery {
  readonly status?: RunStatus;
  readonly pipelineId?: string;
  /** Case-insensitive substring of the run name, id, notes or one of its tags. */
  readonly search?: string;
  /** Only runs carrying this tag (exact). */
  readonly tag?: string;
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

export type RunDetail = RunRecord & { readonly nodes: readonly NodeRunRecord[] };

export class RunRepository {
  constructor(
    private readonly db: Connection,
    private readonly nodes: NodeRunRepository,
  ) {}

  create(args: CreateRunArgs): RunRecord {
    const id = args.id ?? newId('run');
    const now = iso(args.at);
    const status = args.status ?? 'queued';
    this.db.tx(() => {
      this.db.run(
        `INSERT INTO runs (id, pipeline_id, name, status, config, seed, backend, versions,
                           created, started, pid, sweep_id, sweep_point)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
        args.sweep?.id ?? null,
        args.sweep?.point ?? null,
      );
    });
    return this.require(id);
  }

  /** Mark a queued run running, owned by this process. */
  start(id: string, at?: When): RunRecord {
    this.db.tx(() => {
      const n = this.db.run(
        "UPDATE runs SET status = 'running', started = ?, pid = ? WHERE id = ? AND status IN ('queued', 'running')",
        iso(at),
        process.pid,
        id,
      );
      if (n === 0) this.throwState(id, 'start');
    });
    return this.require(id);
  }

  /** Final status; stamps `finished` and `duration_s` (from `started`). */
  finish(id: string, args: FinishRunArgs): RunRecord {
    const finished = iso(args.at);
    this.db.tx(() => {
      const row = this.state(id);
      if (!row) throw new InputError(`unknown run '${id}'`);
      const duration =
        row.started === null ? null : (Date.parse(finished) - Date.parse(row.started)) / 1000;
      this.db.run(
        'UPDATE runs SET status = ?, finished = ?, duration_s = ?, error = ? WHERE id = ?',
        args.status,
        finished,
        duration,
        args.error ?? null,
        id,
      );
      // Nodes still open when the run ends did not get to finish.
      this.nodes.closeOpen(id, args.status === 'done' ? 'skipped' : 'cancelled', finished);
    });
    return this.require(id);
  }

  list(q: ListRunsQuery = {}): ListRunsResult {
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
      where.push(
        "(lower(name) LIKE ? ESCAPE '\\' OR lower(id) LIKE ? ESCAPE '\\' OR lower(notes) LIKE ? ESCAPE '\\'" +
          " OR EXISTS (SELECT 1 FROM json_each(runs.tags) WHERE lower(value) LIKE ? ESCAPE '\\'))",
      );
      params.push(like, like, like, like);
    }
    if (q.tag) {
      where.push('EXISTS (SELECT 1 FROM json_each(runs.tags) WHERE value = ?)');
      params.push(q.tag);
    }
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const limit = Math.min(Math.max(Math.trunc(q.limit ?? 50), 0), 1000);
    const offset = Math.max(Math.trunc(q.offset ?? 0), 0);
    const total =
      this.db.get(CountRowSchema, 'runs', `SELECT COUNT(*) AS n FROM runs ${clause}`, ...params)
        ?.n ?? 0;
    const runs = this.db.all(
      RunRowSchema,
      'runs',
      `SELECT * FROM runs ${clause} ORDER BY created DESC, rowid DESC LIMIT ? OFFSET ?`,
      ...params,
      limit,
      offset,
    );
    return { runs, total };
  }

  /**
   * Rename, tag or annotate a run (fields left out keep their value; `tags` replaces the list).
   * The change is validated here too, so every caller gets the same rules and messages.
   */
  annotate(id: string, change: RunAnnotation): RunRecord {
    const parsed = RunAnnotationSchema.safeParse(change);
    if (!parsed.success) {
      throw new InputError(`run '${id}': ${formatIssues(parsed.error).join('; ')}`);
    }
    const { name, tags, notes } = parsed.data;
    this.db.tx(() => {
      if (!this.state(id)) throw new InputError(`unknown run '${id}'`);
      this.db.run(
        'UPDATE runs SET name = coalesce(?, name), tags = coalesce(?, tags), notes = coalesce(?, notes) WHERE id = ?',
        name ?? null,
        tags === undefined ? null : toJson(tags, 'run tags'),
        notes ?? null,
        id,
      );
    });
    return this.require(id);
  }

  /** Every tag in use, with how many runs carry it, most used first. */
  tags(): { tag: string; runs: number }[] {
    return this.db
      .all(
        TagCountRowSchema,
        'runs',
        `SELECT value AS tag, COUNT(*) AS runs FROM runs, json_each(runs.tags)
         GROUP BY value ORDER BY runs DESC, value`,
      )
      .map((r) => ({ tag: r.tag, runs: r.runs }));
  }

  /** A run with its node rows (in start order), or null. */
  get(id: string): RunDetail | null {
    const run = this.db.get(RunRowSchema, 'runs', 'SELECT * FROM runs WHERE id = ?', id);
    if (run === undefined) return null;
    return { ...run, nodes: this.nodes.ofRun(id) };
  }

  /** Run ids equal to `prefix` or starting with it (for CLI id abbreviations). */
  findIds(prefix: string): string[] {
    const exact = this.db.get(IdRowSchema, 'runs', 'SELECT id FROM runs WHERE id = ?', prefix);
    if (exact) return [exact.id];
    return this.db
      .all(
        IdRowSchema,
        'runs',
        "SELECT id FROM runs WHERE id LIKE ? ESCAPE '\\' ORDER BY id LIMIT 20",
        `${escapeLike(prefix)}%`,
      )
      .map((r) => r.id);
  }

  exists(id: string): boolean {
    return this.state(id) !== undefined;
  }

  /** Delete the run row; node runs, metrics and artifact rows go with it (ON DELETE CASCADE). */
  delete(id: string): boolean {
    return this.db.run('DELETE FROM runs WHERE id = ?', id) > 0;
  }

  private state(id: string) {
    return this.db.get(
      RunStateRowSchema,
      'runs',
      'SELECT id, status, started, pid FROM runs WHERE id = ?',
      id,
    );
  }

  private throwState(id: string, action: string): never {
    const r = this.state(id);
    if (!r) throw new InputError(`unknown run '${id}'`);
    throw new InputError(`cannot ${action} run '${id}': it is ${r.status}`);
  }

  private require(id: string): RunRecord {
    const run = this.db.get(RunRowSchema, 'runs', 'SELECT * FROM runs WHERE id = ?', id);
    if (run === undefined) throw new InputError(`unknown run '${id}'`);
    return run;
  }
}
