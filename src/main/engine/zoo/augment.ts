/**
 * Free, exact zoo augmentations: new checkpoints obtained by permuting a trained network's units.
 * - Permuting the output units gives the checkpoint of the permuted class tuple: output i of the
 *   new network is output perm[i] of the old one, so it classifies the task whose i-th class is
 *   the old task's class perm[i], exactly as well (same predictions, relabelled).
 * - Permuting a hidden layer's units (an MLP's neurons, a CNN's channels) gives an equivalent
 *   network: the same function, other weights.
 * Both hold for any architecture the engine builds (MLPs and the global-pooling CNN).
 */
import type { TaskSpec } from '../data/types.ts';
import { InputError } from '../errors.ts';
import type { Layout, ParamSpec } from '../nn/architecture.ts';
import type { Rng } from '../rng.ts';
import type { ZooMember } from '../../../shared/schemas/zoo.ts';
import type { Zoo } from './storage.ts';

/** Throws unless `perm` is a permutation of 0..n−1. */
function checkPermutation(perm: readonly number[], n: number, what: string): void {
  if (perm.length !== n) {
    throw new InputError(
      `${what}: a permutation of ${n} units needs ${n} entries, got ${perm.length}`,
    );
  }
  const seen = new Uint8Array(n);
  for (const p of perm) {
    if (!Number.isInteger(p) || p < 0 || p >= n || seen[p]) {
      throw new InputError(`${what}: [${perm.join(', ')}] is not a permutation of 0..${n - 1}`);
    }
    seen[p] = 1;
  }
}

/** out[..., i] = src[..., perm[i]] along the last axis of a parameter. */
function permuteLastAxis(
  out: Float32Array,
  src: Float32Array,
  p: ParamSpec,
  perm: readonly number[],
): void {
  const n = p.shape[p.shape.length - 1];
  for (let r = 0; r < p.size / n; r++) {
    const base = p.offset + r * n;
    for (let i = 0; i < n; i++) out[base + i] = src[base + perm[i]];
  }
}

/**
 * out[.., i, :] = src[.., perm[i], :] along the input-unit axis of a kernel: a dense kernel's rows
 * ([in, out]) or a conv kernel's input channels ([kh, kw, cin, cout]).
 */
function permuteInputAxis(
  out: Float32Array,
  src: Float32Array,
  p: ParamSpec,
  perm: readonly number[],
): void {
  const cout = p.shape[p.shape.length - 1];
  const cin = p.shape[p.shape.length - 2];
  const blocks = p.size / (cin * cout);
  for (let b = 0; b < blocks; b++) {
    for (let i = 0; i < cin; i++) {
      const to = p.offset + (b * cin + i) * cout;
      const from = p.offset + (b * cin + perm[i]) * cout;
      for (let o = 0; o < cout; o++) out[to + o] = src[from + o];
    }
  }
}

function checkVector(layout: Layout, params: Float32Array): void {
  if (params.length !== layout.size) {
    throw new InputError(
      `a ${layout.arch.kind} of this layout has ${layout.size} weights, got ${params.length}`,
    );
  }
}

/**
 * The checkpoint whose output i is output perm[i] of `params`: the same network for the task
 * whose class tuple is the old one's permuted by `perm`.
 */
export function permuteOutputUnits(
  layout: Layout,
  params: Float32Array,
  perm: readonly number[],
): Float32Array {
  checkVector(layout, params);
  const n = layout.params.length;
  const kernel = layout.params[n - 2];
  const bias = layout.params[n - 1];
  checkPermutation(perm, bias.size, 'output permutation');
  const out = params.slice();
  permuteLastAxis(out, params, kernel, perm);
  permuteLastAxis(out, params, bias, perm);
  return out;
}

/** Hidden layers whose units can be permuted: an MLP's hidden layers, a CNN's conv layers. */
export function hiddenLayerCount(layout: Layout): number {
  return layout.params.length / 2 - 1;
}

/**
 * An equivalent network: hidden layer `layer`'s units (neurons or channels) reordered by `perm`,
 * with the next layer's inputs reordered to match. Same outputs for every input.
 */
export function permuteHiddenUnits(
  layout: Layout,
  params: Float32Array,
  layer: number,
  perm: readonly number[],
): Float32Array {
  checkVector(layout, params);
  const layers = hiddenLayerCount(layout);
  if (!Number.isInteger(layer) || layer < 0 || layer >= layers) {
    throw new InputError(`hidden layer ${layer} does not exist (the network has ${layers})`);
  }
  const kernel = layout.params[2 * layer];
  const bias = layout.params[2 * layer + 1];
  const next = layout.params[2 * layer + 2];
  checkPermutation(perm, bias.size, `hidden layer ${layer} permutation`);
  const out = params.slice();
  permuteLastAxis(out, params, kernel, perm);
  permuteLastAxis(out, params, bias, perm);
  permuteInputAxis(out, params, next, perm);
  return out;
}

/** Task id of a class-permuted copy of a task: `<task id>~<perm, dot-separated>`. */
export function permutedTaskId(task: TaskSpec, perm: readonly number[]): string {
  return `${task.id}~${perm.join('.')}`;
}

/**
 * The task a zoo member's task id names: one of `tasks` by id, or a class-permuted copy of one
 * (`<task id>~<perm>`, as augmentByOutputPermutations names them); undefined when neither.
 */
export function resolveTaskId(
  id: string,
  byId: ReadonlyMap<string, TaskSpec>,
): TaskSpec | undefined {
  const direct = byId.get(id);
  if (direct) return direct;
  const cut = id.lastIndexOf('~');
  if (cut < 0) return undefined;
  const base = byId.get(id.slice(0, cut));
  const perm = id
    .slice(cut + 1)
    .split('.')
    .map((p) => (/^\d+$/.test(p) ? Number(p) : NaN));
  if (!base || perm.length !== base.classes.length) return undefined;
  const seen = new Set(perm);
  if (seen.size !== perm.length || perm.some((p) => !(p >= 0 && p < perm.length))) return undefined;
  return permuteTask(base, perm);
}

/** The task whose i-th class is `task`'s class perm[i] (same samples). */
export function permuteTask(task: TaskSpec, perm: readonly number[]): TaskSpec {
  checkPermutation(perm, task.classes.length, `task ${task.id} permutation`);
  return { ...task, id: permutedTaskId(task, perm), classes: perm.map((p) => task.classes[p]) };
}

export interface AugmentedZoo {
  readonly zoo: Zoo;
  /** The original tasks, then every permuted task, each once. */
  readonly tasks: readonly TaskSpec[];
}

/**
 * The zoo plus `perTask` class-permuted copies of every task: for each task, `perTask` distinct
 * non-identity permutations (seeded), and for each, every one of the task's checkpoints with its
 * output units permuted. Members keep their seed, epoch and accuracies (the permuted network
 * makes the same predictions, relabelled). Each copy is its own tensor (`<original>~<perm>`) in
 * the original's shard, so saveZoo writes them all.
 */
export function augmentByOutputPermutations(
  zoo: Zoo,
  layout: Layout,
  tasks: readonly TaskSpec[],
  perTask: number,
  rng: Rng,
): AugmentedZoo {
  if (!Number.isInteger(perTask) || perTask < 0) {
    throw new InputError(`permutations per task must be a non-negative integer, got ${perTask}`);
  }
  const members = zoo.manifest.members;
  if (perTask === 0) return { zoo, tasks };
  const byTask = new Map<string, number[]>();
  members.forEach((m, i) => {
    const list = byTask.get(m.taskId);
    if (list) list.push(i);
    else byTask.set(m.taskId, [i]);
  });
  const k = layout.params[layout.params.length - 1].size;
  let factorial = 1;
  for (let i = 2; i <= k; i++) factorial *= i;
  if (perTask > factorial - 1) {
    throw new InputError(
      `${k} outputs have only ${factorial - 1} non-identity permutations, asked for ${perTask}`,
    );
  }
  const dim = layout.size;
  const extraTasks: TaskSpec[] = [];
  const extraRows: Float32Array[] = [];
  const extraMembers: ZooMember[] = [];
  for (const task of tasks) {
    const rows = byTask.get(task.id);
    if (!rows) continue;
    if (task.split !== 'seen') {
      throw new InputError(
        `task ${task.id} has zoo checkpoints but is not a seen task (${task.split})`,
      );
    }
    const r = rng.fork(`permute:${task.id}`);
    const chosen = new Set<string>([Array.from({ length: k }, (_, i) => i).join(',')]);
    while (chosen.size < perTask + 1) {
      const perm = Array.from(r.permutation(k));
      const key = perm.join(',');
      if (chosen.has(key)) continue;
      chosen.add(key);
      const t = permuteTask(task, perm);
      extraTasks.push(t);
      for (const i of rows) {
        const m = members[i];
        extraRows.push(
          permuteOutputUnits(layout, zoo.vectors.subarray(i * dim, (i + 1) * dim), perm),
        );
        extraMembers.push({
          ...m,
          index: members.length + extraMembers.length,
          taskId: t.id,
          classes: perm.map((p) => m.classes[p]),
          // Its own tensor in the original's shard, so a saved zoo keeps every copy.
          tensorName: `${m.tensorName}~${perm.join('.')}`,
        });
      }
    }
  }
  const vectors = new Float32Array(zoo.vectors.length + extraRows.length * dim);
  vectors.set(zoo.vectors);
  extraRows.forEach((v, j) => vectors.set(v, zoo.vectors.length + j * dim));
  const list = [
    ...zoo.manifest.tasks.list,
    ...extraTasks.map((t) => ({
      id: t.id,
      classes: [...t.classes],
      split: 'seen' as const,
      trainCount: t.trainIndex.length,
      testCount: t.testIndex.length,
    })),
  ];
  return {
    zoo: {
      ...zoo,
      manifest: {
        ...zoo.manifest,
        tasks: { ...zoo.manifest.tasks, list },
        members: [...members, ...extraMembers],
      },
      vectors,
    },
    tasks: [...tasks, ...extraTasks],
  };
}
