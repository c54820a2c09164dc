/** Runs eval.reference: nearest class mean or LDA on each target task, at epoch 0. */
import { evalReferenceSpec } from '../../shared/nodes/eval-reference.ts';
import { materializeTask, supportLabels, taskSupportSet } from '../engine/data/tasks.ts';
import { ncmAccuracy } from '../engine/eval/baselines.ts';
import { ldaAccuracy } from '../engine/eval/discriminant.ts';
import { throwIfAborted } from '../engine/errors.ts';
import { controlOf, meanStd, nodeRunner, tasksOfSplit } from './define.ts';
import { one, type MethodResult } from './values.ts';

export const run = nodeRunner(evalReferenceSpec, async (ctx, inputs) => {
  const cfg = ctx.config;
  const { data: feat } = one(inputs, 'features', 'features');
  const tasksV = one(inputs, 'tasks', 'tasks');
  const tasks = tasksOfSplit(tasksV, cfg.split, cfg.maxTasks, ctx.nodeId);
  const method = cfg.label || (cfg.samples === 'support' ? `${cfg.method}_support` : cfg.method);
  const d = feat.sampleShape.reduce((a, b) => a * b, 1);
  const perTask: { taskId: string; accuracy: number[] }[] = [];
  for (const [i, task] of tasks.entries()) {
    throwIfAborted(ctx.signal);
    const td = materializeTask(feat, task);
    const k = task.classes.length;
    let x = td.xTrain;
    let y = td.yTrain;
    if (cfg.samples === 'support') {
      const s = taskSupportSet(feat, task, cfg.perClass, ctx.rng.fork('support').fork(task.id));
      x = s.x;
      y = supportLabels(k, cfg.perClass);
    }
    const acc =
      cfg.method === 'lda'
        ? ldaAccuracy(x, y, td.xTest, td.yTest, k, d, cfg.shrinkage)
        : ncmAccuracy(x, y, td.xTest, td.yTest, k, d);
    perTask.push({ taskId: task.id, accuracy: [acc] });
    controlOf(ctx).onProgress?.({ value: i + 1, max: tasks.length, unit: 'task', label: method });
  }
  const s = meanStd(perTask.map((p) => p.accuracy[0]));
  const result: MethodResult = {
    method,
    split: cfg.split,
    epochs: [0],
    mean: [s.mean],
    std: [s.std],
    perTask,
  };
  return {
    outputs: { metrics: { type: 'metrics', results: [result] } },
    summary: {
      method,
      split: cfg.split,
      epochs: [0],
      mean: result.mean,
      std: result.std,
      tasks: perTask.length,
      metrics: { [`accuracy/${method}@0`]: s.mean },
    },
  };
});
