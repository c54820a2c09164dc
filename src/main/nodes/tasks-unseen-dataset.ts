/**
 * Runs tasks.unseen-dataset: the other dataset through the zoo's fitted extractor, and tasks of its
 * classes drawn with the zoo tasks' K and samples per class.
 */
import { tasksUnseenDatasetSpec } from '../../shared/nodes/tasks-unseen-dataset.ts';
import { drawTargetTasks } from '../engine/data/tasks.ts';
import { InputError } from '../engine/errors.ts';
import { applyExtractor, loadExtractor } from '../engine/features/extractor.ts';
import { controlOf, nodeRunner } from './define.ts';

export const run = nodeRunner(tasksUnseenDatasetSpec, async (ctx, inputs) => {
  const { data, sourceConfig } = inputs.dataset;
  const zooTasks = inputs.tasks.tasks;
  const { k, nTrain, nTest, trainFraction } = zooTasks.config;
  const classes = data.classNames.length;
  if (k > classes) {
    throw new InputError(
      `the zoo's tasks have K = ${k} classes but ${data.source} has only ${classes}`,
      `${ctx.nodeId}: dataset`,
    );
  }
  let tuples = 1;
  for (let i = 0; i < k; i++) tuples *= classes - i;
  if (ctx.config.numTasks > tuples) {
    throw new InputError(
      `numTasks = ${ctx.config.numTasks} is more than the ${tuples} distinct ordered ${k}-class tasks of ${data.source}'s ${classes} classes`,
      `${ctx.nodeId}: config.numTasks`,
    );
  }
  // The shape check (naming both shapes) is the extractor's own.
  const ex = loadExtractor(inputs.features.state, `${ctx.nodeId}: features`);
  const feats = await applyExtractor(ex, data, controlOf(ctx));
  const tasks = drawTargetTasks(
    data.labels,
    classes,
    { k, nTrain, nTest, count: ctx.config.numTasks, trainFraction, seed: ctx.config.seed },
    data.classNames,
  );
  return {
    outputs: {
      tasks: {
        type: 'tasks',
        tasks,
        classNames: data.classNames,
        source: data.source,
        datasetSource: sourceConfig,
      },
      features: { ...inputs.features, data: feats },
    },
    summary: {
      k,
      metrics: { unseenDataset: tasks.unseenDataset?.length ?? 0, classes },
    },
  };
});
