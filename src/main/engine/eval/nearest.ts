/**
 * The zoo checkpoint nearest a task "in function": the one that classifies the task's training
 * samples best. One definition for the Evaluate node and the quality benchmark, behind two
 * baselines: noise_nearest (that checkpoint plus noise) and weight_avg (the average of every
 * checkpoint of that checkpoint's task). For a seen task it is normally one of the task's own
 * checkpoints. It uses the task's labelled training samples, as d2nwg_best's ranking does; the
 * test samples every method is scored on are never used.
 */
import type { Layout } from '../nn/architecture.ts';
import { evaluateMany } from '../nn/train.ts';

export interface ZooRows {
  /** count × dim checkpoint vectors, row-major. */
  readonly vectors: Float32Array;
  /** The task id of each checkpoint. */
  readonly taskIds: readonly string[];
}

export interface NearestCheckpoint {
  /** Row of the checkpoint with the highest training accuracy (lowest row on ties). */
  readonly index: number;
  /** Its accuracy on the task's training samples. */
  readonly accuracy: number;
  /** Every row of the same zoo task as `index`, in zoo order. */
  readonly taskRows: number[];
}

/** Score every checkpoint on (xTrain, yTrain) as model batches and pick the best. */
export async function nearestCheckpoint(
  layout: Layout,
  zoo: ZooRows,
  xTrain: Float32Array,
  yTrain: Int32Array,
): Promise<NearestCheckpoint> {
  const d = layout.size;
  const count = zoo.taskIds.length;
  const rows = Array.from({ length: count }, (_, i) => zoo.vectors.subarray(i * d, (i + 1) * d));
  const acc = (await evaluateMany(layout, rows, xTrain, yTrain)).map((e) => e.accuracy);
  let index = 0;
  for (let i = 1; i < count; i++) if (acc[i] > acc[index]) index = i;
  const task = zoo.taskIds[index];
  const taskRows: number[] = [];
  zoo.taskIds.forEach((t, i) => {
    if (t === task) taskRows.push(i);
  });
  return { index, accuracy: acc[index], taskRows };
}
