import { describe, expect, it } from 'vitest';
import type { Layout } from '../../../../src/main/engine/nn/architecture.ts';
import { initParams } from '../../../../src/main/engine/nn/params.ts';
import { trainBatch } from '../../../../src/main/engine/nn/batch.ts';
import { lossAndAccuracy } from '../../../../src/main/engine/nn/train.ts';
import { nearestCheckpoint } from '../../../../src/main/engine/eval/nearest.ts';
import { InputError } from '../../../../src/main/engine/errors.ts';
import { Rng } from '../../../../src/main/engine/rng.ts';
import { expectNoLeakedTensors } from '../../../helpers/tf.ts';
import { taskSamples as samples, tinyLayouts } from '../fixtures/task-samples.ts';

const K = 3;
const { mlp, cnn } = tinyLayouts(4);

/**
 * A seeded zoo: two checkpoints trained on each of tasks 1 and 2, among untrained rows, as
 * [row task ids, vectors].
 */
async function smallZoo(layout: Layout): Promise<{ taskIds: string[]; vectors: Float32Array }> {
  const members = [1, 1, 2, 2].map((task, i) => {
    const s = samples(layout, task, 0, 60);
    return {
      init: initParams(layout, new Rng(10 + i)),
      xTrain: s.x,
      yTrain: s.y,
      rng: new Rng(20 + i),
    };
  });
  const trained = await trainBatch({ layout, members, epochs: 4, batchSize: 12, lr: 2e-2 });
  const untrained = [30, 31].map((s) => initParams(layout, new Rng(s)));
  const rows = [untrained[0], trained.params[2], trained.params[0], untrained[1]];
  rows.push(trained.params[1], trained.params[3]);
  const vectors = new Float32Array(rows.length * layout.size);
  rows.forEach((r, i) => vectors.set(r, i * layout.size));
  return { taskIds: ['r0', 't2', 't1', 'r1', 't1', 't2'], vectors };
}

/** The exhaustive pick, each checkpoint scored alone by the single-model forward pass. */
async function scoredAlone(
  layout: Layout,
  vectors: Float32Array,
  x: Float32Array,
  y: Int32Array,
): Promise<{ index: number; accuracy: number[] }> {
  const d = layout.size;
  const accuracy: number[] = [];
  for (let i = 0; i < vectors.length / d; i++) {
    accuracy.push(
      (await lossAndAccuracy(layout, vectors.subarray(i * d, (i + 1) * d), x, y)).accuracy,
    );
  }
  let index = 0;
  accuracy.forEach((a, i) => {
    if (a > accuracy[index]) index = i;
  });
  return { index, accuracy };
}

describe('nearestCheckpoint', () => {
  for (const [name, layout] of [
    ['MLP', mlp],
    ['CNN', cnn],
  ] as const) {
    it(`${name}: picks what scoring every checkpoint alone picks, with its task's rows`, async () => {
      const zoo = await smallZoo(layout);
      for (const task of [1, 2]) {
        // Fresh samples of the task, not the ones its checkpoints were trained on.
        const { x, y } = samples(layout, task, 1, 45);
        const near = await expectNoLeakedTensors(() => nearestCheckpoint(layout, zoo, x, y));
        const alone = await scoredAlone(layout, zoo.vectors, x, y);
        expect(near.index).toBe(alone.index);
        expect(near.accuracy).toBe(alone.accuracy[alone.index]);
        // Not a trivial pick: a checkpoint of the task itself, well above chance.
        expect(zoo.taskIds[near.index]).toBe(`t${task}`);
        expect(near.accuracy).toBeGreaterThan(0.6);
        expect(near.taskRows).toEqual(task === 1 ? [2, 4] : [1, 5]);
      }
    });
  }

  it('CNN: on a tie the lowest row wins', async () => {
    const { vectors: trained } = await smallZoo(cnn);
    const d = cnn.size;
    const best = trained.subarray(2 * d, 3 * d);
    const vectors = new Float32Array(4 * d);
    vectors.set(initParams(cnn, new Rng(40)), 0);
    vectors.set(best, d);
    vectors.set(initParams(cnn, new Rng(41)), 2 * d);
    vectors.set(best, 3 * d);
    const { x, y } = samples(cnn, 1, 2, 30);
    const near = await nearestCheckpoint(cnn, { vectors, taskIds: ['a', 'b', 'c', 'd'] }, x, y);
    expect(near.index).toBe(1);
    expect(near.taskRows).toEqual([1]);
  });

  it('refuses samples, labels and zoos of the wrong shape', async () => {
    const zoo = {
      vectors: new Float32Array(2 * cnn.size).fill(0.1),
      taskIds: ['a', 'b'],
    };
    const { x, y } = samples(cnn, 1, 3, 9);
    await expectNoLeakedTensors(async () => {
      await expect(nearestCheckpoint(cnn, zoo, x.subarray(1), y)).rejects.toThrow(InputError);
      await expect(nearestCheckpoint(cnn, zoo, x, y.subarray(1))).rejects.toThrow(InputError);
      await expect(
        nearestCheckpoint(
          cnn,
          zoo,
          x,
          Int32Array.from(y, (v, i) => (i === 4 ? K : v)),
        ),
      ).rejects.toThrow(/label 3 at sample 4/);
      await expect(
        nearestCheckpoint(cnn, { ...zoo, vectors: zoo.vectors.subarray(1) }, x, y),
      ).rejects.toThrow(/values for 2 checkpoints/);
      await expect(
        nearestCheckpoint(cnn, { vectors: new Float32Array(0), taskIds: [] }, x, y),
      ).rejects.toThrow(/no checkpoints/);
      // MLP samples are not CNN samples.
      const m = samples(mlp, 1, 3, 9);
      await expect(nearestCheckpoint(cnn, zoo, m.x, m.y)).rejects.toThrow(InputError);
    });
  });
});
