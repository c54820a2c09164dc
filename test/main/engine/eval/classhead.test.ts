import { describe, expect, it } from 'vitest';
import {
  ClassHeadGenerator,
  classInputCount,
  classInputs,
} from '../../../../src/main/engine/eval/classhead.ts';
import { InputError } from '../../../../src/main/engine/errors.ts';
import { layoutOf, type Layout } from '../../../../src/main/engine/nn/architecture.ts';
import { initParams } from '../../../../src/main/engine/nn/params.ts';
import { accuracy } from '../../../../src/main/engine/nn/train.ts';
import { Rng } from '../../../../src/main/engine/rng.ts';
import { expectNoLeakedTensors } from '../../../helpers/tf.ts';

/** Row p of the head `wp` is row perm[p] of `w`, weights and bias alike. */
function expectRowsPermuted(
  layout: Layout,
  w: Float32Array,
  wp: Float32Array,
  perm: readonly number[],
): void {
  const k = layout.arch.outputs;
  const ws = layout.params[layout.params.length - 2];
  const bs = layout.params[layout.params.length - 1];
  const width = ws.shape[0];
  for (let p = 0; p < k; p++) {
    expect(wp[bs.offset + p]).toBeCloseTo(w[bs.offset + perm[p]], 4);
    for (let j = 0; j < width; j++) {
      expect(wp[ws.offset + j * k + p]).toBeCloseTo(w[ws.offset + j * k + perm[p]], 5);
    }
  }
}

/**
 * n samples per position of a class tuple, each of `width` values drawn by `sample(class, rng)`;
 * labels are the positions (0 for the tuple's first class, …).
 */
function tupleData(
  classes: readonly number[],
  n: number,
  width: number,
  sample: (cls: number, r: Rng) => ArrayLike<number>,
  r: Rng,
): { x: Float32Array; y: Int32Array } {
  const x = new Float32Array(classes.length * n * width);
  const y = new Int32Array(classes.length * n);
  classes.forEach((cls, p) => {
    for (let i = 0; i < n; i++) {
      x.set(sample(cls, r), (p * n + i) * width);
      y[p * n + i] = p;
    }
  });
  return { x, y };
}

/** The zoo's class tuples: orders of 3 of 6 classes (the CNN zoo uses the first 5). */
const TUPLES: readonly (readonly number[])[] = [
  [0, 1, 2],
  [3, 4, 5],
  [1, 3, 5],
  [2, 0, 4],
  [5, 2, 1],
  [4, 3, 0],
];

/** One zoo member per tuple: seeded initial weights and the tuple's data (seeds from `seed`). */
function zooMembers(
  layout: Layout,
  tuples: readonly (readonly number[])[],
  data: (classes: readonly number[], r: Rng) => { x: Float32Array; y: Int32Array },
  seed: number,
) {
  return tuples.map((cls, i) => ({
    params: initParams(layout, new Rng(seed + i)),
    ...data(cls, new Rng(seed + 100 + i)),
  }));
}

/** ClassHeadGenerator.train over a zoo's members (4 support samples per class by default). */
function trainGenerator(
  layout: Layout,
  members: readonly { params: Float32Array; x: Float32Array; y: Int32Array }[],
  config: Parameters<typeof ClassHeadGenerator.train>[0]['config'],
  seed: number,
  perClass = 4,
) {
  return ClassHeadGenerator.train({
    layout,
    members: members.length,
    member: (i) => members[i],
    perClass,
    config,
    rng: new Rng(seed),
  });
}

/** A one-hidden-layer leaky-ReLU MLP of d inputs and k outputs. */
const mlpLayout = (d: number, hidden: number, k: number) =>
  layoutOf({ kind: 'mlp', inputDim: d, hidden: [hidden], outputs: k, activation: 'leaky_relu' });

describe('class-head generator (conditioning per class)', () => {
  const k = 3;
  const d = 6;
  const layout = mlpLayout(d, 10, k);
  const rng = new Rng(11);
  // Eight well-separated classes; every task picks 3 of them in some order.
  const centres = Array.from({ length: 8 }, () => rng.normalArray(d, 0, 2.5));
  const draw = (cls: number, r: Rng) => centres[cls].map((v) => v + 0.4 * r.normal());
  const taskData = (classes: readonly number[], n: number, r: Rng) =>
    tupleData(classes, n, d, draw, r);
  const tuples = TUPLES;
  const members = zooMembers(layout, tuples, (cls, r) => taskData(cls, 12, r), 100);
  const config = { steps: 120, batchMembers: 4, queryPerClass: 6, hidden: 16, lr: 1e-2 };

  it('writes row i from class i: permuting the class tuple permutes the rows', async () => {
    // Training, generating and disposing leaves no tensor behind (the generator holds 6 variables
    // until disposed).
    await expectNoLeakedTensors(async () => {
      const gen = await trainGenerator(layout, members, config, 3);
      try {
        await checkRows(gen);
      } finally {
        gen.dispose();
      }
    });
  });

  async function checkRows(gen: ClassHeadGenerator): Promise<void> {
    {
      expect(gen.lossHistory.length).toBeGreaterThan(1);
      // Training lowers the query loss.
      expect(gen.lossHistory[gen.lossHistory.length - 1]).toBeLessThan(gen.lossHistory[0]);
      const body = initParams(layout, new Rng(9));
      // Classes 6 and 7 never appear in the zoo: an unseen-class task.
      const classes = [6, 7, 2];
      const support = taskData(classes, 4, new Rng(5)).x;
      const w = await expectNoLeakedTensors(() => gen.headFor(body, support, k, 4));
      expect(w.length).toBe(layout.size);
      const headStart = layout.params[layout.params.length - 2].offset;
      // Only the output layer changed.
      expect(Array.from(w.subarray(0, headStart))).toEqual(Array.from(body.subarray(0, headStart)));
      const test = taskData(classes, 30, new Rng(6));
      expect(await accuracy(layout, w, test.x, test.y)).toBeGreaterThan(0.8);

      // The same support with its classes in the order (2, 0, 1): row p of the permuted head is
      // row perm[p] of the original, weights and bias alike.
      const perm = [2, 0, 1];
      const permuted = new Float32Array(support.length);
      perm.forEach((from, p) =>
        permuted.set(support.subarray(from * 4 * d, (from + 1) * 4 * d), p * 4 * d),
      );
      expectRowsPermuted(layout, w, await gen.headFor(body, permuted, k, 4), perm);
    }
  }

  it('gives the same generator for the same seed', async () => {
    const train = () => trainGenerator(layout, members, { ...config, steps: 10 }, 4);
    const [a, b] = [await train(), await train()];
    try {
      const body = initParams(layout, new Rng(1));
      const support = taskData([0, 1, 2], 4, new Rng(2)).x;
      expect(Array.from(await a.headFor(body, support, k, 4))).toEqual(
        Array.from(await b.headFor(body, support, k, 4)),
      );
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  it('computes per-(class, unit) inputs of shape [K·H, 5] that follow the class order', () => {
    const h = new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]); // K = 2, perClass = 2, H = 2
    const a = classInputs(h, 2, 2);
    expect(a.width).toBe(2);
    expect(a.inputs.length).toBe(2 * 2 * 5);
    // Class means (2, 3) and (6, 7): the first input of (class, unit) is μ / scale.
    const scale = Math.sqrt((4 + 9 + 36 + 49) / 4) + 1e-6;
    expect(a.inputs[0]).toBeCloseTo(2 / scale, 6);
    expect(a.inputs[5]).toBeCloseTo(3 / scale, 6);
    expect(a.inputs[10]).toBeCloseTo(6 / scale, 6);
    const swapped = classInputs(new Float32Array([5, 6, 7, 8, 1, 2, 3, 4]), 2, 2);
    expect(Array.from(swapped.inputs.subarray(0, 10))).toEqual(Array.from(a.inputs.subarray(10)));
    expect(() => classInputs(new Float32Array(7), 2, 2)).toThrow(InputError);
  });

  it("adds, with hops, the class mean walked over the units' within-class correlation", () => {
    // K = 2, perClass = 2, H = 2: class 0 at (0, 0), (2, 1); class 1 at (4, 4), (4, 6).
    const h = new Float32Array([0, 0, 2, 1, 4, 4, 4, 6]);
    const n = classInputCount(2);
    expect(n).toBe(5 + 2 * 3);
    expect(classInputCount(0)).toBe(5);
    const a = classInputs(h, 2, 2, 2);
    expect(a.inputs.length).toBe(2 * 2 * n);
    // The first five inputs are those without hops.
    const base = classInputs(h, 2, 2, 0);
    for (let row = 0; row < 4; row++) {
      for (let i = 0; i < 5; i++) {
        expect(a.inputs[row * n + i]).toBeCloseTo(base.inputs[row * 5 + i], 6);
      }
    }
    // Class means (1, 0.5) and (4, 5); the within-class covariance over n = 4 is
    // [[0.5, 0.25], [0.25, 0.625]]; d_j = s_j + 0.1·r with r = √((1 + 0.25 + 16 + 25) / 4).
    const r = Math.sqrt(42.25 / 4);
    expect(a.scale).toBeCloseTo(r, 5);
    const cov = [
      [0.5, 0.25],
      [0.25, 0.625],
    ];
    const d = [Math.sqrt(0.5) + 0.1 * r, Math.sqrt(0.625) + 0.1 * r];
    const R = cov.map((row, i) => row.map((v, j) => v / (d[i] * d[j])));
    const tr = R[0][0] + R[1][1];
    const tr2 = R[0][0] ** 2 + R[1][1] ** 2 + 2 * R[0][1] ** 2;
    const walk = (v: number[]) => [0, 1].map((i) => ((R[i][0] * v[0] + R[i][1] * v[1]) * tr) / tr2);
    const mean = [2.5, 2.75];
    const means = [
      [1, 0.5],
      [4, 5],
    ];
    for (let c = 0; c < 2; c++) {
      const z = [0, 1].map((j) => (means[c][j] - mean[j]) / d[j]);
      let u = z;
      for (let t = 0; t <= 2; t++) {
        if (t > 0) u = walk(u);
        for (let j = 0; j < 2; j++) {
          const o = (c * 2 + j) * n + 5 + 2 * t;
          expect(a.inputs[o]).toBeCloseTo((u[j] * r) / d[j], 5);
          expect(a.inputs[o + 1]).toBeCloseTo(z[j] * u[j], 5);
        }
      }
    }
    // Swapping the classes swaps their rows, the hops included.
    const swapped = classInputs(new Float32Array([4, 4, 4, 6, 0, 0, 2, 1]), 2, 2, 2);
    for (let i = 0; i < 2 * n; i++) {
      expect(swapped.inputs[i]).toBeCloseTo(a.inputs[2 * n + i], 6);
      expect(swapped.inputs[2 * n + i]).toBeCloseTo(a.inputs[i], 6);
    }
  });

  it('with hops, still writes row i from class i and classifies unseen classes', async () => {
    await expectNoLeakedTensors(async () => {
      const gen = await trainGenerator(layout, members, { ...config, hops: 2 }, 3);
      try {
        expect(gen.hops).toBe(2);
        await checkRows(gen);
      } finally {
        gen.dispose();
      }
    });
  });

  it('refuses a bad config, a support set of the wrong size and too few samples', async () => {
    const args = {
      layout,
      members: members.length,
      member: (i: number) => members[i],
      perClass: 4,
      rng: new Rng(1),
    };
    await expect(ClassHeadGenerator.train({ ...args, config: { hidden: 0 } })).rejects.toThrow(
      /class head config hidden/,
    );
    await expect(ClassHeadGenerator.train({ ...args, config: { stepz: 3 } })).rejects.toThrow(
      InputError,
    );
    await expect(ClassHeadGenerator.train({ ...args, config: { hops: 5 } })).rejects.toThrow(
      /class head config hops/,
    );
    await expect(ClassHeadGenerator.train({ ...args, perClass: 13 })).rejects.toThrow(
      /fewer than the 13 of a support set/,
    );
    await expect(ClassHeadGenerator.train({ ...args, members: 0 })).rejects.toThrow(
      /no checkpoints/,
    );
    const gen = await ClassHeadGenerator.train({ ...args, config: { steps: 2 } });
    try {
      const body = initParams(layout, new Rng(1));
      await expect(gen.headFor(body, new Float32Array(5), k, 4)).rejects.toThrow(
        /do not hold 3 classes × 4 samples/,
      );
      await expect(gen.headFor(body, new Float32Array(4 * 4 * d), 4, 4)).rejects.toThrow(
        /3 outputs/,
      );
    } finally {
      gen.dispose();
    }
  });
});

describe('class-head generator on a CNN zoo (the pooled channels are what the head reads)', () => {
  const k = 3;
  const side = 6;
  const layout = layoutOf({
    kind: 'cnn',
    inputShape: [side, side, 1],
    channels: [3, 6],
    kernelSize: 3,
    outputs: k,
    activation: 'relu',
  });
  const pixels = side * side;
  const rng = new Rng(21);
  // Eight classes of images: a brightness level and a left/right contrast of their own.
  const looks = Array.from({ length: 8 }, () => [2 * rng.normal(), 2 * rng.normal()]);
  const image = (cls: number, r: Rng) =>
    Array.from(
      { length: pixels },
      (_, p) => looks[cls][0] + (p % side < side / 2 ? 1 : -1) * looks[cls][1] + 0.2 * r.normal(),
    );
  const taskData = (classes: readonly number[], n: number, r: Rng) =>
    tupleData(classes, n, pixels, image, r);
  const tuples = TUPLES.slice(0, 5);
  const members = zooMembers(layout, tuples, (cls, r) => taskData(cls, 10, r), 300);

  it('generates a head over the pooled channels whose rows follow the class order', async () => {
    await expectNoLeakedTensors(async () => {
      const gen = await trainGenerator(
        layout,
        members,
        { steps: 80, batchMembers: 3, queryPerClass: 6, hidden: 16, lr: 1e-2 },
        5,
      );
      try {
        expect(gen.lossHistory[gen.lossHistory.length - 1]).toBeLessThan(gen.lossHistory[0]);
        const body = initParams(layout, new Rng(8));
        // Classes 6 and 7 never appear in the zoo.
        const classes = [6, 7, 2];
        const support = taskData(classes, 4, new Rng(9)).x;
        const w = await gen.headFor(body, support, k, 4);
        expect(w.length).toBe(layout.size);
        // The output layer reads the 6 pooled channels: a [6, 3] kernel and 3 biases.
        const ws = layout.params[layout.params.length - 2];
        expect(ws.shape).toEqual([6, k]);
        expect(Array.from(w.subarray(0, ws.offset))).toEqual(
          Array.from(body.subarray(0, ws.offset)),
        );
        expect(Array.from(w.subarray(ws.offset)).every(Number.isFinite)).toBe(true);
        expect(Array.from(w.subarray(ws.offset))).not.toEqual(Array.from(body.subarray(ws.offset)));
        const test = taskData(classes, 30, new Rng(10));
        expect(await accuracy(layout, w, test.x, test.y)).toBeGreaterThan(0.85);

        const perm = [1, 2, 0];
        const permuted = new Float32Array(support.length);
        perm.forEach((from, p) =>
          permuted.set(
            support.subarray(from * 4 * pixels, (from + 1) * 4 * pixels),
            p * 4 * pixels,
          ),
        );
        expectRowsPermuted(layout, w, await gen.headFor(body, permuted, k, 4), perm);
        await expect(gen.headFor(body, new Float32Array(4 * 4 * 6), k, 4)).rejects.toThrow(
          /do not hold 3 classes × 4 samples of 36/,
        );
      } finally {
        gen.dispose();
      }
    });
  });
});

describe('class-head generator with hops, on features that co-vary within classes', () => {
  it('separates classes a per-unit head cannot, behind a correlated nuisance', async () => {
    const k = 3;
    const d = 6;
    const perClass = 10;
    const layout = mlpLayout(d, 8, k);
    const rng = new Rng(11);
    // Class centres apart by ~1 per input; every sample also moves by 3·N(0, 1) along one shared
    // direction u, so each hidden unit's within-class spread is mostly that nuisance and only
    // a combination of units (one that cancels u) shows the classes apart.
    const centres = Array.from({ length: 10 }, () => rng.normalArray(d, 0, 1));
    const u = rng.normalArray(d, 0, 1);
    const draw = (cls: number, r: Rng) => {
      const a = 3 * r.normal();
      return centres[cls].map((v, i) => v + a * u[i] + 0.3 * r.normal());
    };
    const taskData = (classes: readonly number[], n: number, r: Rng) =>
      tupleData(classes, n, d, draw, r);
    const pick = new Rng(5);
    // 20 tasks over classes 0–7; 8 and 9 are unseen.
    const tuples = Array.from({ length: 20 }, () => Array.from(pick.sample(8, 3)));
    const members = zooMembers(layout, tuples, (cls, r) => taskData(cls, 20, r), 100);
    const unseenAccuracy = async (hops: number) => {
      const gen = await trainGenerator(
        layout,
        members,
        { steps: 300, batchMembers: 8, queryPerClass: 10, hidden: 16, lr: 1e-2, hops },
        3,
        perClass,
      );
      try {
        let acc = 0;
        for (let t = 0; t < 5; t++) {
          const body = initParams(layout, new Rng(50 + t));
          const classes = [8, 9, t];
          const support = taskData(classes, perClass, new Rng(60 + t)).x;
          const w = await gen.headFor(body, support, k, perClass);
          const test = taskData(classes, 50, new Rng(70 + t));
          acc += (await accuracy(layout, w, test.x, test.y)) / 5;
        }
        return acc;
      } finally {
        gen.dispose();
      }
    };
    const perUnit = await unseenAccuracy(0);
    const withHops = await unseenAccuracy(2);
    expect(withHops).toBeGreaterThan(perUnit + 0.05);
    expect(withHops).toBeGreaterThan(0.8);
  });
});
