/** The conditioning task as export manifests and weights artifacts describe it. */
import type { TaskSpec } from '../data/types.ts';
import type { ExportTask } from './index.ts';

/** The task as export manifests describe it (class names in output order). */
export function taskOf(task: TaskSpec, classNames: readonly string[]): ExportTask {
  return {
    id: task.id,
    split: task.split,
    classes: [...task.classes],
    classNames: task.classes.map((c) => classNames[c] ?? `class ${c}`),
  };
}

/** What `testAccuracy` is measured on, in words. */
export function testAccuracyOn(task: TaskSpec): string {
  return `the ${task.testIndex.length} test samples of task ${task.id}`;
}
