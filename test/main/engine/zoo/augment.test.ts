/**
 * Unit permutations are exact augmentations: an output permutation is the checkpoint of the
 * permuted class tuple (same predictions, relabelled), a hidden permutation the same function.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ArchitectureSchema } from '../../../../src/shared/schemas/zoo.ts';
import { ZooManifestSchema } from '../../../../src/shared/schemas/zoo.ts';
import { materializeTask } from '../../../../src/main/engine/data/tasks.ts';
import type { LabelledData, TaskSpec } from '../../../../src/main/engine/data/types.ts';
import { InputError } from '../../../../src/main/engine/errors.ts';
import {
  layoutOf,
  resolveArchitecture,
  type Layout,
} from '../../../../src/main/engine/nn/architecture.ts';
import { forward } from '../../../../src/main/engine/nn/forward.ts';
import { initParams } from '../../../../src/main/engine/nn/params.ts';
import { accuracy } from '../../../../src/main/engine/nn/train.ts';
import { Rng } from '../../../../src/main/engine/rng.ts';
import {
  augmentByOutputPermutations,
  hiddenLayerCount,
  permuteHiddenUnits,
  permuteOutputUnits,
  permuteTask,
  resolveTaskId,
} from '../../../../src/main/engine/zoo/augment.ts';
import { buildZoo, type BuiltZoo } from '../../../../src/main/engine/zoo/build.ts';
import { zooLayout } from '../../../../src/main/engine/zoo/storage.ts';
import { zooTaskData } from '../../../../src/main/engine/zoo/tasks.ts';

const mlp = layoutOf(
  resolveArchitecture(ArchitectureSchema.parse({ kind: 'mlp', hidden: [7, 5] }), [6], 4),
);
const cnn = layoutOf(
  resolveArchitecture(
    ArchitectureSchema.parse({ kind: 'cnn', channels: [3, 4], kernelSize: 3 }),
    [8, 8, 1],
    4,
  ),
);

function logits(
  layout: Layout,
  params: Float32Array,
  x: Float32Array,
  shape: number[],
): Float32Array {
  return tf.tidy(
    () => forward(layout, tf.tensor1d(params), tf.tensor(x, shape)).dataSync() as Float32Array,
  );
}

function inputs(layout: Layout, n: number, rng: Rng): { x: Float32Array; shape: number[] } {
  const shape =
    layout.arch.kind === 'mlp' ? [n, layout.arch.inputDim] : [n, ...layout.arch.inputShape];
  const x = new Float32Array(shape.reduce((a, b) => a * b, 1)).map(() => rng.normal());
  return { x, shape };
}

describe.each([
  ['MLP', mlp],
  ['CNN', cnn],
])('unit permutations of a %s', (_, layout) => {
  const rng = new Rng(5);
  const params = initParams(layout, rng);
  const { x, shape } = inputs(layout, 6, rng);
  const K = 4;
  // Computed in the tests: the tensor backend is ready only once the setup file has run.
  let base: Float32Array;
  beforeAll(() => {
    base = logits(layout, params, x, shape);
  });

  it('output permutation: output i becomes old output perm[i]', () => {
    const perm = [2, 0, 3, 1];
    const out = logits(layout, permuteOutputUnits(layout, params, perm), x, shape);
    for (let r = 0; r < 6; r++) {
      for (let i = 0; i < K; i++) expect(out[r * K + i]).toBeCloseTo(base[r * K + perm[i]], 5);
    }
  });

  it('hidden permutation of every layer: the same function, other weights', () => {
    expect(hiddenLayerCount(layout)).toBe(2);
    for (let layer = 0; layer < 2; layer++) {
      const width = layout.params[2 * layer + 1].size;
      // Reversed: never the identity (a random draw of 3 channels is the identity 1 time in 6).
      const perm = Array.from({ length: width }, (_, i) => width - 1 - i);
      const moved = permuteHiddenUnits(layout, params, layer, perm);
      expect(moved).not.toEqual(params);
      const out = logits(layout, moved, x, shape);
      for (let i = 0; i < out.length; i++) expect(out[i]).toBeCloseTo(base[i], 4);
    }
  });

  it('refuses what is not a permutation, a missing layer and a vector of the wrong size', () => {
    expect(() => permuteOutputUnits(layout, params, [0, 1, 2])).toThrow(/needs 4 entries/);
    expect(() => permuteOutputUnits(layout, params, [0, 1, 1, 2])).toThrow(/not a permutation/);
    expect(() => permuteHiddenUnits(layout, params, 2, [0])).toThrow(/does not exist/);
    expect(() => permuteOutputUnits(layout, params.subarray(1), [0, 1, 2, 3])).toThrow(InputError);
  });
});

describe('augmentByOutputPermutations on a built zoo', () => {
  let zoo: BuiltZoo;
  let seen: TaskSpec[];
  let feat: LabelledData;
  beforeAll(async () => {
    const tasksCfg = {
      k: 3,
      nTrain: 40,
      nTest: 40,
      numSeen: 2,
      numUnseenCombo: 1,
      numUnseenClass: 1,
    };
    zoo = await buildZoo({
      dataset: { kind: 'fashion-mnist' },
      features: { kind: 'pca', components: 16 },
      tasks: tasksCfg,
      arch: { kind: 'mlp', hidden: [16] },
      train: { epochs: 6, keepLast: 2, seeds: 1, batchSize: 16, lr: 3e-3 },
      workers: 0,
      seed: 11,
    });
    const rebuilt = await zooTaskData(zoo);
    seen = [...rebuilt.tasks.seen];
    feat = rebuilt.inputs;
    expect(new Set(zoo.manifest.members.map((m) => m.taskId))).toEqual(
      new Set(seen.map((t) => t.id)),
    );
  });

  it('adds distinct permuted tasks whose checkpoints score exactly as the originals', async () => {
    const layout = zooLayout(zoo.manifest);
    const aug = augmentByOutputPermutations(zoo, layout, seen, 3, new Rng(1));
    const n = zoo.manifest.members.length;
    expect(aug.tasks.length).toBe(seen.length * 4);
    expect(new Set(aug.tasks.map((t) => t.id)).size).toBe(aug.tasks.length);
    expect(aug.zoo.manifest.members.length).toBe(n * 4);
    expect(aug.zoo.vectors.length).toBe(n * 4 * layout.size);
    expect(ZooManifestSchema.safeParse(aug.zoo.manifest).success).toBe(true);
    const byId = new Map(aug.tasks.map((t) => [t.id, t]));
    for (const [i, m] of aug.zoo.manifest.members.entries()) {
      expect(m.index).toBe(i);
      const task = byId.get(m.taskId);
      if (!task) throw new Error(`no task ${m.taskId}`);
      expect(m.classes).toEqual(task.classes);
      if (i < n) continue;
      // Same accuracy on the permuted task's own labels as the original on its task.
      const td = materializeTask(feat, task);
      const w = aug.zoo.vectors.subarray(i * layout.size, (i + 1) * layout.size);
      const acc = await accuracy(layout, w, td.xTest, td.yTest);
      expect(acc).toBeCloseTo(m.testAcc, 6);
    }
    // Deterministic for a seed.
    const again = augmentByOutputPermutations(zoo, layout, seen, 3, new Rng(1));
    expect(again.tasks.map((t) => t.id)).toEqual(aug.tasks.map((t) => t.id));
  });

  it('resolves a permuted task id back to its task; malformed ids resolve to nothing', () => {
    const byId = new Map(seen.map((t) => [t.id, t]));
    const t = seen[0];
    const p = permuteTask(t, [2, 0, 1]);
    expect(p.id).toBe(`${t.id}~2.0.1`);
    expect(resolveTaskId(p.id, byId)).toEqual(p);
    expect(resolveTaskId(t.id, byId)).toBe(t);
    for (const bad of [
      `${t.id}~2.0`,
      `${t.id}~2.2.1`,
      `${t.id}~2.0.x`,
      `${t.id}~3.0.1`,
      'nope~0.1.2',
    ]) {
      expect(resolveTaskId(bad, byId)).toBeUndefined();
    }
  });

  it('refuses more permutations than exist and an unseen task with checkpoints', () => {
    const layout = zooLayout(zoo.manifest);
    expect(() => augmentByOutputPermutations(zoo, layout, seen, 6, new Rng(1))).toThrow(/only 5/);
    const wrong = seen.map((t) => ({ ...t, split: 'unseen-combo' as const }));
    expect(() => augmentByOutputPermutations(zoo, layout, wrong, 1, new Rng(1))).toThrow(
      /not a seen task/,
    );
    expect(permuteTask(seen[0], [1, 0, 2]).classes).toEqual([
      seen[0].classes[1],
      seen[0].classes[0],
      seen[0].classes[2],
    ]);
  });
});
