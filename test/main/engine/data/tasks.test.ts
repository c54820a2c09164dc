import { describe, expect, it } from 'vitest';
import { InputError } from '../../../../src/main/engine/errors.ts';
import {
  generateTasks,
  materializeTask,
  supportLabels,
  taskSupportSet,
} from '../../../../src/main/engine/data/tasks.ts';
import type { LabelledData, TaskSpec } from '../../../../src/main/engine/data/types.ts';
import { Rng } from '../../../../src/main/engine/rng.ts';
import { balancedLabels } from '../../../fixtures/datagen.ts';

const labels = balancedLabels(10, 100); // 1000 samples, 100 per class

function setOf(t: TaskSpec): string {
  return [...t.classes].sort((a, b) => a - b).join(',');
}

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return e as Error;
  }
  throw new Error('expected an InputError');
}

describe('generateTasks', () => {
  const cfg = {
    k: 5,
    nTrain: 10,
    nTest: 15,
    numSeen: 60,
    numUnseenCombo: 12,
    numUnseenClass: 12,
    seed: 3,
  };
  const g = generateTasks(labels, 10, cfg);

  it('draws the requested tasks with the three split rules', () => {
    expect(g.seen).toHaveLength(60);
    expect(g.unseenCombo).toHaveLength(12);
    expect(g.unseenClass).toHaveLength(12);
    expect(g.heldOut).toHaveLength(2);
    const held = new Set(g.heldOut);
    const all = [...g.seen, ...g.unseenCombo, ...g.unseenClass];
    expect(new Set(all.map((t) => t.id)).size).toBe(all.length);
    for (const t of all) {
      expect(t.classes).toHaveLength(5);
      expect(new Set(t.classes).size).toBe(5);
    }
    for (const t of g.seen) {
      expect(t.split).toBe('seen');
      expect(t.classes.some((c) => held.has(c))).toBe(false);
    }
    const seenSets = new Set(g.seen.map(setOf));
    for (const t of g.unseenCombo) {
      expect(t.split).toBe('unseen-combo');
      expect(t.classes.some((c) => held.has(c))).toBe(false);
      expect(seenSets.has(setOf(t))).toBe(false);
    }
    for (const t of g.unseenClass) {
      expect(t.split).toBe('unseen-class');
      expect(t.classes.some((c) => held.has(c))).toBe(true);
    }
  });

  it('draws n per class from the train pool and m per class from the test pool, never overlapping', () => {
    const trainPool = new Set(g.trainPool);
    const testPool = new Set(g.testPool);
    expect(g.trainPool.length + g.testPool.length).toBe(1000);
    expect([...trainPool].some((i) => testPool.has(i))).toBe(false);
    const allTrain = new Set<number>();
    const allTest = new Set<number>();
    for (const t of [...g.seen, ...g.unseenCombo, ...g.unseenClass]) {
      expect(t.trainIndex).toHaveLength(50);
      expect(t.testIndex).toHaveLength(75);
      t.classes.forEach((c, pos) => {
        const tr = t.trainIndex.subarray(pos * 10, (pos + 1) * 10);
        const te = t.testIndex.subarray(pos * 15, (pos + 1) * 15);
        expect([...tr].every((i) => labels[i] === c && trainPool.has(i))).toBe(true);
        expect([...te].every((i) => labels[i] === c && testPool.has(i))).toBe(true);
        expect(new Set(tr).size).toBe(10);
        expect(new Set(te).size).toBe(15);
      });
      t.trainIndex.forEach((i) => allTrain.add(i));
      t.testIndex.forEach((i) => allTest.add(i));
    }
    expect([...allTest].some((i) => allTrain.has(i))).toBe(false);
  });

  it('is deterministic for a seed and changes with it', () => {
    const again = generateTasks(labels, 10, cfg);
    expect(again.seen.map((t) => t.id)).toEqual(g.seen.map((t) => t.id));
    expect([...again.unseenClass[3].testIndex]).toEqual([...g.unseenClass[3].testIndex]);
    const other = generateTasks(labels, 10, { ...cfg, seed: 4 });
    expect(other.seen.map((t) => t.id)).not.toEqual(g.seen.map((t) => t.id));
  });

  it('takes explicit held-out classes and fills defaults from the schema', () => {
    const e = generateTasks(labels, 10, { heldOutClasses: [9, 0], nTrain: 5, nTest: 5, seed: 1 });
    expect(e.heldOut).toEqual([0, 9]);
    expect(e.config.k).toBe(5);
    expect(e.seen).toHaveLength(e.config.numSeen);
    expect(e.unseenClass.every((t) => t.classes.includes(0) || t.classes.includes(9))).toBe(true);
  });

  it('uses every ordered tuple when asked for all of them', () => {
    // 4 classes, 1 held out, k = 2: 3 known → 3 sets × 2 orders = 6 known tuples.
    const l4 = balancedLabels(4, 20);
    const all = generateTasks(l4, 4, {
      k: 2,
      nTrain: 3,
      nTest: 3,
      heldOutClasses: [3],
      numSeen: 4,
      numUnseenCombo: 2,
      numUnseenClass: 6, // 12 - 6 tuples include class 3
      seed: 5,
    });
    expect(all.unseenCombo).toHaveLength(2);
    expect(new Set(all.unseenClass.map((t) => t.id)).size).toBe(6);
    const seenSets = new Set(all.seen.map(setOf));
    expect(all.unseenCombo.every((t) => !seenSets.has(setOf(t)))).toBe(true);
  });

  it('handles class counts too large to enumerate', () => {
    const big = balancedLabels(40, 6);
    const r = generateTasks(big, 40, {
      k: 5,
      nTrain: 2,
      nTest: 1,
      heldOutClasses: 1,
      numSeen: 30,
      numUnseenCombo: 10,
      numUnseenClass: 10,
      trainFraction: 0.6,
      seed: 2,
    });
    const seenSets = new Set(r.seen.map(setOf));
    expect(r.unseenCombo.every((t) => !seenSets.has(setOf(t)))).toBe(true);
    expect(r.unseenClass.every((t) => t.classes.includes(r.heldOut[0]))).toBe(true);
  });

  it('rejects impossible configs, saying which value is wrong', () => {
    let e = errorOf(() => generateTasks(labels, 10, { k: 11 }));
    expect(e.message).toMatch(/tasks\.k: k = 11 is more than the 10 classes/);
    e = errorOf(() => generateTasks(labels, 10, { k: 9, heldOutClasses: 2 }));
    expect(e.message).toMatch(/tasks\.k: k = 9 needs at least 9 known classes .* only 8/);
    e = errorOf(() => generateTasks(labels, 10, { nTrain: 0 }));
    expect(e.message).toMatch(/^tasks\.nTrain: Too small/);
    e = errorOf(() => generateTasks(labels, 10, { nTrain: 81, seed: 1 }));
    expect(e.message).toMatch(/tasks\.nTrain: nTrain = 81 but class \d+ has only 80 samples/);
    e = errorOf(() =>
      generateTasks(labels, 10, { nTest: 21 }, ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j']),
    );
    expect(e.message).toMatch(
      /tasks\.nTest: nTest = 21 but class \d \('[a-j]'\) has only 20 samples in the test pool/,
    );
    e = errorOf(() =>
      generateTasks(labels, 10, {
        k: 5,
        heldOutClasses: 2,
        numSeen: 6720,
        numUnseenCombo: 1,
        nTest: 5,
      }),
    );
    expect(e.message).toMatch(
      /tasks\.numUnseenCombo: numSeen = 6720 and numUnseenCombo = 1 need .* C\(8, 5\) = 56 sets/,
    );
    e = errorOf(() =>
      generateTasks(labels, 10, { heldOutClasses: 0, numUnseenClass: 3, nTest: 5 }),
    );
    expect(e.message).toMatch(/tasks\.numUnseenClass: .* heldOutClasses is 0/);
    e = errorOf(() => generateTasks(labels, 10, { k: 2, numUnseenClass: 35, nTest: 5 }));
    expect(e.message).toMatch(/numUnseenClass = 35 is more than the 34 distinct ordered 2-tuples/);
    e = errorOf(() => generateTasks(labels, 10, { heldOutClasses: [3, 12] }));
    expect(e.message).toMatch(/tasks\.heldOutClasses: class 12 does not exist/);
    e = errorOf(() => generateTasks(labels, 10, { heldOutClasses: [3, 3] }));
    expect(e.message).toMatch(/tasks\.heldOutClasses: lists a class twice/);
    e = errorOf(() => generateTasks(labels, 10, { heldOutClasses: 10 }));
    expect(e.message).toMatch(/tasks\.heldOutClasses: 10 held-out classes leave no known class/);
  });
});

describe('materializeTask and taskSupportSet', () => {
  // 3 classes, 20 samples each, 2-value samples: [label, sample index]
  const l = balancedLabels(3, 20);
  const x = new Float32Array(l.length * 2);
  l.forEach((c, i) => {
    x[2 * i] = c;
    x[2 * i + 1] = i;
  });
  const data: LabelledData = {
    x,
    sampleShape: [2],
    labels: l,
    classNames: ['a', 'b', 'c'],
    source: 'mem',
  };
  const g = generateTasks(l, 3, {
    k: 2,
    nTrain: 4,
    nTest: 3,
    heldOutClasses: 0,
    numSeen: 2,
    numUnseenCombo: 0,
    numUnseenClass: 0,
    seed: 9,
  });

  it('copies the task samples with labels remapped to output order', () => {
    const t = g.seen[0];
    const td = materializeTask(data, t);
    expect(td.numClasses).toBe(2);
    expect(td.sampleShape).toEqual([2]);
    expect(td.xTrain).toHaveLength(16);
    expect(td.xTest).toHaveLength(12);
    for (let i = 0; i < 8; i++) {
      expect(td.xTrain[2 * i]).toBe(t.classes[td.yTrain[i]]);
      expect(td.xTrain[2 * i + 1]).toBe(t.trainIndex[i]);
    }
    expect([...td.yTrain]).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    for (let i = 0; i < 6; i++) expect(td.xTest[2 * i]).toBe(t.classes[td.yTest[i]]);
  });

  it('works on image-shaped data too', () => {
    const img: LabelledData = {
      ...data,
      x: new Float32Array(l.length * 4),
      sampleShape: [2, 2, 1],
    };
    const td = materializeTask(img, g.seen[1]);
    expect(td.sampleShape).toEqual([2, 2, 1]);
    expect(td.xTrain).toHaveLength(32);
  });

  it('gives a [K, perClass, d] support set in class order from the training samples', () => {
    const t = g.seen[0];
    const s = taskSupportSet(data, t, 3, new Rng(1));
    expect(s.shape).toEqual([2, 3, 2]);
    const train = new Set(t.trainIndex);
    for (let p = 0; p < 2; p++) {
      const picked = new Set<number>();
      for (let j = 0; j < 3; j++) {
        const o = (p * 3 + j) * 2;
        expect(s.x[o]).toBe(t.classes[p]);
        expect(train.has(s.x[o + 1])).toBe(true);
        picked.add(s.x[o + 1]);
      }
      expect(picked.size).toBe(3);
    }
    expect(() => taskSupportSet(data, t, 5, new Rng(1))).toThrow(
      /has 4 training samples, fewer than the 5/,
    );
    // Its labels: output position p for the p-th block of rows.
    expect(Array.from(supportLabels(2, 3))).toEqual([0, 0, 0, 1, 1, 1]);
  });

  it('rejects a task that does not belong to the data', () => {
    const other: LabelledData = { ...data, labels: new Int32Array(l.length).fill(2) };
    expect(() => materializeTask(other, g.seen[0])).toThrow(
      /mem: task .* not one of the task's classes/,
    );
    const small: LabelledData = { ...data, x: new Float32Array(4), labels: new Int32Array(2) };
    expect(() => materializeTask(small, g.seen[0])).toThrow(/outside the dataset's 2 samples/);
  });
});
