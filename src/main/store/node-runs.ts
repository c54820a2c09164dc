/** Per-node rows of a run (table `node_runs`). */
import { iso, toJson, type Connection, type When } from './connection.ts';
import { NodeRunRowSchema, type NodeRunRecord } from './schemas.ts';
import type { NodeRunStatus } from '../../shared/runs.ts';

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

function stamp(at: When | null | undefined): string | null | undefined {
  return at === undefined ? undefined : at === null ? null : iso(at);
}

export class NodeRunRepository {
  constructor(private readonly db: Connection) {}

  /** Insert or update one node's row; fields left undefined keep their stored values. */
  upsert(args: NodeRunArgs): void {
    const started = stamp(args.started);
    const finished = stamp(args.finished);
    const summary = args.summary === undefined ? undefined : toJson(args.summary, 'node summary');
    this.db.tx(() => {
      const p = this.db.get(
        NodeRunRowSchema,
        'node_runs',
        'SELECT * FROM node_runs WHERE run_id = ? AND node_id = ?',
        args.runId,
        args.nodeId,
      );
      const keepJson =
        p?.summary === undefined || p.summary === null ? null : JSON.stringify(p.summary);
      this.db.run(
        `INSERT OR REPLACE INTO node_runs
           (run_id, node_id, type, status, started, finished, cached, error, summary)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        args.runId,
        args.nodeId,
        args.type,
        args.status,
        started === undefined ? (p?.started ?? null) : started,
        finished === undefined ? (p?.finished ?? null) : finished,
        (args.cached ?? p?.cached) ? 1 : 0,
        args.error === undefined ? (p?.error ?? null) : args.error,
        summary === undefined ? keepJson : summary,
      );
    });
  }

  /** A run's node rows in start order (never-started nodes last). */
  ofRun(runId: string): NodeRunRecord[] {
    return this.db.all(
      NodeRunRowSchema,
      'node_runs',
      'SELECT * FROM node_runs WHERE run_id = ? ORDER BY started IS NULL, started, rowid',
      runId,
    );
  }

  /**
   * Give the nodes still queued or running when their run ended a final status, stamping
   * `finished` where it is not set. Call inside the run's transaction.
   */
  closeOpen(runId: string, status: NodeRunStatus, finished: string): void {
    this.db.run(
      `UPDATE node_runs SET status = ?, finished = COALESCE(finished, ?)
       WHERE run_id = ? AND status IN ('queued', 'running')`,
      status,
      finished,
      runId,
    );
  }
}
