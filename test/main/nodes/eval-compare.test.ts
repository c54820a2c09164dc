import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/main/engine/rng.ts';
import type { NodeContext } from '../../../src/main/graph/types.ts';
import { unrestrictedPolicy } from '../../../src/main/paths/policy.ts';
import { run, tableMetrics } from '../../../src/main/nodes/eval-compare.ts';
import type { MethodResult, PortValue } from '../../../src/main/nodes/values.ts';

function ctx(logs: string[]): NodeContext {
  return {
    runId: 'r',
    nodeId: 'cmp',
    config: {},
    seed: 0,
    rng: new Rng(0),
    signal: new AbortController().signal,
    progress: () => undefined,
    log: (m) => void logs.push(m),
    artifact: () => undefined,
    dataDir: '/tmp',
    paths: unrestrictedPolicy('/tmp'),
  };
}

const row = (method: string, split = 'seen'): MethodResult => ({
  method,
  split,
  epochs: [0, 5],
  mean: [0.25, 0.75],
  std: [0.05, 0.01],
  perTask: [{ taskId: 't0', accuracy: [0.25, 0.75] }],
});
const metrics = (...rows: MethodResult[]): PortValue => ({ type: 'metrics', results: rows });

describe('eval.compare', () => {
  it('merges the rows of every connected Evaluate node, in edge order, into a table', async () => {
    const out = await run(ctx([]), { metrics: [metrics(row('randinit')), metrics(row('d2nwg'))] });
    const m = out.outputs.metrics;
    expect(m.type === 'metrics' && m.results.map((r) => r.method)).toEqual(['randinit', 'd2nwg']);
    expect(out.summary?.metrics).toEqual({
      'accuracy/seen/randinit@0': 0.25,
      'accuracy/seen/randinit@5': 0.75,
      'accuracy/seen/d2nwg@0': 0.25,
      'accuracy/seen/d2nwg@5': 0.75,
    });
    expect(out.summary?.table).toHaveLength(2);
  });

  it('refuses a duplicate (split, method) and an empty input', async () => {
    await expect(run(ctx([]), { metrics: [metrics(row('a')), metrics(row('a'))] })).rejects.toThrow(
      /two results are labelled 'a' on split 'seen'/,
    );
    await expect(run(ctx([]), { metrics: [] })).rejects.toThrow(/connect at least one Evaluate/);
  });

  it('keeps one row per split and method, grouped seen, unseen-combo, unseen-class', async () => {
    const logs: string[] = [];
    const out = await run(ctx(logs), {
      metrics: [
        metrics(row('a', 'unseen-class'), row('a', 'seen'), row('a', 'unseen-combo')),
        metrics(row('zoo', 'seen')),
        metrics(row('ncm', 'unseen-combo'), row('ncm', 'seen')),
      ],
    });
    const table = out.summary?.table as { split: string; method: string; tasks: number }[];
    expect(table.map((r) => `${r.split} ${r.method}`)).toEqual([
      'seen a',
      'seen zoo',
      'seen ncm',
      'unseen-combo a',
      'unseen-combo ncm',
      'unseen-class a',
    ]);
    expect(table.every((r) => r.tasks === 1)).toBe(true);
    expect(logs).toEqual([]);
  });

  it('names store metrics accuracy/<split>/<method>@<epoch>', () => {
    expect(Object.keys(tableMetrics([row('x'), row('x', 'unseen-class')]))).toEqual([
      'accuracy/seen/x@0',
      'accuracy/seen/x@5',
      'accuracy/unseen-class/x@0',
      'accuracy/unseen-class/x@5',
    ]);
  });
});
