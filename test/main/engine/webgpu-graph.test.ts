// Opt-in like the other webgpu suites (needs the `webgpu` package and an adapter; lavapipe works):
//   eval "$(scripts/lavapipe.sh)"; D2NWG_WEBGPU_TESTS=1 npx vitest run test/main/engine/webgpu-graph.test.ts
//
// Step graphs (kernels/webgpu-graph.ts) and the device step built on them (common/device-step.ts):
// a replayed step must give exactly what running the same step through tfjs gives, keep state
// right across several graphs and eager steps, stop on a NaN with the weights untouched, refuse
// what cannot be replayed, and free everything it reserved.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/main/engine/backend.ts';
import { DeviceStep, StepPipeline } from '../../../src/main/engine/common/device-step.ts';
import { Adam } from '../../../src/main/engine/common/optim.ts';
import { readAll } from '../../../src/main/engine/common/readback.ts';
import { trainDiffusion } from '../../../src/main/engine/diffusion/train.ts';
import { trainEncoder } from '../../../src/main/engine/encoder/encoder.ts';
import { NumericError } from '../../../src/main/engine/errors.ts';
import {
  GraphCaptureError,
  graphStats,
  reservedBuffers,
  StepGraph,
} from '../../../src/main/engine/kernels/webgpu-graph.ts';
import { GPU_NOISE } from '../../../src/main/engine/kernels/webgpu.ts';
import { Rng } from '../../../src/main/engine/rng.ts';
import { tinyEncoderConfig } from './fixtures/tiny-encoder.ts';
import { layoutOf } from '../../../src/main/engine/nn/architecture.ts';
import { initParams } from '../../../src/main/engine/nn/params.ts';
import { trainBatch } from '../../../src/main/engine/nn/batch.ts';
import { trainVae } from '../../../src/main/engine/vae/train.ts';

const IN = 6;
const HID = 8;
const OUT = 3;

/** A two-layer regression model and a device step over it, for batch sizes in `sizes`. */
function makeModel(seed: number) {
  const rng = new Rng(seed);
  const vars = tf.tidy(() => [
    tf.variable(tf.tensor2d(rng.normalArray(IN * HID, 0, 0.5), [IN, HID]), true, `w1_${seed}`),
    tf.variable(tf.zeros([HID]), true, `b1_${seed}`),
    tf.variable(tf.tensor2d(rng.normalArray(HID * OUT, 0, 0.5), [HID, OUT]), true, `w2_${seed}`),
  ]);
  const adam = new Adam(vars, { lr: 0.05, weightDecay: 0.01, emaDecay: 0.9 });
  const steps = new Map<string, DeviceStep>();
  const stepFor = (b: number, capture: boolean) => {
    let s = steps.get(`${b}:${capture}`);
    if (!s) {
      s = new DeviceStep({
        vars,
        optimizer: adam,
        stage: 'toy',
        capture,
        inputs: [
          { shape: [b, IN], dtype: 'float32' },
          { shape: [b, OUT], dtype: 'float32' },
        ],
        loss: ([x, y], report) => {
          const h = tf.relu(tf.add(tf.matMul(x, vars[0]), vars[1]));
          const err = tf.sub(tf.matMul(h, vars[2]), y);
          const mse = tf.mean(tf.square(err)) as tf.Scalar;
          report(tf.mean(tf.abs(err)) as tf.Scalar);
          return tf.add(mse, 0.5) as tf.Scalar;
        },
      });
      steps.set(`${b}:${capture}`, s);
    }
    return s;
  };
  const dispose = () => {
    for (const s of steps.values()) s.dispose();
    adam.dispose();
    tf.dispose(vars);
  };
  return { vars, adam, stepFor, dispose, steps };
}

/** A tiny latent diffusion model (4-d latents, 3-d conditions, 16 pairs from `rng`). */
async function tinyDiffusion(rng: Rng, steps: number, seed: number) {
  const { model } = await trainDiffusion({
    latents: rng.normalArray(16 * 4),
    conds: rng.normalArray(16 * 3),
    n: 16,
    latentDim: 4,
    condDim: 3,
    config: { steps, batchSize: 8, denoiser: { width: 16, depth: 1, timeEmbDim: 8 } },
    rng: new Rng(seed),
  });
  return model;
}

/** Seeded batches: step i has batch size sizes[i % sizes.length]. */
function batches(count: number, sizes: readonly number[], seed: number) {
  const rng = new Rng(seed);
  return Array.from({ length: count }, (_, i) => {
    const b = sizes[i % sizes.length];
    return { b, x: rng.normalArray(b * IN), y: rng.normalArray(b * OUT) };
  });
}

/** Train on the batches, a graph per batch size (or every step eagerly); losses and weights. */
async function train(
  data: ReturnType<typeof batches>,
  capture: boolean,
  opts: { eagerAt?: number } = {},
) {
  const m = makeModel(1);
  try {
    const losses: number[] = [];
    const reported: number[] = [];
    for (const [i, d] of data.entries()) {
      // An eager step in the middle of replays (another path touching the same state).
      const step = m.stepFor(d.b, capture && i !== opts.eagerAt);
      const r = await step.step([d.x, d.y], { lr: 0.05, clip: 1.5, step: i });
      losses.push(r.loss);
      reported.push(...r.reported);
    }
    const weights = await readAll(m.vars);
    const ema = await m.adam.emaWeights();
    const replays = [...m.steps.values()].reduce((n, s) => n + s.replays, 0);
    return { losses, reported, weights, ema, replays };
  } finally {
    m.dispose();
  }
}

describe.skipIf(process.env.D2NWG_WEBGPU_TESTS !== '1')('step graphs on webgpu', () => {
  beforeAll(async () => {
    const info = await initBackend({ backend: 'webgpu', quiet: true });
    expect(info.name).toBe('webgpu');
  });
  afterAll(async () => {
    await initBackend({ backend: 'wasm', quiet: true });
  });

  it('replays give exactly what running each step through tfjs gives, across graphs and eager steps', async () => {
    // Two batch sizes alternate (two graphs over the same variables), and step 7 runs eagerly.
    const data = batches(14, [5, 3], 7);
    const eager = await train(data, false);
    const graph = await train(data, true, { eagerAt: 7 });
    expect(graph.replays).toBeGreaterThanOrEqual(8);
    expect(eager.replays).toBe(0);
    expect(graph.losses).toEqual(eager.losses);
    expect(graph.reported).toEqual(eager.reported);
    graph.weights.forEach((w, i) => expect(Array.from(w)).toEqual(Array.from(eager.weights[i])));
    graph.ema?.forEach((e, i) => expect(Array.from(e)).toEqual(Array.from(eager.ema?.[i] ?? [])));
    // The loss really moved: training happened.
    expect(eager.losses[13]).toBeLessThan(eager.losses[0]);
  });

  it('a NaN in a replayed step stops with a NumericError and leaves weights and EMA as they were', async () => {
    const data = batches(6, [4], 3);
    const m = makeModel(2);
    try {
      const step = m.stepFor(4, true);
      for (let i = 0; i < 5; i++) await step.step([data[i].x, data[i].y], { lr: 0.05, step: i });
      expect(step.replays).toBe(3);
      const before = await readAll(m.vars);
      const emaBefore = await m.adam.emaWeights();
      const x = Float32Array.from(data[5].x);
      x[2] = Number.NaN;
      const err = await step.step([x, data[5].y], { lr: 0.05, step: 5 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NumericError);
      expect(String(err)).toMatch(/toy.*5/);
      const after = await readAll(m.vars);
      after.forEach((w, i) => expect(Array.from(w)).toEqual(Array.from(before[i])));
      const emaAfter = await m.adam.emaWeights();
      emaAfter?.forEach((e, i) => expect(Array.from(e)).toEqual(Array.from(emaBefore?.[i] ?? [])));

      // Pipelined: the bad step's error surfaces when the next step is queued; the step after it
      // is left in flight and its result dropped without an unhandled rejection.
      const pipe = new StepPipeline();
      expect(
        await pipe.push(step.submit([data[0].x, data[0].y], { lr: 0.05, step: 10 })),
      ).toBeNull();
      const bad = pipe.push(step.submit([x, data[5].y], { lr: 0.05, step: 11 }));
      expect((await bad)?.step).toBe(10);
      await expect(
        pipe.push(step.submit([data[1].x, data[1].y], { lr: 0.05, step: 12 })),
      ).rejects.toThrow(/toy.*11/);
    } finally {
      m.dispose();
    }
  });

  it('a step that uploads per-step data runs eagerly, with the reason; one that reads back is refused', async () => {
    let k = 0;
    const x = tf.tidy(() => tf.variable(tf.ones([4]), false, 'graph_probe'));
    try {
      const g = new StepGraph([{ shape: [4], dtype: 'float32' }], ([a]) => {
        k += 1;
        // A value baked into the step that changes every step: not replayable.
        return [tf.add(tf.mul(a, x), tf.scalar(k))];
      });
      const outs: number[] = [];
      for (let i = 0; i < 4; i++) outs.push((await g.run([Float32Array.of(1, 2, 3, 4)]))[0][0]);
      expect(g.reason).toMatch(/changes between steps/);
      expect(outs).toEqual([2, 3, 4, 5]);
      g.dispose();

      const reads = new StepGraph([{ shape: [4], dtype: 'float32' }], ([a]) => {
        tf.sum(a).dataSync();
        return [a];
      });
      await expect(reads.run([new Float32Array(4)])).rejects.toBeInstanceOf(GraphCaptureError);
      reads.dispose();
      const bad = new StepGraph([{ shape: [4], dtype: 'float32' }], ([a]) => [a]);
      await expect(bad.run([new Float32Array(3)])).rejects.toThrow(/input 0 must be float32 of 4/);
      bad.dispose();
    } finally {
      x.dispose();
    }
  });

  it('frees every tensor and buffer it reserved when disposed', async () => {
    const data = batches(8, [4], 5);
    const base = tf.memory().numTensors;
    expect(reservedBuffers(tf.backend())).toBe(0);
    const m = makeModel(3);
    const step = m.stepFor(4, true);
    for (const [i, d] of data.entries()) await step.step([d.x, d.y], { lr: 0.05, step: i });
    expect(step.replays).toBe(6);
    expect(reservedBuffers(tf.backend())).toBeGreaterThan(10);
    m.dispose();
    expect(reservedBuffers(tf.backend())).toBe(0);
    expect(tf.memory().numTensors).toBe(base);
  });

  it('draws GPU noise that is N(0, std²), fixed by its seed and new for each counter', async () => {
    const draw = async (key: number, counter: number, std: number) => {
      const seed = tf.tensor1d([key, counter], 'int32');
      const t = tf.engine().runKernel(GPU_NOISE, { seed }, { shape: [200, 250], std }) as tf.Tensor;
      try {
        expect(t.shape).toEqual([200, 250]);
        return Float32Array.from(await t.data());
      } finally {
        tf.dispose([t, seed]);
      }
    };
    const a = await draw(7, 0, 0.5);
    expect(Array.from(await draw(7, 0, 0.5))).toEqual(Array.from(a));
    const b = await draw(7, 1, 0.5);
    const c = await draw(8, 0, 0.5);
    const n = a.length;
    const moments = (x: Float32Array) => {
      let m = 0;
      for (const v of x) m += v;
      m /= n;
      let v2 = 0;
      let k4 = 0;
      for (const v of x) {
        v2 += (v - m) ** 2;
        k4 += (v - m) ** 4;
      }
      v2 /= n;
      return { m, sd: Math.sqrt(v2), kurt: k4 / n / (v2 * v2) };
    };
    for (const x of [a, b, c]) {
      const { m, sd, kurt } = moments(x);
      expect(Math.abs(m)).toBeLessThan(0.01); // 4 standard errors of the mean
      expect(Math.abs(sd - 0.5)).toBeLessThan(0.005);
      expect(Math.abs(kurt - 3)).toBeLessThan(0.1);
    }
    // Different counters and keys give unrelated draws.
    let ab = 0;
    let ac = 0;
    for (let i = 0; i < n; i++) {
      ab += a[i] * b[i];
      ac += a[i] * c[i];
    }
    expect(Math.abs(ab / n / 0.25)).toBeLessThan(0.02);
    expect(Math.abs(ac / n / 0.25)).toBeLessThan(0.02);
    const seed = tf.tensor1d([1, 2], 'float32');
    expect(() => tf.engine().runKernel(GPU_NOISE, { seed }, { shape: [3], std: 1 })).toThrow(
      /seed must be int32\[2\]/,
    );
    seed.dispose();
  });

  it('the VAE, diffusion and encoder trainers replay their steps on webgpu', async () => {
    const zoo = new Rng(10).normalArray(12 * 40);
    const r0 = graphStats.replayed;
    // With input noise drawn on the GPU: the same seed gives the same VAE, and it learns.
    const vaeRun = async (inputNoise: number) => {
      const { vae, history } = await trainVae({
        vectors: zoo,
        n: 12,
        dim: 40,
        config: { hidden: [16], latentDim: 4, epochs: 3, batchSize: 4, inputNoise, lr: 3e-3 },
        rng: new Rng(11),
      });
      try {
        return { loss: history.map((h) => h.recon), mu: await vae.encodeMean(zoo, 12) };
      } finally {
        vae.dispose();
      }
    };
    const a = await vaeRun(0.05);
    // 9 steps of one batch size: 2 captured, 7 replayed.
    expect(graphStats.replayed - r0).toBe(7);
    const b = await vaeRun(0.05);
    expect(b.loss).toEqual(a.loss);
    expect(Array.from(b.mu)).toEqual(Array.from(a.mu));
    expect(a.loss[2]).toBeLessThan(a.loss[0]);
    // The noise is there: without it the run differs.
    const c = await vaeRun(0);
    expect(c.loss).not.toEqual(a.loss);
    const r1 = graphStats.replayed;
    const rng = new Rng(4);
    (await tinyDiffusion(rng, 10, 5)).dispose();
    expect(graphStats.replayed - r1).toBe(8);
    expect(r1 - r0).toBe(21);
    const r2 = graphStats.replayed;
    const shape = { numClasses: 3, perClass: 2, featDim: 6, latentDim: 4 };
    const sets = rng.normalArray(8 * 3 * 2 * 6);
    const { encoder, losses } = await trainEncoder({
      sets,
      latents: rng.normalArray(8 * 4),
      count: 8,
      shape,
      config: tinyEncoderConfig(4),
      rng: new Rng(15),
    });
    encoder.dispose();
    // 2 batches of 4 an epoch: 2 captured, 6 replayed.
    expect(graphStats.replayed - r2).toBe(6);
    expect(losses.every(Number.isFinite)).toBe(true);
  });

  it('model batches replay their training steps: same weights and history as through tfjs, NaN named', async () => {
    const layout = layoutOf({
      kind: 'mlp',
      inputDim: 5,
      hidden: [6],
      outputs: 3,
      activation: 'relu',
    });
    const members = (nanAt = -1) =>
      Array.from({ length: 4 }, (_, m) => {
        const rng = new Rng(30 + m);
        const xTrain = rng.normalArray(20 * 5);
        if (m === 2 && nanAt >= 0) xTrain[nanAt] = Number.NaN;
        return {
          init: initParams(layout, new Rng(40 + m)),
          xTrain,
          yTrain: Int32Array.from({ length: 20 }, (_, i) => (i + m) % 3),
          rng: new Rng(50 + m),
          name: `member ${m}`,
        };
      });
    const run = (nanAt = -1) =>
      trainBatch({ layout, members: members(nanAt), epochs: 3, batchSize: 6, lr: 0.01 });
    const r0 = graphStats.replayed;
    const graph = await run();
    // 4 minibatches an epoch (6, 6, 6, 2): two graphs, 2 captures each, the rest replayed.
    expect(graphStats.replayed - r0).toBe(8);
    process.env.D2NWG_WEBGPU_GRAPH = '0';
    let eager: Awaited<ReturnType<typeof run>>;
    try {
      eager = await run();
    } finally {
      delete process.env.D2NWG_WEBGPU_GRAPH;
    }
    expect(graphStats.replayed - r0).toBe(8);
    graph.params.forEach((p, i) => {
      const e = eager.params[i];
      let worst = 0;
      for (let j = 0; j < p.length; j++) worst = Math.max(worst, Math.abs(p[j] - e[j]));
      expect(worst).toBeLessThan(1e-6);
    });
    graph.history.forEach((h, m) =>
      h.forEach((r, k) => {
        expect(r.trainAcc).toBe(eager.history[m][k].trainAcc);
        expect(Math.abs(r.trainLoss - eager.history[m][k].trainLoss)).toBeLessThan(1e-6);
      }),
    );
    await expect(run(7)).rejects.toThrow(/member 2/);
  });

  it('sampling replays the whole reverse process: the same latents as through tfjs', async () => {
    const rng = new Rng(6);
    const model = await tinyDiffusion(rng, 4, 7);
    try {
      const cond = rng.normalArray(3);
      const draw = (seed: number, eta: number) =>
        model.sample({
          n: 5,
          cond,
          rng: new Rng(seed),
          sampler: { sampler: 'ddim', steps: 6, eta, guidance: 2 },
        });
      const SETTINGS = [
        [1, 0],
        [2, 0],
        [3, 0],
        [1, 0.5],
        [2, 0.5],
        [3, 0.5],
      ] as const;
      const r0 = graphStats.replayed;
      const graph: Float32Array[] = [];
      for (const [seed, eta] of SETTINGS) {
        graph.push(await draw(seed, eta));
      }
      // One graph per sampler setting: the third draw of each is a replay.
      expect(graphStats.replayed - r0).toBe(2);
      process.env.D2NWG_WEBGPU_GRAPH = '0';
      const eager: Float32Array[] = [];
      try {
        for (const [seed, eta] of SETTINGS) {
          eager.push(await draw(seed, eta));
        }
      } finally {
        delete process.env.D2NWG_WEBGPU_GRAPH;
      }
      graph.forEach((g, i) => {
        expect(g.length).toBe(20);
        let worst = 0;
        for (let j = 0; j < g.length; j++) worst = Math.max(worst, Math.abs(g[j] - eager[i][j]));
        expect(worst).toBeLessThan(1e-4);
      });
      // Different seeds, different latents.
      expect(Array.from(graph[2])).not.toEqual(Array.from(graph[1]));
    } finally {
      model.dispose();
    }
    expect(reservedBuffers(tf.backend())).toBe(0);
  });
});
