/** Runs tasks.generate: draws seen / unseen-combo / unseen-class tasks from the dataset's labels. */
import { tasksGenerateSpec } from '../../shared/nodes/tasks-generate.ts';
import { generateTasks } from '../engine/data/tasks.ts';
import { nodeRunner } from './define.ts';

export const run = nodeRunner(tasksGenerateSpec, async (ctx, inputs) => {
  const { data, sourceConfig } = inputs.dataset;
  const tasks = generateTasks(data.labels, data.classNames.length, ctx.config, data.classNames);
  return {
    outputs: {
      tasks: {
        type: 'tasks',
        tasks,
        classNames: data.classNames,
        source: data.source,
        datasetSource: sourceConfig,
      },
    },
    summary: {
      k: tasks.config.k,
      heldOut: tasks.heldOut,
      metrics: {
        seen: tasks.seen.length,
        unseenCombo: tasks.unseenCombo.length,
        unseenClass: tasks.unseenClass.length,
      },
    },
  };
});
