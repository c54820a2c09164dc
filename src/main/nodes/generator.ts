/**
 * What the encoder, diffusion and sampler nodes share: pairing zoo members with their tasks and
 * drawing support sets, exactly as the quality benchmark does, so a pipeline and `d2nwg bench
 * quality` train the same way.
 */
import { taskSupportSet } from '../engine/data/tasks.ts';
import type { LabelledData, TaskSpec } from '../engine/data/types.ts';
import { InputError } from '../engine/errors.ts';
import type { Rng } from '../engine/rng.ts';
import { resolveTaskId } from '../engine/zoo/augment.ts';
import type { TasksValue, ZooValue } from './values.ts';

/** Zoo members and the seen task each was trained on. */
export interface ZooPairs {
  /** Index into `tasks` of each member's task. */
  readonly groups: Int32Array;
  /** The seen tasks (then any permuted copies the zoo's members name), index = group. */
  readonly tasks: readonly TaskSpec[];
  /** K. */
  readonly k: number;
}

/**
 * Map each zoo member to its seen task, or to a class-permuted copy of one (a zoo augmented by
 * output permutations names those `<task id>~<perm>`); a member naming a task the Tasks node
 * lacks is refused.
 */
export function zooPairs(zoo: ZooValue, tasksV: TasksValue, where: string): ZooPairs {
  const seen = tasksV.tasks.seen;
  const byId = new Map(seen.map((t) => [t.id, t]));
  const tasks: TaskSpec[] = [...seen];
  const index = new Map(seen.map((t, i) => [t.id, i]));
  const members = zoo.zoo.manifest.members;
  const groups = new Int32Array(members.length);
  members.forEach((m, i) => {
    let g = index.get(m.taskId);
    if (g === undefined) {
      const task = resolveTaskId(m.taskId, byId);
      if (!task) {
        throw new InputError(
          `zoo member ${i} was trained on task '${m.taskId}', which the Tasks node did not draw; use the task config the zoo was built with`,
          where,
        );
      }
      g = tasks.length;
      tasks.push(task);
      index.set(task.id, g);
    }
    groups[i] = g;
  });
  return { groups, tasks, k: tasksV.tasks.config.k };
}

/** Support sets (count × K × perClass × d) for every member, each from its own task. */
export function memberSupportSets(
  feat: LabelledData,
  pairs: ZooPairs,
  perClass: number,
  rng: Rng,
): Float32Array {
  const d = feat.sampleShape[0];
  const setSize = pairs.k * perClass * d;
  const n = pairs.groups.length;
  const out = new Float32Array(n * setSize);
  for (let i = 0; i < n; i++) {
    out.set(
      taskSupportSet(feat, pairs.tasks[pairs.groups[i]], perClass, rng.fork(i)).x,
      i * setSize,
    );
  }
  return out;
}
