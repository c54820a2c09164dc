/** Result rows of evaluation nodes as store metrics and as the summary the CLI and compare read. */
import { ACCURACY_PREFIX, accuracyKeyTail } from '../../shared/schemas/accuracy.ts';
import type { MethodResult } from './values.ts';

/** Store metric keys of result rows: `accuracy/<split>/<method>@<epoch>` (mean over tasks). */
export function tableMetrics(results: readonly MethodResult[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of results) {
    r.epochs.forEach((e, i) => {
      out[`${ACCURACY_PREFIX}${accuracyKeyTail(r.method, r.split)}@${e}`] = r.mean[i];
    });
  }
  return out;
}

/**
 * The summary of an evaluation node: its result rows as a table (method, split, mean and std over
 * the split's tasks at each epoch, task count), as the CLI prints it and runs.compare reads the
 * std from, and the means as store metrics.
 */
export function resultSummary(method: string | null, results: readonly MethodResult[]) {
  return {
    ...(method !== null ? { method } : {}),
    splits: [...new Set(results.map((r) => r.split))],
    table: results.map((r) => ({
      method: r.method,
      split: r.split,
      epochs: [...r.epochs],
      mean: [...r.mean],
      std: [...r.std],
      tasks: r.perTask.length,
    })),
    metrics: tableMetrics(results),
  };
}
