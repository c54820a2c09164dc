/** The tasks of a split that a node works on (Sampler, Evaluate, Reference, bench quality). */
import type { TaskSplit } from '../../shared/nodes/eval-finetune.ts';
import type { TaskSpec } from '../engine/data/types.ts';
import { InputError } from '../engine/errors.ts';
import type { TasksValue } from './values.ts';

/** The tasks of a split, at most `max` of them (the first ones), refusing an empty selection. */
export function tasksOfSplit(
  tasks: TasksValue,
  split: TaskSplit,
  max: number,
  where: string,
): TaskSpec[] {
  const bySplit: Record<TaskSplit, readonly TaskSpec[]> = {
    seen: tasks.tasks.seen,
    'unseen-combo': tasks.tasks.unseenCombo,
    'unseen-class': tasks.tasks.unseenClass,
    'unseen-dataset': tasks.tasks.unseenDataset ?? [],
  };
  const all = bySplit[split];
  if (all.length === 0) {
    throw new InputError(
      split === 'unseen-dataset'
        ? "no 'unseen-dataset' tasks here: connect the Tasks and Features outputs of an Unseen-dataset tasks node"
        : `the Tasks node drew no '${split}' tasks; raise its count or pick another split`,
      where,
    );
  }
  return all.slice(0, max);
}
