/**
 * The task generator of bench/QUALITY.md. A task is an ordered tuple of K distinct classes of a
 * source dataset, with n training and m test samples per class. The source is split once into a
 * train pool and a test pool (stratified, seeded), so no test sample of any task is a training
 * sample of any task. Three splits:
 * - `seen`: tuples of known (non-held-out) classes; the zoo trains on them;
 * - `unseen-combo`: tuples of known classes whose class SET is the set of no seen task;
 * - `unseen-class`: tuples containing at least one held-out class.
 * Everything is fixed by the config's seed; impossible configs fail up front with an InputError
 * naming the value at fault.
 */
import {
  TaskGenConfigSchema,
  type TaskGenConfig,
  type TaskGenConfigInput,
} from '../../../shared/schemas/dataset.ts';
import { formatIssues } from '../../../shared/issues.ts';
import { InputError } from '../errors.ts';
import { Rng } from '../rng.ts';
import { indicesByClass, stratifiedSplit } from './split.ts';
import { sampleSize, type LabelledData, type TaskData, type TaskSpec } from './types.ts';

/** Output of generateTasks. */
export interface GeneratedTasks {
  readonly seen: TaskSpec[];
  readonly unseenCombo: TaskSpec[];
  readonly unseenClass: TaskSpec[];
  /**
   * Tasks of another source (drawTargetTasks): their indices point into that source, not the
   * one the other splits come from. Absent for a zoo source's draw.
   */
  readonly unseenDataset?: TaskSpec[];
  /** Held-out class indices, ascending. */
  readonly heldOut: number[];
  /** Source indices every task's training samples come from (ascending). */
  readonly trainPool: Int32Array;
  /** Source indices every task's test samples come from (ascending, disjoint from trainPool). */
  readonly testPool: Int32Array;
  /** The fully resolved config (defaults filled), for manifests. */
  readonly config: TaskGenConfig;
}

/** Above this many distinct candidates we draw by rejection instead of enumerating. */
const ENUMERATE_LIMIT = 200_000;

/** Parse a task config (zod); a bad field is an InputError naming `tasks.<field>`. */
export function parseTaskGenConfig(input: unknown): TaskGenConfig {
  const r = TaskGenConfigSchema.safeParse(input ?? {});
  if (!r.success) throw new InputError(formatIssues(r.error, ['tasks']).join('; '));
  return r.data;
}

function binom(n: number, k: number): number {
  if (k < 0 || k > n) return 0;
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return Math.round(r);
}

function permCount(n: number, k: number): number {
  if (k < 0 || k > n) return 0;
  let r = 1;
  for (let i = 0; i < k; i++) r *= n - i;
  return r;
}

/** All k-subsets of `pool` (which must be ascending), in lexicographic order. */
function kSubsets(pool: readonly number[], k: number): number[][] {
  const out: number[][] = [];
  const cur: number[] = [];
  const rec = (start: number): void => {
    if (cur.length === k) {
      out.push([...cur]);
      return;
    }
    for (let i = start; i <= pool.length - (k - cur.length); i++) {
      cur.push(pool[i]);
      rec(i + 1);
      cur.pop();
    }
  };
  rec(0);
  return out;
}

/** All orderings of `items`. */
function permutationsOf(items: readonly number[]): number[][] {
  if (items.length <= 1) return [[...items]];
  const out: number[][] = [];
  for (let i = 0; i < items.length; i++) {
    const rest = [...items.slice(0, i), ...items.slice(i + 1)];
    for (const p of permutationsOf(rest)) out.push([items[i], ...p]);
  }
  return out;
}

function setKey(classes: readonly number[]): string {
  return [...classes].sort((a, b) => a - b).join(',');
}

/**
 * `count` distinct tuples: by enumeration (shuffled) when they are a large share of the
 * candidates, otherwise by rejection sampling from `randomOne`.
 */
function drawDistinct(
  count: number,
  capacity: number,
  enumerateAll: () => number[][],
  randomOne: (rng: Rng) => number[],
  rng: Rng,
): number[][] {
  if (count === 0) return [];
  if (count * 2 > capacity && capacity <= ENUMERATE_LIMIT) {
    const all = enumerateAll();
    const perm = rng.permutation(all.length);
    return Array.from({ length: count }, (_, i) => all[perm[i]]);
  }
  const seen = new Set<string>();
  const out: number[][] = [];
  const maxAttempts = 1000 + 200 * count;
  for (let a = 0; a < maxAttempts && out.length < count; a++) {
    const t = randomOne(rng);
    const key = t.join('-');
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(t);
  }
  if (out.length < count) {
    throw new Error(`task draw did not converge: ${out.length} of ${count} distinct tuples`);
  }
  return out;
}

function resolveHeldOut(cfg: TaskGenConfig, numClasses: number, rng: Rng): number[] {
  const h = cfg.heldOutClasses;
  if (typeof h === 'number') {
    if (h >= numClasses) {
      throw new InputError(
        `${h} held-out classes leave no known class: the dataset has ${numClasses} classes`,
        'tasks.heldOutClasses',
      );
    }
    return [...rng.sample(numClasses, h)].sort((a, b) => a - b);
  }
  const set = new Set(h);
  if (set.size !== h.length) {
    throw new InputError(`lists a class twice: [${h.join(', ')}]`, 'tasks.heldOutClasses');
  }
  const bad = h.find((c) => c >= numClasses);
  if (bad !== undefined) {
    throw new InputError(
      `class ${bad} does not exist: the dataset has classes 0..${numClasses - 1}`,
      'tasks.heldOutClasses',
    );
  }
  if (h.length >= numClasses) {
    throw new InputError(
      `holding out all ${numClasses} classes leaves no known class`,
      'tasks.heldOutClasses',
    );
  }
  return [...h].sort((a, b) => a - b);
}

function className(c: number, names?: readonly string[]): string {
  return names && names[c] !== undefined ? `${c} ('${names[c]}')` : String(c);
}

/**
 * Draw the seen, unseen-combo and unseen-class tasks of a labelled source. `classNames` only
 * improves error messages. Same labels + config → same tasks, sample indices included.
 */
export function generateTasks(
  labels: Int32Array,
  numClasses: number,
  cfgInput: TaskGenConfig | TaskGenConfigInput,
  classNames?: readonly string[],
): GeneratedTasks {
  const cfg = parseTaskGenConfig(cfgInput);
  const { k, nTrain, nTest, numSeen, numUnseenCombo, numUnseenClass } = cfg;
  if (!Number.isInteger(numClasses) || numClasses < 2) {
    throw new InputError(`the dataset must have at least 2 classes, has ${numClasses}`, 'dataset');
  }
  if (k > numClasses) {
    throw new InputError(
      `k = ${k} is more than the ${numClasses} classes of the dataset`,
      'tasks.k',
    );
  }
  const root = new Rng(cfg.seed);
  const heldOut = resolveHeldOut(cfg, numClasses, root.fork('held-out'));
  const heldSet = new Set(heldOut);
  const known = Array.from({ length: numClasses }, (_, c) => c).filter((c) => !heldSet.has(c));
  if (numSeen + numUnseenCombo > 0 && k > known.length) {
    throw new InputError(
      `k = ${k} needs at least ${k} known classes for seen/unseen-combo tasks, but only ${known.length} of ${numClasses} remain after holding out ${heldOut.length}`,
      'tasks.k',
    );
  }
  if (numUnseenClass > 0 && heldOut.length === 0) {
    throw new InputError(
      `numUnseenClass = ${numUnseenClass} asks for tasks with held-out classes, but heldOutClasses is 0`,
      'tasks.numUnseenClass',
    );
  }

  // Pools first, so sample-count errors come before any drawing.
  const split = stratifiedSplit(labels, numClasses, cfg.trainFraction, root.fork('split'));
  const trainBy = indicesByClass(labels, numClasses, split.train);
  const testBy = indicesByClass(labels, numClasses, split.test);
  const usable = [
    ...(numSeen + numUnseenCombo > 0 ? known : []),
    ...(numUnseenClass > 0 ? heldOut : []),
  ];
  for (const c of usable) {
    if (trainBy[c].length < nTrain) {
      throw new InputError(
        `nTrain = ${nTrain} but class ${className(c, classNames)} has only ${trainBy[c].length} samples in the train pool (trainFraction ${cfg.trainFraction} of ${trainBy[c].length + testBy[c].length})`,
        'tasks.nTrain',
      );
    }
    if (testBy[c].length < nTest) {
      throw new InputError(
        `nTest = ${nTest} but class ${className(c, classNames)} has only ${testBy[c].length} samples in the test pool (1 - trainFraction ${cfg.trainFraction} of ${trainBy[c].length + testBy[c].length})`,
        'tasks.nTest',
      );
    }
  }

  const perms = permCount(k, k);
  const totalSets = binom(known.length, k);
  let seenTuples: number[][] = [];
  let comboTuples: number[][] = [];
  if (numSeen + numUnseenCombo > 0) {
    // Seen tasks may use at most totalSets - 1 sets when unseen-combo tasks are wanted.
    const needSeenSets = Math.ceil(numSeen / perms);
    const needComboSets = Math.ceil(numUnseenCombo / perms);
    if (needSeenSets + needComboSets > totalSets) {
      throw new InputError(
        `numSeen = ${numSeen} and numUnseenCombo = ${numUnseenCombo} need at least ${needSeenSets} + ${needComboSets} distinct class sets, but ${known.length} known classes give only C(${known.length}, ${k}) = ${totalSets} sets (of ${perms} orderings each)`,
        numUnseenCombo > 0 ? 'tasks.numUnseenCombo' : 'tasks.numSeen',
      );
    }
    if (totalSets <= ENUMERATE_LIMIT) {
      const sets = kSubsets(known, k);
      const order = root.fork('sets').permutation(sets.length);
      const shuffled = Array.from(order, (i) => sets[i]);
      let reserved = 0;
      if (numUnseenCombo > 0) {
        const share = Math.round((totalSets * numUnseenCombo) / (numUnseenCombo + numSeen));
        reserved = Math.min(totalSets - needSeenSets, Math.max(needComboSets, share, 1));
      }
      const comboSets = shuffled.slice(0, reserved);
      const seenSets = shuffled.slice(reserved);
      const fromSets = (pool: number[][]) => (rng: Rng) => {
        const s = pool[rng.int(pool.length)];
        return [...rng.shuffle([...s])];
      };
      seenTuples = drawDistinct(
        numSeen,
        seenSets.length * perms,
        () => seenSets.flatMap(permutationsOf),
        fromSets(seenSets),
        root.fork('seen'),
      );
      comboTuples = drawDistinct(
        numUnseenCombo,
        comboSets.length * perms,
        () => comboSets.flatMap(permutationsOf),
        fromSets(comboSets),
        root.fork('unseen-combo'),
      );
    } else {
      // Too many sets to list: draw seen tuples at random, then combos whose set no seen task has.
      const randomKnown = (rng: Rng): number[] =>
        Array.from(rng.sample(known.length, k), (i) => known[i]);
      const noEnum = (): number[][] => {
        throw new Error('unreachable: enumeration of a huge candidate space');
      };
      seenTuples = drawDistinct(numSeen, totalSets * perms, noEnum, randomKnown, root.fork('seen'));
      const seenSetKeys = new Set(seenTuples.map(setKey));
      comboTuples = drawDistinct(
        numUnseenCombo,
        (totalSets - seenSetKeys.size) * perms,
        noEnum,
        (rng) => {
          for (;;) {
            const t = randomKnown(rng);
            if (!seenSetKeys.has(setKey(t))) return t;
          }
        },
        root.fork('unseen-combo'),
      );
    }
  }

  let classTuples: number[][] = [];
  if (numUnseenClass > 0) {
    const capacity = permCount(numClasses, k) - permCount(known.length, k);
    if (numUnseenClass > capacity) {
      throw new InputError(
        `numUnseenClass = ${numUnseenClass} is more than the ${capacity} distinct ordered ${k}-tuples that include one of the ${heldOut.length} held-out classes`,
        'tasks.numUnseenClass',
      );
    }
    const enumerateAll = (): number[][] => {
      const out: number[][] = [];
      for (let j = 1; j <= Math.min(heldOut.length, k); j++) {
        const hs = kSubsets(heldOut, j);
        const ks = kSubsets(known, k - j);
        for (const a of hs) for (const b of ks) out.push(...permutationsOf([...a, ...b]));
      }
      return out;
    };
    const randomOne = (rng: Rng): number[] => {
      // Uniform over tuples with a held-out class by rejection; if that is rare, place one
      // held-out class at a random position and fill the rest from all other classes.
      for (let a = 0; a < 20; a++) {
        const t = Array.from(rng.sample(numClasses, k));
        if (t.some((c) => heldSet.has(c))) return t;
      }
      const h = heldOut[rng.int(heldOut.length)];
      const others = Array.from({ length: numClasses }, (_, c) => c).filter((c) => c !== h);
      const rest = Array.from(rng.sample(others.length, k - 1), (i) => others[i]);
      rest.splice(rng.int(k), 0, h);
      return rest;
    };
    classTuples = drawDistinct(
      numUnseenClass,
      capacity,
      enumerateAll,
      randomOne,
      root.fork('unseen-class'),
    );
  }

  const makeTask = (classes: number[], split: TaskSpec['split']): TaskSpec => {
    const id = classes.join('-');
    const rng = root.fork(`samples:${id}`);
    const trainIndex = new Int32Array(k * nTrain);
    const testIndex = new Int32Array(k * nTest);
    classes.forEach((c, pos) => {
      const tr = rng.sample(trainBy[c].length, nTrain);
      const te = rng.sample(testBy[c].length, nTest);
      const trIdx = Int32Array.from(tr, (i) => trainBy[c][i]).sort();
      const teIdx = Int32Array.from(te, (i) => testBy[c][i]).sort();
      trainIndex.set(trIdx, pos * nTrain);
      testIndex.set(teIdx, pos * nTest);
    });
    return { id, classes, trainIndex, testIndex, split };
  };

  return {
    seen: seenTuples.map((t) => makeTask(t, 'seen')),
    unseenCombo: comboTuples.map((t) => makeTask(t, 'unseen-combo')),
    unseenClass: classTuples.map((t) => makeTask(t, 'unseen-class')),
    heldOut,
    trainPool: split.train,
    testPool: split.test,
    config: cfg,
  };
}

/**
 * Tasks of another labelled source, the 'unseen-dataset' split: `count` distinct ordered K-tuples
 * of its classes (none held out: every class of it is new to the zoo), with nTrain / nTest samples
 * per class from its own stratified train/test pools, as `unseenDataset` (the other splits empty).
 * Ids are prefixed 'ud-' so they never collide with the zoo source's task ids. Same labels and
 * arguments → same tasks.
 */
export function drawTargetTasks(
  labels: Int32Array,
  numClasses: number,
  args: {
    readonly k: number;
    readonly nTrain: number;
    readonly nTest: number;
    readonly count: number;
    readonly trainFraction: number;
    readonly seed: number;
  },
  classNames?: readonly string[],
): GeneratedTasks {
  const drawn = generateTasks(
    labels,
    numClasses,
    {
      k: args.k,
      nTrain: args.nTrain,
      nTest: args.nTest,
      heldOutClasses: 0,
      numSeen: args.count,
      numUnseenCombo: 0,
      numUnseenClass: 0,
      trainFraction: args.trainFraction,
      seed: args.seed,
    },
    classNames,
  );
  return {
    ...drawn,
    seen: [],
    unseenDataset: drawn.seen.map((t) => ({
      ...t,
      id: `ud-${t.id}`,
      split: 'unseen-dataset' as const,
    })),
  };
}

/** Source label → output position for a task, checking that the task fits the data. */
function remapper(data: LabelledData, task: TaskSpec): (sample: number) => number {
  const pos = new Map<number, number>();
  task.classes.forEach((c, i) => pos.set(c, i));
  const n = data.labels.length;
  return (s: number): number => {
    if (!(s >= 0 && s < n)) {
      throw new InputError(
        `task ${task.id}: sample index ${s} is outside the dataset's ${n} samples (tasks drawn from another dataset?)`,
        data.source,
      );
    }
    const p = pos.get(data.labels[s]);
    if (p === undefined) {
      throw new InputError(
        `task ${task.id}: sample ${s} has label ${data.labels[s]}, not one of the task's classes [${task.classes.join(', ')}] (tasks drawn from another dataset?)`,
        data.source,
      );
    }
    return p;
  };
}

function gather(data: LabelledData, index: Int32Array, remap: (s: number) => number) {
  const d = sampleSize(data);
  const x = new Float32Array(index.length * d);
  const y = new Int32Array(index.length);
  for (let i = 0; i < index.length; i++) {
    const s = index[i];
    y[i] = remap(s);
    x.set(data.x.subarray(s * d, (s + 1) * d), i * d);
  }
  return { x, y };
}

/**
 * Copy a task's samples out of the source (raw images or features alike), with labels remapped
 * to output positions 0..K-1 (output i = source class `task.classes[i]`).
 */
export function materializeTask(data: LabelledData, task: TaskSpec): TaskData {
  const remap = remapper(data, task);
  const tr = gather(data, task.trainIndex, remap);
  const te = gather(data, task.testIndex, remap);
  return {
    task,
    xTrain: tr.x,
    yTrain: tr.y,
    xTest: te.x,
    yTest: te.y,
    sampleShape: [...data.sampleShape],
    numClasses: task.classes.length,
  };
}

/** A support set for the dataset encoder: `perClass` vectors per class, in output order. */
export interface SupportSet {
  /** Row-major [K, perClass, d]. */
  readonly x: Float32Array;
  /** [K, perClass, d]. */
  readonly shape: [number, number, number];
}

/** Labels of a [K, perClass, d] support set: class c for its c-th block of perClass rows. */
export function supportLabels(k: number, perClass: number): Int32Array {
  return new Int32Array(k * perClass).map((_, i) => Math.floor(i / perClass));
}

/**
 * Draw `perClass` training samples of each class of the task (without replacement, from the
 * task's own training samples), laid out [K, perClass, d] in the task's class order.
 */
export function taskSupportSet(
  data: LabelledData,
  task: TaskSpec,
  perClass: number,
  rng: Rng,
): SupportSet {
  if (!Number.isInteger(perClass) || perClass < 1) {
    throw new InputError(`must be a positive integer, got ${perClass}`, 'perClass');
  }
  const remap = remapper(data, task);
  const K = task.classes.length;
  const byPos: number[][] = Array.from({ length: K }, () => []);
  for (const s of task.trainIndex) byPos[remap(s)].push(s);
  const d = sampleSize(data);
  const x = new Float32Array(K * perClass * d);
  for (let p = 0; p < K; p++) {
    const pool = byPos[p];
    if (pool.length < perClass) {
      throw new InputError(
        `task ${task.id}: class ${task.classes[p]} has ${pool.length} training samples, fewer than the ${perClass} per class the support set needs`,
        'perClass',
      );
    }
    const pick = rng.sample(pool.length, perClass);
    for (let j = 0; j < perClass; j++) {
      const s = pool[pick[j]];
      x.set(data.x.subarray(s * d, (s + 1) * d), (p * perClass + j) * d);
    }
  }
  return { x, shape: [K, perClass, d] };
}
