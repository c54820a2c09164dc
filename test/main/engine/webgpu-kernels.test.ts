// Opt-in, as the other webgpu suites (npm run test:webgpu runs it on lavapipe): our webgpu kernels
// (kernels/webgpu.ts) against a float64 reference, and a model batch trained with them against
// the stock tensor ops.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/main/engine/backend.ts';
import {
  Adam,
  fusedAdamStep,
  hasFusedAdam,
  type FusedAdamHyper,
} from '../../../src/main/engine/common/optim.ts';
import {
  FUSED_EMA,
  installWebgpuKernels,
  uninstallWebgpuKernels,
} from '../../../src/main/engine/kernels/webgpu.ts';
import { trainBatch } from '../../../src/main/engine/nn/batch.ts';
import { evaluateEnsemble } from '../../../src/main/engine/nn/train.ts';
import { tinyBatchLayout, tinyBatchMembers } from '../../helpers/tiny-batch.ts';
import { Rng } from '../../../src/main/engine/rng.ts';

/** Adam/AdamW in float64, the formula of the wasm and webgpu kernels. */
function adamReference(
  w: Float64Array,
  m: Float64Array,
  v: Float64Array,
  g: ArrayLike<number>,
  hp: FusedAdamHyper,
): void {
  for (let i = 0; i < w.length; i++) {
    m[i] = hp.beta1 * m[i] + (1 - hp.beta1) * g[i];
    v[i] = hp.beta2 * v[i] + (1 - hp.beta2) * g[i] * g[i];
    w[i] =
      w[i] - (hp.lr * (m[i] / hp.c1)) / (Math.sqrt(v[i] / hp.c2) + hp.epsilon) - hp.decay * w[i];
  }
}

describe.skipIf(process.env.D2NWG_WEBGPU_TESTS !== '1')('webgpu kernels', () => {
  beforeAll(async () => {
    const info = await initBackend({ backend: 'webgpu', quiet: true });
    expect(info.name).toBe('webgpu');
  });
  afterAll(async () => {
    installWebgpuKernels();
    await initBackend({ backend: 'wasm', quiet: true });
  });

  it('fused Adam matches a float64 reference over steps, for any shape, with weight decay', async () => {
    installWebgpuKernels();
    expect(hasFusedAdam()).toBe(true);
    for (const shape of [[7], [33, 5], [2, 130, 3]]) {
      const n = shape.reduce((p, d) => p * d, 1);
      const rng = new Rng(n);
      const w0 = rng.normalArray(n);
      const w = tf.variable(tf.tensor(w0, shape));
      const m = tf.variable(tf.zeros(shape));
      const v = tf.variable(tf.zeros(shape));
      const rw = Float64Array.from(w0);
      const rm = new Float64Array(n);
      const rv = new Float64Array(n);
      for (let t = 1; t <= 4; t++) {
        const gv = rng.normalArray(n);
        const g = tf.tensor(gv, shape);
        const hp = {
          lr: 0.01,
          beta1: 0.9,
          beta2: 0.999,
          c1: 1 - 0.9 ** t,
          c2: 1 - 0.999 ** t,
          epsilon: 1e-8,
          decay: t % 2 === 0 ? 1e-3 : 0,
        };
        fusedAdamStep(w, m, v, g, hp);
        g.dispose();
        adamReference(rw, rm, rv, gv, hp);
      }
      expect(w.shape).toEqual(shape);
      const [gw, gm, gvv] = await Promise.all([w.data(), m.data(), v.data()]);
      for (let i = 0; i < n; i++) {
        expect(gw[i]).toBeCloseTo(rw[i], 5);
        expect(gm[i]).toBeCloseTo(rm[i], 5);
        expect(gvv[i]).toBeCloseTo(rv[i], 6);
      }
      tf.dispose([w, m, v]);
    }
  });

  it('fused EMA is e·d + w·(1 − d), any shape', async () => {
    installWebgpuKernels();
    const rng = new Rng(5);
    const ev = rng.normalArray(2 * 131);
    const wv = rng.normalArray(2 * 131);
    const out = tf
      .engine()
      .runKernel(
        FUSED_EMA,
        { e: tf.tensor(ev, [2, 131]), w: tf.tensor(wv, [2, 131]) },
        { decay: 0.75 },
      ) as tf.Tensor;
    expect(out.shape).toEqual([2, 131]);
    const got = await out.data();
    for (let i = 0; i < ev.length; i++) expect(got[i]).toBeCloseTo(ev[i] * 0.75 + wv[i] * 0.25, 6);
    out.dispose();
  });

  it('tensor Adam with an EMA gives the same weights and average with our kernels as without', async () => {
    const run = async (ours: boolean) => {
      if (ours) installWebgpuKernels();
      else uninstallWebgpuKernels();
      const rng = new Rng(11);
      const vars = [
        tf.variable(tf.tensor(rng.normalArray(12), [3, 4])),
        tf.variable(tf.tensor(rng.normalArray(5))),
      ];
      const opt = new Adam(vars, { lr: 0.05, emaDecay: 0.9, weightDecay: 0.01 });
      for (let s = 0; s < 5; s++) {
        const grads = vars.map((v) => tf.tensor(rng.normalArray(v.size), v.shape));
        await opt.apply(grads, { clip: 1 });
        tf.dispose(grads);
      }
      const out = { w: await opt.weights(), ema: await opt.emaWeights() };
      opt.dispose();
      tf.dispose(vars);
      return out;
    };
    const stock = await run(false);
    const ours = await run(true);
    for (const key of ['w', 'ema'] as const) {
      const a = stock[key] ?? [];
      const b = ours[key] ?? [];
      expect(b.length).toBe(2);
      for (let k = 0; k < a.length; k++) {
        for (let i = 0; i < a[k].length; i++) expect(b[k][i]).toBeCloseTo(a[k][i], 5);
      }
    }
  });

  it('a model batch trains as with the stock ops, in fewer kernels per step', async () => {
    const layout = tinyBatchLayout;
    const members = tinyBatchMembers;
    const run = async (ours: boolean) => {
      if (ours) installWebgpuKernels();
      else uninstallWebgpuKernels();
      const profile = await tf.profile(async () => {
        await trainBatch({ layout, members: members(), epochs: 2, batchSize: 8, lr: 1e-2 });
      });
      const kernels = profile.kernels.length;
      const r = await trainBatch({ layout, members: members(), epochs: 2, batchSize: 8, lr: 1e-2 });
      return { r, kernels };
    };
    const stock = await run(false);
    const ours = await run(true);
    expect(ours.kernels).toBeLessThan(stock.kernels);
    for (let m = 0; m < stock.r.params.length; m++) {
      const a = stock.r.params[m];
      const b = ours.r.params[m];
      expect(b.length).toBe(a.length);
      for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(a[i], 4);
    }
  });

  it('adds more tensors than one shader can bind (AddN in chunks), as the ensembles do', async () => {
    const rng = new Rng(5);
    for (const count of [2, 7, 8, 9, 15, 16, 29]) {
      const values = Array.from({ length: count }, () => rng.normalArray(37));
      const tensors = values.map((v) => tf.tensor2d(v, [1, 37]));
      const sum = tf.addN(tensors);
      const got = await sum.data();
      tf.dispose([...tensors, sum]);
      for (let j = 0; j < 37; j++) {
        const want = values.reduce((a, v) => a + v[j], 0);
        expect(got[j]).toBeCloseTo(want, 4);
      }
    }
    // The mean of 10 members' probabilities: the same accuracy as on wasm.
    const layout = tinyBatchLayout;
    const [member] = tinyBatchMembers();
    const list = Array.from({ length: 10 }, (_, m) => {
      const r = new Rng(40 + m);
      return Float32Array.from(member.init, (w) => w + 0.3 * r.normal());
    });
    const [x, y] = [member.xTrain, member.yTrain];
    const onGpu = await evaluateEnsemble(layout, list, x, y);
    await initBackend({ backend: 'wasm', quiet: true });
    try {
      const onWasm = await evaluateEnsemble(layout, list, x, y);
      expect(onGpu.accuracy).toBeCloseTo(onWasm.accuracy, 6);
      expect(onGpu.loss).toBeCloseTo(onWasm.loss, 3);
      expect(onGpu.accuracy).toBeGreaterThan(0);
    } finally {
      await initBackend({ backend: 'webgpu', quiet: true });
    }
  });
});
