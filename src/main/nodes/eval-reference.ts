/** Runs eval.reference: nearest class mean or LDA on each target task, at epoch 0. */
import { evalReferenceSpec } from '../../shared/nodes/eval-reference.ts';
import { materializeTask } from '../engine/data/tasks.ts';
import { ncmAccuracy } from '../engine/eval/baselines.ts';
import { labelledSupport } from '../engine/eval/inits.ts';
import { ldaAccuracy } from '../engine/eval/discriminant.ts';
import { throwIfAborted } from '../engine/errors.ts';
import { controlOf, nodeRunner } from './define.ts';
import { resultSummary } from './results.ts';
import { tasksOfSplit } from './split-tasks.ts';
import { meanStd } from '../../shared/stats.ts';
import { type MethodResult } from './values.ts';

export const run = nodeRunner(evalReferenceSpec, async (ctx, inputs) => {
  const cfg = ctx.config;
  const { data: feat } = inputs.features;
  const tasksV = inputs.tasks;
  const method = cfg.label || (cfg.samples === 'support' ? `${cfg.method}_support` : cfg.method);
  const d = feat.sampleShape.reduce((a, b) => a * b, 1);
  const bySplit = cfg.splits.map((split) => ({
    split,
    tasks: tasksOfSplit(tasksV, split, cfg.maxTasks, ctx.nodeId),
  }));
  const total = bySplit.reduce((n, g) => n + g.tasks.length, 0);
  const results: MethodResult[] = [];
  let done = 0;
  for (const { split, tasks } of bySplit) {
    const perTask: { taskId: string; accuracy: number[] }[] = [];
    for (const task of tasks) {
      throwIfAborted(ctx.signal);
      const td = materializeTask(feat, task);
      const k = task.classes.length;
      const { x, y } =
        cfg.samples === 'support'
          ? labelledSupport(feat, task, cfg.perClass, ctx.seed)
          : { x: td.xTrain, y: td.yTrain };
      const acc =
        cfg.method === 'lda'
          ? ldaAccuracy(x, y, td.xTest, td.yTest, k, d, cfg.shrinkage)
          : ncmAccuracy(x, y, td.xTest, td.yTest, k, d);
      perTask.push({ taskId: task.id, accuracy: [acc] });
      done += 1;
      controlOf(ctx).onProgress?.({
        value: done,
        max: total,
        unit: 'task',
        label: `${method} (${split})`,
      });
    }
    const st = meanStd(perTask.map((p) => p.accuracy[0]));
    results.push({ method, split, epochs: [0], mean: [st.mean], std: [st.std], perTask });
  }
  return {
    outputs: { metrics: { type: 'metrics', results } },
    summary: resultSummary(method, results),
  };
});
