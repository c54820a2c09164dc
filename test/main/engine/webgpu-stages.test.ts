// Opt-in (needs the `webgpu` and `@tensorflow/tfjs-backend-webgpu` packages and an adapter; a
// software Vulkan such as Mesa's lavapipe works):
//   VK_ICD_FILENAMES=/path/lvp.json D2NWG_WEBGPU_TESTS=1 \
//   npx vitest run test/main/engine/webgpu-stages.test.ts
//
// Every stage the engine trains runs the same seeded tiny config on wasm and on webgpu, and the
// outputs must agree within float32 tolerance (see the constants below). Each run must also
// leave no tensor behind, raise no WebGPU device error, and hold the same memory (tensors, bytes,
// GPU bytes in use and allocated) after epoch 4 as after epoch 2.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArchitectureSchema } from '../../../src/shared/schemas/zoo.ts';
import { initBackend } from '../../../src/main/engine/backend.ts';
import { Adam, HostAdam, optimStep } from '../../../src/main/engine/common/optim.ts';
import { ParamSet } from '../../../src/main/engine/common/params.ts';
import type { LabelledData, TaskData } from '../../../src/main/engine/data/types.ts';
import { trainDiffusion } from '../../../src/main/engine/diffusion/train.ts';
import type { DenoiserConfigInput } from '../../../src/shared/schemas/diffusion.ts';
import { trainEncoder } from '../../../src/main/engine/encoder/encoder.ts';
import { finetuneCurve } from '../../../src/main/engine/eval/finetune.ts';
import { applyExtractor, fitExtractor } from '../../../src/main/engine/features/extractor.ts';
import {
  layoutOf,
  resolveArchitecture,
  type Layout,
} from '../../../src/main/engine/nn/architecture.ts';
import { initParams } from '../../../src/main/engine/nn/params.ts';
import { trainMember } from '../../../src/main/engine/zoo/train-member.ts';
import type { Progress } from '../../../src/main/engine/progress.ts';
import { Rng } from '../../../src/main/engine/rng.ts';
import { tinyEncoderConfig } from './fixtures/tiny-encoder.ts';
import { trainVae } from '../../../src/main/engine/vae/train.ts';

/*
 * Tolerances. The backends sum in different orders (XNNPACK vs. WGSL reductions and tiled
 * matmuls) and use different exp/log, so results differ by float32 rounding, which a few
 * optimiser steps carry forward. Worst gaps measured on lavapipe (Mesa 25): losses 1.6e-6
 * relative, trained weights / latents / embeddings / samples 1.7e-6 of their largest value, the
 * optimiser unit check 8e-8, PCA 0, accuracies equal. A real GPU contracts to FMA and tiles
 * differently, and an Adam step on a gradient element within rounding of zero can flip sign
 * (moving that weight by ~lr), so the bounds leave ~500× headroom; a wrong kernel (a dropped
 * bias, a bad transpose, an invalid pipeline's garbage) moves these numbers by 1e-2 or more.
 */
/** Relative gap allowed on losses and eigenvalues. */
const LOSS_RTOL = 1e-3;
/** Gap allowed on trained weights and stage outputs, relative to the array's largest value. */
const OUT_TOL = 1e-3;
/** Optimiser unit check: five Adam steps on a quadratic, no deep nonlinearity. */
const OPT_TOL = 1e-5;

const BACKENDS = ['wasm', 'webgpu'] as const;
type Backend = (typeof BACKENDS)[number];

/**
 * What the memory probes record: live tensors and their bytes, and on webgpu the bytes of GPU
 * buffers in use and allocated (the latter includes tfjs's pool of free buffers).
 */
interface MemorySnapshot {
  readonly numTensors: number;
  readonly numBytes: number;
  readonly numBytesInGPU?: number;
  readonly numBytesAllocatedInGPU?: number;
}

function snapshot(): MemorySnapshot {
  const m = tf.memory() as tf.MemoryInfo & {
    numBytesInGPU?: number;
    numBytesAllocatedInGPU?: number;
  };
  return {
    numTensors: m.numTensors,
    numBytes: m.numBytes,
    ...(m.numBytesInGPU !== undefined ? { numBytesInGPU: m.numBytesInGPU } : {}),
    ...(m.numBytesAllocatedInGPU !== undefined
      ? { numBytesAllocatedInGPU: m.numBytesAllocatedInGPU }
      : {}),
  };
}

/**
 * Records memory when a training loop reports progress value `at[0]` and `at[1]` (e.g. epochs 2
 * and 4): a loop that keeps a tensor per epoch shows up as a difference.
 */
function memoryProbe(at: readonly [number, number]): {
  onProgress: (p: Progress) => void;
  readonly seen: Map<number, MemorySnapshot>;
} {
  const seen = new Map<number, MemorySnapshot>();
  return {
    seen,
    onProgress: (p) => {
      if (p.value === at[0] || p.value === at[1]) seen.set(p.value, snapshot());
    },
  };
}

function expectSteadyMemory(seen: Map<number, MemorySnapshot>, at: readonly [number, number]) {
  const a = seen.get(at[0]);
  const b = seen.get(at[1]);
  expect(a, `no memory snapshot at ${at[0]}`).toBeDefined();
  expect(b, `memory at ${at[1]} vs ${at[0]}`).toEqual(a);
}

/** The parts of a WebGPU device used here: error scopes (Dawn only logs uncaught errors). */
interface GpuDeviceLike {
  pushErrorScope(filter: 'validation' | 'out-of-memory' | 'internal'): void;
  popErrorScope(): Promise<{ readonly message: string } | null>;
}

function webgpuDevice(): GpuDeviceLike {
  const device: unknown = Reflect.get(tf.findBackend('webgpu') ?? {}, 'device');
  if (typeof device !== 'object' || device === null || !('pushErrorScope' in device)) {
    throw new Error('the webgpu backend exposes no device');
  }
  return device as GpuDeviceLike;
}

/**
 * Run `stage` on wasm, then on webgpu, from the same seeds; on each backend it must leave no
 * tensor behind, and on webgpu raise no device error (an invalid pipeline, e.g. one binding more
 * storage buffers than a shader stage may have, only logs a warning and leaves garbage).
 */
async function onBoth<T>(stage: () => Promise<T>): Promise<Record<Backend, T>> {
  const out: Partial<Record<Backend, T>> = {};
  for (const b of BACKENDS) {
    if (!(await tf.setBackend(b))) throw new Error(`cannot switch to ${b}`);
    const before = tf.memory().numTensors;
    const device = b === 'webgpu' ? webgpuDevice() : null;
    const filters = ['validation', 'out-of-memory', 'internal'] as const;
    for (const f of filters) device?.pushErrorScope(f);
    try {
      out[b] = await stage();
    } finally {
      const errors = device ? await Promise.all(filters.map(() => device.popErrorScope())) : [];
      const messages = errors.flatMap((e) => (e ? [e.message] : []));
      expect(messages, 'webgpu device errors').toEqual([]);
    }
    expect(tf.memory().numTensors, `${b}: tensors left behind`).toBe(before);
  }
  const { wasm, webgpu } = out;
  if (wasm === undefined || webgpu === undefined) throw new Error('a backend gave no result');
  return { wasm, webgpu };
}

/** Largest |a−b| over two equally long arrays. */
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(b.length).toBe(a.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Largest |a−b| / max(|a|, |b|, floor) over two equally long arrays. */
function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-3): number {
  expect(b.length).toBe(a.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    m = Math.max(m, Math.abs(a[i] - b[i]) / Math.max(Math.abs(a[i]), Math.abs(b[i]), floor));
  }
  return m;
}

/** Largest |a−b| / max|a| over two equally long arrays: error relative to the array's scale. */
function scaledDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 0;
  for (let i = 0; i < a.length; i++) scale = Math.max(scale, Math.abs(a[i]));
  return maxAbsDiff(a, b) / Math.max(scale, 1e-12);
}

/** Three Gaussian blobs in 6-d, `perClass` samples each; labels cycle 0,1,2. */
function blobs(perClass: number, seed: number): { x: Float32Array; y: Int32Array } {
  const rng = new Rng(seed);
  const n = 3 * perClass;
  const x = rng.normalArray(n * 6);
  const y = Int32Array.from({ length: n }, (_, i) => i % 3);
  for (let i = 0; i < n; i++) x[i * 6 + y[i]] += 2;
  return { x, y };
}

const MLP: Layout = layoutOf({
  kind: 'mlp',
  inputDim: 6,
  hidden: [8],
  outputs: 3,
  activation: 'relu',
});
const TRAIN = blobs(16, 1);
const TEST = blobs(10, 2);

describe.skipIf(process.env.D2NWG_WEBGPU_TESTS !== '1')('engine stages on webgpu vs wasm', () => {
  beforeAll(async () => {
    const info = await initBackend({ backend: 'webgpu', quiet: true });
    expect(info.name).toBe('webgpu');
    // Tiny tensors still on the host would run on tfjs's cpu kernels ("cpu forward"); the
    // real sizes never do, so keep every op on the GPU here.
    tf.env().set('WEBGPU_CPU_FORWARD', false);
  });
  afterAll(async () => {
    tf.env().set('WEBGPU_CPU_FORWARD', true);
    await initBackend({ backend: 'wasm', quiet: true });
  });

  it('zoo member (MLP): same losses, accuracies and weights; memory steady across epochs', async () => {
    const at = [2, 4] as const;
    const run = await onBoth(async () => {
      const seen = new Map<number, MemorySnapshot>();
      const losses: number[] = [];
      const res = await trainMember(
        {
          run: 0,
          taskId: 't0',
          layout: MLP,
          init: initParams(MLP, new Rng(3)),
          xTrain: TRAIN.x,
          yTrain: TRAIN.y,
          xTest: TEST.x,
          yTest: TEST.y,
          epochs: 4,
          batchSize: 16,
          lr: 1e-2,
          shuffleSeed: 4,
          keepLast: 4,
        },
        (m) => {
          losses.push(m.trainLoss);
          if (m.epoch === at[0] || m.epoch === at[1]) seen.set(m.epoch, snapshot());
        },
      );
      expectSteadyMemory(seen, at);
      return { losses, checkpoints: res.checkpoints };
    });
    expect(maxRelDiff(run.webgpu.losses, run.wasm.losses)).toBeLessThan(LOSS_RTOL);
    expect(run.wasm.losses[3]).toBeLessThan(run.wasm.losses[0]);
    for (let i = 0; i < 4; i++) {
      const a = run.wasm.checkpoints[i];
      const b = run.webgpu.checkpoints[i];
      expect(b.epoch).toBe(a.epoch);
      // Accuracies are counts over 30–48 samples: equal unless a sample sits on a boundary.
      expect(Math.abs(b.testAcc - a.testAcc)).toBeLessThanOrEqual(1 / TEST.y.length + 1e-9);
      expect(Math.abs(b.trainAcc - a.trainAcc)).toBeLessThanOrEqual(1 / TRAIN.y.length + 1e-9);
      expect(scaledDiff(a.params, b.params)).toBeLessThan(OUT_TOL);
    }
  });

  it('zoo member (CNN): convolutions train the same', async () => {
    const rng = new Rng(5);
    const n = 16;
    const x = new Float32Array(n * 64);
    const y = Int32Array.from({ length: n }, (_, i) => i % 2);
    for (let i = 0; i < n; i++) {
      for (let p = 0; p < 64; p++)
        x[i * 64 + p] = (p % 8 < 4 === (y[i] === 0) ? 0.8 : 0.1) + 0.1 * rng.next();
    }
    const cnn = layoutOf(
      resolveArchitecture(
        ArchitectureSchema.parse({ kind: 'cnn', channels: [4, 4] }),
        [8, 8, 1],
        2,
      ),
    );
    const run = await onBoth(async () => {
      const res = await trainMember({
        run: 0,
        taskId: 'cnn',
        layout: cnn,
        init: initParams(cnn, new Rng(6)),
        xTrain: x,
        yTrain: y,
        xTest: x,
        yTest: y,
        epochs: 3,
        batchSize: 8,
        lr: 2e-2,
        shuffleSeed: 7,
        keepLast: 1,
      });
      return res.checkpoints[0];
    });
    expect(Math.abs(run.webgpu.testAcc - run.wasm.testAcc)).toBeLessThanOrEqual(1 / n + 1e-9);
    expect(scaledDiff(run.wasm.params, run.webgpu.params)).toBeLessThan(OUT_TOL);
  });

  it('optimisers: host and tensor Adam, with clipping, over many variables', async () => {
    // Ten variables: more gradients than one shader stage may bind storage buffers (8).
    const rng = new Rng(21);
    const shapes = [[5, 3], [3], [3, 4], [4], [4, 2], [2], [7], [2, 2], [6], [3, 3]];
    const inits = shapes.map((s) => rng.normalArray(s.reduce((a, b) => a * b, 1)));
    const targets = inits.map((v) => rng.normalArray(v.length, 0, 2));
    for (const host of [true, false]) {
      const run = await onBoth(async () => {
        const ps = new ParamSet('opt');
        shapes.forEach((s, i) => ps.addValues(`v${i}`, s, inits[i]));
        const vars = ps.variables();
        const opt = host ? new HostAdam(vars, { lr: 0.05 }) : new Adam(vars, { lr: 0.05 });
        try {
          const losses: number[] = [];
          for (let step = 0; step < 5; step++) {
            losses.push(
              await optimStep({
                optimizer: opt,
                vars,
                clip: 0.5,
                stage: 'opt',
                step,
                loss: () =>
                  vars
                    .map((v, i) => tf.sum(tf.square(tf.sub(v, tf.tensor(targets[i], v.shape)))))
                    .reduce((acc, x) => tf.add(acc, x)) as tf.Scalar,
              }),
            );
          }
          return { losses, weights: (await opt.weights()).flatMap((w) => Array.from(w)) };
        } finally {
          opt.dispose();
          ps.dispose();
        }
      });
      expect(maxRelDiff(run.wasm.losses, run.webgpu.losses), `host ${host}`).toBeLessThan(OPT_TOL);
      expect(maxAbsDiff(run.wasm.weights, run.webgpu.weights), `host ${host}`).toBeLessThan(
        OPT_TOL,
      );
    }
  });

  it('fine-tuning: one epoch gives the same test curve', async () => {
    const task: TaskData = {
      task: {
        id: 'ft',
        classes: [0, 1, 2],
        trainIndex: new Int32Array(0),
        testIndex: new Int32Array(0),
        split: 'seen',
      },
      xTrain: TRAIN.x,
      yTrain: TRAIN.y,
      xTest: TEST.x,
      yTest: TEST.y,
      sampleShape: [6],
      numClasses: 3,
    };
    const run = await onBoth(() =>
      finetuneCurve({
        layout: MLP,
        init: initParams(MLP, new Rng(8)),
        task,
        maxEpoch: 1,
        lr: 1e-2,
        batchSize: 16,
        rng: new Rng(9),
      }),
    );
    expect(run.webgpu.accuracy.length).toBe(2);
    for (const key of ['loss', 'trainLoss'] as const) {
      const a = run.wasm[key].slice(key === 'trainLoss' ? 1 : 0);
      const b = run.webgpu[key].slice(key === 'trainLoss' ? 1 : 0);
      expect(maxRelDiff(a, b)).toBeLessThan(LOSS_RTOL);
    }
    expect(maxAbsDiff(run.wasm.accuracy, run.webgpu.accuracy)).toBeLessThanOrEqual(
      1 / TEST.y.length + 1e-9,
    );
  });

  it('weight VAE (host and tensor Adam): same history and codes; memory steady', async () => {
    const at = [2, 4] as const;
    const zoo = new Rng(10).normalArray(12 * MLP.size);
    const small = await onBoth(async () => {
      const probe = memoryProbe(at);
      const { vae, history } = await trainVae({
        vectors: zoo,
        n: 12,
        dim: MLP.size,
        // No input noise: on webgpu it is drawn on the GPU (GPU_NOISE), not from the host Rng,
        // so the two backends would train on different noise (webgpu-graph.test.ts covers it).
        config: { hidden: [16], latentDim: 4, epochs: 4, batchSize: 4, inputNoise: 0 },
        rng: new Rng(11),
        control: { onProgress: probe.onProgress },
      });
      try {
        expectSteadyMemory(probe.seen, at);
        const mu = await vae.encodeMean(zoo, 12);
        return { loss: history.map((h) => h.loss), mu, rec: await vae.decode(mu, 12) };
      } finally {
        vae.dispose();
      }
    });
    expect(maxRelDiff(small.wasm.loss, small.webgpu.loss)).toBeLessThan(LOSS_RTOL);
    expect(scaledDiff(small.wasm.mu, small.webgpu.mu)).toBeLessThan(OUT_TOL);
    expect(scaledDiff(small.wasm.rec, small.webgpu.rec)).toBeLessThan(OUT_TOL);

    // Over 200k parameters the VAE uses tensor Adam (moments on the backend).
    const dim = 3200;
    const wide = new Rng(12).normalArray(4 * dim);
    const big = await onBoth(async () => {
      const { vae, history } = await trainVae({
        vectors: wide,
        n: 4,
        dim,
        config: { hidden: [32], latentDim: 4, epochs: 2, batchSize: 4, inputNoise: 0 },
        rng: new Rng(13),
      });
      try {
        expect(vae.size()).toBeGreaterThan(200_000);
        return { loss: history.map((h) => h.loss), mu: await vae.encodeMean(wide, 4) };
      } finally {
        vae.dispose();
      }
    });
    expect(maxRelDiff(big.wasm.loss, big.webgpu.loss)).toBeLessThan(LOSS_RTOL);
    expect(scaledDiff(big.wasm.mu, big.webgpu.mu)).toBeLessThan(OUT_TOL);
  });

  it('dataset encoder: same CLIP losses and embeddings; memory steady', async () => {
    const at = [2, 4] as const;
    const shape = { numClasses: 3, perClass: 2, featDim: 6, latentDim: 4 };
    const rng = new Rng(14);
    const sets = rng.normalArray(8 * 3 * 2 * 6);
    const latents = rng.normalArray(8 * 4);
    const run = await onBoth(async () => {
      const probe = memoryProbe(at);
      const { encoder, losses } = await trainEncoder({
        sets,
        latents,
        count: 8,
        shape,
        config: tinyEncoderConfig(8),
        rng: new Rng(15),
        control: { onProgress: probe.onProgress },
      });
      try {
        expectSteadyMemory(probe.seen, at);
        return { losses, emb: await encoder.embedBatch(sets, 8, 3, 2, 6) };
      } finally {
        encoder.dispose();
      }
    });
    expect(maxRelDiff(run.wasm.losses, run.webgpu.losses)).toBeLessThan(LOSS_RTOL);
    expect(scaledDiff(run.wasm.emb, run.webgpu.emb)).toBeLessThan(OUT_TOL);
  });

  const denoisers: [string, DenoiserConfigInput][] = [
    ['residual MLP', { width: 16, depth: 2, timeEmbDim: 8 }],
    ['1-D UNet', { kind: 'unet1d', width: 16, timeEmbDim: 8, channels: [4, 8] }],
  ];
  for (const [kind, denoiser] of denoisers) {
    it(`latent diffusion (${kind}): same training losses and DDIM samples; memory steady`, async () => {
      const at = [2, 4] as const;
      const rng = new Rng(16);
      const latents = rng.normalArray(8 * 4);
      const conds = rng.normalArray(8 * 5);
      const run = await onBoth(async () => {
        const probe = memoryProbe(at);
        const { model, history } = await trainDiffusion({
          latents,
          conds,
          n: 8,
          latentDim: 4,
          condDim: 5,
          config: {
            timesteps: 50,
            steps: 6,
            batchSize: 8,
            denoiser,
          },
          rng: new Rng(17),
          control: { onProgress: probe.onProgress },
        });
        try {
          expectSteadyMemory(probe.seen, at);
          const sample = await model.sample({
            cond: conds.subarray(0, 5),
            n: 4,
            rng: new Rng(18),
            sampler: { sampler: 'ddim', steps: 5, eta: 1, guidance: 2 },
          });
          return { loss: history.map((h) => h.loss), sample };
        } finally {
          model.dispose();
        }
      });
      expect(maxRelDiff(run.wasm.loss, run.webgpu.loss)).toBeLessThan(LOSS_RTOL);
      expect(scaledDiff(run.wasm.sample, run.webgpu.sample)).toBeLessThan(OUT_TOL);
    });
  }

  it('PCA features: same eigenvalues, axes and projections', async () => {
    // 40-d samples from 4 latent factors of decreasing scale, plus noise: subspace iteration
    // (19 search directions < 40) runs several rounds of 40×40 by 40×19 products.
    const rng = new Rng(19);
    const n = 200;
    const d = 40;
    const x = new Float32Array(n * d);
    for (let i = 0; i < n; i++) {
      const z = rng.normalArray(4);
      for (let j = 0; j < d; j++) x[i * d + j] = z[j % 4] * (4 - (j % 4)) + 0.3 * rng.normal();
    }
    const data: LabelledData = {
      x,
      sampleShape: [d],
      labels: new Int32Array(n),
      classNames: ['all'],
      source: 'synthetic',
    };
    const fitIndex = Int32Array.from({ length: 150 }, (_, i) => i);
    const run = await onBoth(async () => {
      const ex = await fitExtractor(
        { kind: 'pca', components: 3, whiten: true },
        data,
        fitIndex,
        new Rng(20),
      );
      const st = ex.state();
      if (st.kind !== 'pca') throw new Error('expected a pca state');
      return { st, features: (await applyExtractor(ex, data)).x };
    });
    expect(run.wasm.st.iterations).toBeGreaterThan(1);
    expect(maxRelDiff(run.wasm.st.eigenvalues, run.webgpu.st.eigenvalues)).toBeLessThan(LOSS_RTOL);
    // Signs are fixed by each axis' largest entry, so the axes compare directly.
    expect(maxAbsDiff(run.wasm.st.basis, run.webgpu.st.basis)).toBeLessThan(OUT_TOL);
    expect(scaledDiff(run.wasm.features, run.webgpu.features)).toBeLessThan(OUT_TOL);
  });
});
