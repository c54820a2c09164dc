/**
 * The zoo checkpoint nearest a task "in function": the one that classifies the task's training
 * samples best. One definition for the Evaluate node and the quality benchmark, behind two
 * baselines: noise_nearest (that checkpoint plus noise) and weight_avg (the average of every
 * checkpoint of that checkpoint's task). For a seen task it is normally one of the task's own
 * checkpoints. It uses the task's labelled training samples, as d2nwg_best's ranking does; the
 * test samples every method is scored on are never used.
 *
 * Every checkpoint is scored on every training sample (an exhaustive pick, no subsampling). What
 * makes that affordable on CNN zoos is the evaluation route of model batches (nn/batch.ts,
 * forwardEval): one shared copy of the samples and each model's convolutions with the bias inside.
 */
import { InputError } from '../errors.ts';
import { forwardMacs, type Layout } from '../nn/architecture.ts';
import { evaluateMany } from '../nn/train.ts';
import { evalThreads, evaluateRowsThreaded } from './threads.ts';

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
  readonly taskRows: readonly number[];
}

/**
 * Scored zoos, by their rows: noise_nearest and weight_avg of one run score the same checkpoints
 * on the same training samples (CNN zoos spend minutes on it), so the second reuses the first's.
 */
const scored = new WeakMap<Float32Array, Map<string, Promise<NearestCheckpoint>>>();

/** Two 32-bit FNV-1a hashes (different offsets) of the samples' bytes, with their sizes. */
function samplesKey(layout: Layout, x: Float32Array, y: Int32Array): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (const arr of [x, y]) {
    const bytes = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
    for (let i = 0; i < bytes.length; i++) {
      a = Math.imul(a ^ bytes[i], 0x01000193);
      b = Math.imul(b ^ bytes[i], 0x5bd1e995);
    }
  }
  return `${layout.size}:${x.length}:${y.length}:${a >>> 0}:${b >>> 0}`;
}

/** Score every checkpoint on (xTrain, yTrain) as model batches and pick the best. */
export async function nearestCheckpoint(
  layout: Layout,
  zoo: ZooRows,
  xTrain: Float32Array,
  yTrain: Int32Array,
): Promise<NearestCheckpoint> {
  const byKey = scored.get(zoo.vectors) ?? new Map<string, Promise<NearestCheckpoint>>();
  scored.set(zoo.vectors, byKey);
  const key = samplesKey(layout, xTrain, yTrain);
  const known = byKey.get(key);
  if (known) return known;
  const result = scoreCheckpoints(layout, zoo, xTrain, yTrain);
  byKey.set(key, result);
  result.catch(() => byKey.delete(key));
  return result;
}

async function scoreCheckpoints(
  layout: Layout,
  zoo: ZooRows,
  xTrain: Float32Array,
  yTrain: Int32Array,
): Promise<NearestCheckpoint> {
  const d = layout.size;
  const count = zoo.taskIds.length;
  if (count === 0) throw new InputError('the zoo has no checkpoints to pick from');
  if (zoo.vectors.length !== count * d) {
    throw new InputError(
      `the zoo holds ${zoo.vectors.length} values for ${count} checkpoints of ${d} weights`,
    );
  }
  const rows = Array.from({ length: count }, (_, i) => zoo.vectors.subarray(i * d, (i + 1) * d));
  const threads = evalThreads(count * yTrain.length * forwardMacs(layout.arch), count);
  const scores =
    threads < 2
      ? await evaluateMany(layout, rows, xTrain, yTrain)
      : await evaluateRowsThreaded(layout, rows, xTrain, yTrain, threads);
  const acc = scores.map((e) => e.accuracy);
  let index = 0;
  for (let i = 1; i < count; i++) if (acc[i] > acc[index]) index = i;
  const task = zoo.taskIds[index];
  const taskRows: number[] = [];
  zoo.taskIds.forEach((t, i) => {
    if (t === task) taskRows.push(i);
  });
  return { index, accuracy: acc[index], taskRows };
}
