/** Scalar metric points of runs (table `metrics`), and runs aligned for comparison. */
import { InputError } from '../engine/errors.ts';
import type { Connection } from './connection.ts';
import { MetricRowSchema, type MetricPoint } from './schemas.ts';

export interface MetricInput {
  readonly key: string;
  /** Epoch, step or sample index; integer. */
  readonly step: number;
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

export class MetricRepository {
  constructor(private readonly db: Connection) {}

  /** Append (or overwrite same run/node/key/step) metric points, all in one transaction. */
  add(runId: string, nodeId: string, points: readonly MetricInput[]): void {
    for (const p of points) {
      if (!Number.isInteger(p.step)) {
        throw new InputError(`metric '${p.key}': step must be an integer, got ${p.step}`);
      }
    }
    this.db.tx(() => {
      for (const p of points) {
        this.db.run(
          'INSERT OR REPLACE INTO metrics (run_id, node_id, key, step, value) VALUES (?, ?, ?, ?, ?)',
          runId,
          nodeId,
          p.key,
          p.step,
          Number.isNaN(p.value) ? null : p.value,
        );
      }
    });
  }

  /** All points of one run, ordered by node, key, step. */
  of(runId: string, key?: string): MetricPoint[] {
    return key === undefined
      ? this.db.all(
          MetricRowSchema,
          'metrics',
          'SELECT * FROM metrics WHERE run_id = ? ORDER BY node_id, key, step',
          runId,
        )
      : this.db.all(
          MetricRowSchema,
          'metrics',
          'SELECT * FROM metrics WHERE run_id = ? AND key = ? ORDER BY node_id, step',
          runId,
          key,
        );
  }

  /**
   * The points of every run whose key starts with `prefix` (a range over the key index, so the
   * other keys' points, a loss curve's thousands of steps, are never read), ordered by run, node,
   * key, step.
   */
  withPrefix(prefix: string): MetricPoint[] {
    if (prefix === '') throw new InputError('metrics: a key prefix cannot be empty');
    // Every key starting with `prefix` sorts in [prefix, prefix with its last character + 1).
    const last = prefix.charCodeAt(prefix.length - 1);
    const upper = prefix.slice(0, -1) + String.fromCharCode(last + 1);
    return this.db.all(
      MetricRowSchema,
      'metrics',
      'SELECT * FROM metrics WHERE key >= ? AND key < ? ORDER BY run_id, node_id, key, step',
      prefix,
      upper,
    );
  }

  /** Metrics of several runs side by side, aligned on (node, key, step). */
  table(runIds: readonly string[], key?: string): MetricsTable {
    const index = new Map<
      string,
      { nodeId: string; key: string; step: number; values: (number | null)[] }
    >();
    runIds.forEach((runId, col) => {
      for (const p of this.of(runId, key)) {
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
}
