/** Runs eval.compare: merges the method rows of several Evaluate nodes into one table. */
import { evalCompareSpec } from '../../shared/nodes/eval-compare.ts';
import { InputError } from '../engine/errors.ts';
import { nodeRunner } from './define.ts';
import { many, type MethodResult } from './values.ts';

/** Store metric keys for a table: `accuracy/<method>@<epoch>` (mean over tasks). */
export function tableMetrics(results: readonly MethodResult[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of results) {
    r.epochs.forEach((e, i) => {
      out[`accuracy/${r.method}@${e}`] = r.mean[i];
    });
  }
  return out;
}

export const run = nodeRunner(evalCompareSpec, async (ctx, inputs) => {
  const parts = many(inputs, 'metrics', 'metrics');
  const results = parts.flatMap((p) => p.results);
  if (results.length === 0) {
    throw new InputError('connect at least one Evaluate node', `${ctx.nodeId}: metrics`);
  }
  const seen = new Set<string>();
  for (const r of results) {
    if (seen.has(r.method)) {
      throw new InputError(
        `two results are labelled '${r.method}'; give the Evaluate nodes distinct labels`,
        ctx.nodeId,
      );
    }
    seen.add(r.method);
  }
  const splits = new Set(results.map((r) => r.split));
  if (splits.size > 1) {
    ctx.log(`comparing methods evaluated on different splits: ${[...splits].join(', ')}`, 'warn');
  }
  return {
    outputs: { metrics: { type: 'metrics', results } },
    summary: {
      table: results.map((r) => ({
        method: r.method,
        split: r.split,
        epochs: [...r.epochs],
        mean: [...r.mean],
        std: [...r.std],
        tasks: r.perTask.length,
      })),
      metrics: tableMetrics(results),
    },
  };
});
