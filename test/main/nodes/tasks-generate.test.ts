import { describe, expect, it } from 'vitest';
import { run } from '../../../src/main/nodes/tasks-generate.ts';
import {
  expectInputError,
  metric,
  nodeContext,
  output,
  TinyChain,
  TINY,
  wire,
} from '../../helpers/nodes.ts';

const chain = new TinyChain();

async function draw(config: unknown, seed?: number) {
  const { ctx } = nodeContext({ config, ...(seed !== undefined ? { seed } : {}) });
  const res = await run(ctx, wire({ dataset: await chain.dataset() }));
  return { res, tasks: output(res, 'tasks', 'tasks') };
}

describe('tasks.generate', () => {
  it('draws seen, unseen-combo and unseen-class tasks of K classes with n train and m test samples each', async () => {
    const ds = await chain.dataset();
    const { res, tasks: v } = await draw(TINY.tasks);
    const t = v.tasks;
    expect([t.seen.length, t.unseenCombo.length, t.unseenClass.length]).toEqual([3, 1, 1]);
    expect(t.heldOut).toHaveLength(1);
    const held = t.heldOut[0];
    for (const task of [...t.seen, ...t.unseenCombo, ...t.unseenClass]) {
      expect(new Set(task.classes).size).toBe(3);
      expect(task.trainIndex).toHaveLength(30);
      expect(task.testIndex).toHaveLength(30);
      const train = new Set(task.trainIndex);
      expect([...task.testIndex].some((i) => train.has(i))).toBe(false);
      // Each sample's label is one of the task's classes, 10 of each.
      for (const idx of [task.trainIndex, task.testIndex]) {
        const counts = task.classes.map(
          (c) => [...idx].filter((i) => ds.data.labels[i] === c).length,
        );
        expect(counts).toEqual([10, 10, 10]);
      }
    }
    expect(t.seen.every((task) => !task.classes.includes(held))).toBe(true);
    expect(t.unseenCombo.every((task) => !task.classes.includes(held))).toBe(true);
    expect(t.unseenClass.every((task) => task.classes.includes(held))).toBe(true);
    const seenSets = new Set(t.seen.map((task) => [...task.classes].sort().join()));
    expect(seenSets.has([...t.unseenCombo[0].classes].sort().join())).toBe(false);
    expect(v.classNames).toEqual(ds.data.classNames);
    expect(v.datasetSource).toEqual(ds.sourceConfig);
    expect(res.summary?.k).toBe(3);
    expect([metric(res, 'seen'), metric(res, 'unseenCombo'), metric(res, 'unseenClass')]).toEqual([
      3, 1, 1,
    ]);
  });

  it('draws the same tasks whatever the run seed (the draw is fixed by its own config seed)', async () => {
    const a = (await draw(TINY.tasks, 1)).tasks.tasks;
    const b = (await draw(TINY.tasks, 2)).tasks.tasks;
    expect(b.seen.map((t) => [t.id, [...t.classes], [...t.trainIndex]])).toEqual(
      a.seen.map((t) => [t.id, [...t.classes], [...t.trainIndex]]),
    );
    const c = (await draw({ ...TINY.tasks, seed: 99 })).tasks.tasks;
    expect(c.seen.map((t) => [...t.trainIndex])).not.toEqual(a.seen.map((t) => [...t.trainIndex]));
  });

  it('refuses K above the class count (naming tasks.k) and a missing Dataset input', async () => {
    await expectInputError(
      draw({ ...TINY.tasks, k: 20 }),
      /^tasks\.k: k = 20 is more than the 10 classes/,
    );
    const { ctx } = nodeContext({ config: TINY.tasks });
    await expectInputError(
      run(ctx, wire({})),
      /input 'dataset' needs exactly one connection, has 0/,
    );
  });
});
