/**
 * The spread over tasks of an evaluation, as its node summary keeps it. The metrics table holds
 * only the mean (`accuracy/<split>/<method>@<epoch>`), so runs.compare reads the std over tasks
 * from the summaries of the Evaluate, Reference and Compare nodes and hands it on as
 * `accuracy_std/<split>/<method>` series, which the accuracy chart draws as error bars.
 */
import { z } from 'zod';
import { TASK_SPLITS } from '../nodes/eval-finetune.ts';

/** Metric key prefix of the mean accuracy series. */
export const ACCURACY_PREFIX = 'accuracy/';
/** Metric key prefix of the std-over-tasks series. */
export const ACCURACY_STD_PREFIX = 'accuracy_std/';

/** The splits a key may name. */
const SPLIT_NAMES: readonly string[] = TASK_SPLITS;

/**
 * The part of a metric key after its prefix: `<split>/<method>`, or `<method>` for a result
 * without a split (older runs).
 */
export function accuracyKeyTail(method: string, split?: string): string {
  return split ? `${split}/${method}` : method;
}

/** The inverse of accuracyKeyTail: a known split before the first '/', else no split. */
export function parseAccuracyKeyTail(tail: string): { split?: string; method: string } {
  const i = tail.indexOf('/');
  if (i > 0 && SPLIT_NAMES.includes(tail.slice(0, i))) {
    return { split: tail.slice(0, i), method: tail.slice(i + 1) };
  }
  return { method: tail };
}

/** One method's row: std over tasks at each fine-tuning epoch (NaN is stored as null). */
const StdRow = z
  .object({
    method: z.string().min(1),
    split: z.string().optional(),
    epochs: z.array(z.number().int()),
    std: z.array(z.number().nullable()),
  })
  .refine((r) => r.epochs.length === r.std.length, {
    message: 'epochs and std must have the same length',
  });

/** An Evaluate/Reference summary (one row) or a Compare summary (a table of rows). */
const StdSummary = z.union([StdRow, z.object({ table: z.array(StdRow) })]);

/** The std-over-tasks rows in a node summary; none when it holds no (valid) evaluation. */
export function accuracyStdOfSummary(summary: unknown): {
  readonly method: string;
  readonly split?: string;
  readonly epochs: number[];
  readonly std: number[];
}[] {
  const parsed = StdSummary.safeParse(summary);
  if (!parsed.success) return [];
  const rows = 'table' in parsed.data ? parsed.data.table : [parsed.data];
  return rows.map((r) => ({
    method: r.method,
    ...(r.split ? { split: r.split } : {}),
    epochs: r.epochs,
    std: r.std.map((v) => v ?? Number.NaN),
  }));
}
