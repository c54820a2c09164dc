/**
 * Sweeps (table `sweeps`): a group of runs, one per point of a config grid or draw. The row keeps
 * the spec and the base pipeline, so the points can be expanded again after a restart and the
 * ones without a finished run resumed; each run of the group carries `sweep_id` and `sweep_point`.
 */
import { InputError } from '../engine/errors.ts';
import type { SweepStatus } from '../../shared/sweeps.ts';
import { escapeLike, iso, toJson, type Connection, type When } from './connection.ts';
import { newId } from './ids.ts';
import {
  NodeTimingRowSchema,
  SweepRowSchema,
  SweepRunRowSchema,
  type NodeTimingRecord,
  type SweepRecord,
  type SweepRunRecord,
} from './schemas.ts';

export interface CreateSweepArgs {
  readonly id?: string;
  readonly pipelineId?: string | null;
  readonly name: string;
  /** The sweep spec (validated by the caller). */
  readonly spec: unknown;
  /** The base pipeline. */
  readonly pipeline: unknown;
  /** Seed of every run. */
  readonly seed: number;
  /** Number of points. */
  readonly points: number;
  readonly at?: When;
}

/** Most recorded node timings an estimate reads (the newest). */
const TIMING_ROWS = 2000;

export class SweepRepository {
  constructor(private readonly db: Connection) {}

  create(args: CreateSweepArgs): SweepRecord {
    const id = args.id ?? newId('sweep');
    this.db.tx(() => {
      this.db.run(
        `INSERT INTO sweeps (id, pipeline_id, name, spec, pipeline, seed, points, status, created)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?)`,
        id,
        args.pipelineId ?? null,
        args.name,
        toJson(args.spec, 'sweep spec'),
        toJson(args.pipeline, 'sweep pipeline'),
        args.seed,
        args.points,
        iso(args.at),
      );
    });
    return this.require(id);
  }

  get(id: string): SweepRecord | null {
    return this.db.get(SweepRowSchema, 'sweeps', 'SELECT * FROM sweeps WHERE id = ?', id) ?? null;
  }

  /** Newest first. */
  list(limit = 200): SweepRecord[] {
    return this.db.all(
      SweepRowSchema,
      'sweeps',
      'SELECT * FROM sweeps ORDER BY created DESC, rowid DESC LIMIT ?',
      limit,
    );
  }

  /** Sweep ids equal to `prefix` or starting with it (CLI abbreviations). */
  findIds(prefix: string): string[] {
    return this.db
      .all(
        SweepRowSchema,
        'sweeps',
        "SELECT * FROM sweeps WHERE id = ? OR id LIKE ? ESCAPE '\\' ORDER BY id LIMIT 20",
        prefix,
        `${escapeLike(prefix)}%`,
      )
      .map((s) => s.id);
  }

  /** Mark the sweep running in this process (so a restart can tell it was interrupted). */
  claim(id: string): SweepRecord {
    this.db.tx(() => {
      const n = this.db.run(
        "UPDATE sweeps SET status = 'running', pid = ?, finished = NULL WHERE id = ? AND status != 'running'",
        process.pid,
        id,
      );
      if (n === 0) {
        const s = this.get(id);
        if (!s) throw new InputError(`unknown sweep '${id}'`);
        throw new InputError(`sweep '${id}' is already running (process ${s.pid ?? '?'})`);
      }
    });
    return this.require(id);
  }

  /** Final status of a pass over the points. */
  finish(id: string, status: Exclude<SweepStatus, 'queued' | 'running'>, at?: When): SweepRecord {
    this.db.run('UPDATE sweeps SET status = ?, finished = ? WHERE id = ?', status, iso(at), id);
    return this.require(id);
  }

  /** The runs of a sweep, by point then creation (a resumed point has several). */
  runs(id: string): SweepRunRecord[] {
    return this.db.all(
      SweepRunRowSchema,
      'runs',
      `SELECT id, sweep_point, status FROM runs WHERE sweep_id = ? AND sweep_point IS NOT NULL
       ORDER BY sweep_point, created, rowid`,
      id,
    );
  }

  /**
   * Mark sweeps found `running` whose owner process is dead (or unknown) as `interrupted`;
   * returns their ids.
   */
  markInterrupted(isProcessAlive: (pid: number) => boolean): string[] {
    const running = this.db.all(
      SweepRowSchema,
      'sweeps',
      "SELECT * FROM sweeps WHERE status = 'running'",
    );
    const dead = running.filter((s) => s.pid === null || !isProcessAlive(s.pid)).map((s) => s.id);
    const now = iso(undefined);
    this.db.tx(() => {
      for (const id of dead) {
        this.db.run(
          "UPDATE sweeps SET status = 'interrupted', finished = ? WHERE id = ? AND status = 'running'",
          now,
          id,
        );
      }
    });
    return dead;
  }

  /**
   * Recorded run times of nodes of these types that ran (not served from the cache), newest
   * first, with the pipeline snapshot of their run so callers can match configs.
   */
  nodeTimings(types: readonly string[]): NodeTimingRecord[] {
    if (types.length === 0) return [];
    const marks = types.map(() => '?').join(', ');
    return this.db.all(
      NodeTimingRowSchema,
      'node_runs',
      `SELECT n.node_id, n.type,
              (julianday(n.finished) - julianday(n.started)) * 86400.0 AS seconds,
              r.config
         FROM node_runs n JOIN runs r ON r.id = n.run_id
        WHERE n.status = 'done' AND n.cached = 0
          AND n.started IS NOT NULL AND n.finished IS NOT NULL
          AND n.type IN (${marks})
        ORDER BY n.finished DESC
        LIMIT ${TIMING_ROWS}`,
      ...types,
    );
  }

  private require(id: string): SweepRecord {
    const s = this.get(id);
    if (!s) throw new InputError(`unknown sweep '${id}'`);
    return s;
  }
}
