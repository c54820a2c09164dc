import { describe, expect, it } from 'vitest';
import { materializeTask } from '../../../src/main/engine/data/tasks.ts';
import type { TaskData } from '../../../src/main/engine/data/types.ts';
import { run } from '../../../src/main/nodes/eval-reference.ts';
import { run as drawTasks } from '../../../src/main/nodes/tasks-generate.ts';
import {
  expectInputError,
  nodeContext,
  output,
  TinyChain,
  TINY,
  wire,
} from '../../helpers/nodes.ts';

const chain = new TinyChain();

async function reference(config: Record<string, unknown>) {
  const { ctx } = nodeContext({ nodeId: 'ref', config });
  const res = await run(
    ctx,
    wire({ features: await chain.features(), tasks: await chain.tasks() }),
  );
  return { res, results: output(res, 'metrics', 'metrics').results };
}

/** Nearest class mean, written out: the test accuracy of assigning each test sample the closest mean. */
function ncm(td: TaskData, k: number, d: number): number {
  const means = Array.from({ length: k }, () => new Float64Array(d));
  const counts = new Array<number>(k).fill(0);
  td.yTrain.forEach((y, i) => {
    counts[y]++;
    for (let j = 0; j < d; j++) means[y][j] += td.xTrain[i * d + j];
  });
  means.forEach((m, c) => m.forEach((_, j) => (m[j] /= counts[c])));
  let right = 0;
  td.yTest.forEach((y, i) => {
    const dist = means.map((m) => m.reduce((s, v, j) => s + (td.xTest[i * d + j] - v) ** 2, 0));
    if (dist.indexOf(Math.min(...dist)) === y) right++;
  });
  return right / td.yTest.length;
}

describe('eval.reference', () => {
  it('reports nearest-class-mean test accuracy at epoch 0, one row per split', async () => {
    const feat = (await chain.features()).data;
    const t = (await chain.tasks()).tasks;
    const { res, results } = await reference({
      method: 'ncm',
      splits: ['seen', 'unseen-combo', 'unseen-class'],
      maxTasks: 2,
    });
    expect(results.map((r) => [r.method, r.split, r.epochs, r.perTask.length])).toEqual([
      ['ncm', 'seen', [0], 2],
      ['ncm', 'unseen-combo', [0], 1],
      ['ncm', 'unseen-class', [0], 1],
    ]);
    const byId = new Map([...t.seen, ...t.unseenCombo, ...t.unseenClass].map((x) => [x.id, x]));
    for (const r of results) {
      for (const p of r.perTask) {
        const task = byId.get(p.taskId);
        if (!task) throw new Error(`unknown task ${p.taskId}`);
        expect(p.accuracy[0]).toBeCloseTo(ncm(materializeTask(feat, task), 3, 6), 6);
      }
    }
    const seen = results[0].perTask.map((p) => p.accuracy[0]);
    expect(results[0].mean[0]).toBeCloseTo((seen[0] + seen[1]) / 2, 6);
    expect(res.summary?.metrics).toHaveProperty('accuracy/unseen-class/ncm@0', results[2].mean[0]);
  });

  it('names rows by method and sample source, or by its label', async () => {
    const lda = await reference({ method: 'lda', samples: 'support', perClass: 2, maxTasks: 1 });
    expect(lda.results.map((r) => r.method)).toEqual(['lda_support']);
    const acc = lda.results[0].mean[0];
    expect(acc).toBeGreaterThanOrEqual(0);
    expect(acc).toBeLessThanOrEqual(1);
    const labelled = await reference({ method: 'lda', label: 'LDA', maxTasks: 1 });
    expect(labelled.results.map((r) => r.method)).toEqual(['LDA']);
  });

  it('refuses a split its Tasks input drew no task of, naming the node', async () => {
    const { ctx: tctx } = nodeContext({ config: { ...TINY.tasks, numUnseenCombo: 0 } });
    const tasks = output(
      await drawTasks(tctx, wire({ dataset: await chain.dataset() })),
      'tasks',
      'tasks',
    );
    const { ctx } = nodeContext({ nodeId: 'ref', config: { splits: ['unseen-combo'] } });
    await expectInputError(
      run(ctx, wire({ features: await chain.features(), tasks })),
      /^ref: the Tasks node drew no 'unseen-combo' tasks/,
    );
  });
});
