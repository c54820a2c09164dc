/** Runs eval.compare: merges the method rows of several Evaluate nodes into one table. */
import { evalCompareSpec } from '../../shared/nodes/eval-compare.ts';
import { TASK_SPLITS } from '../../shared/nodes/eval-finetune.ts';
import { InputError } from '../engine/errors.ts';
import { nodeRunner } from './define.ts';
import { resultSummary, tableMetrics } from './results.ts';

export { tableMetrics };

export const run = nodeRunner(evalCompareSpec, async (ctx, inputs) => {
  const parts = inputs.metrics;
  const results = parts.flatMap((p) => p.results);
  if (results.length === 0) {
    throw new InputError('connect at least one Evaluate node', `${ctx.nodeId}: metrics`);
  }
  const seen = new Set<string>();
  for (const r of results) {
    const key = `${r.split}\u0000${r.method}`;
    if (seen.has(key)) {
      throw new InputError(
        `two results are labelled '${r.method}' on split '${r.split}'; give the Evaluate nodes distinct labels`,
        ctx.nodeId,
      );
    }
    seen.add(key);
  }
  // One row per (split, method), grouped by split: seen, unseen-combo, unseen-class (any other
  // after them), methods in the order their nodes are connected.
  const rank = (sp: string) => {
    const i = (TASK_SPLITS as readonly string[]).indexOf(sp);
    return i >= 0 ? i : TASK_SPLITS.length;
  };
  const rows = results
    .map((r, i) => ({ r, i }))
    .sort((a, b) => rank(a.r.split) - rank(b.r.split) || a.i - b.i)
    .map((x) => x.r);
  return {
    outputs: { metrics: { type: 'metrics', results: rows } },
    summary: resultSummary(null, rows),
  };
});
