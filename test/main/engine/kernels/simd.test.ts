import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import {
  FUSED_ADAM,
  SIMD_BMM,
  SIMD_LEAKY,
  SIMD_LEAKY_GRAD,
  SOFTMAX_CE,
  simdKernels,
  simdModuleBytes,
} from '../../../../src/main/engine/kernels/simd.ts';
import { batchLossAndCorrect } from '../../../../src/main/engine/nn/batch.ts';
import { Rng } from '../../../../src/main/engine/rng.ts';
import { expectNoLeakedTensors } from '../../../helpers/tf.ts';

/** WebAssembly as far as these tests use it (Node's global; the lib has no DOM types). */
interface WasmTestApi {
  readonly Memory: new (d: { initial: number; maximum: number; shared: boolean }) => {
    readonly buffer: ArrayBuffer;
  };
  readonly Module: new (bytes: Uint8Array) => object;
  readonly Instance: new (m: object, imports: Record<string, Record<string, unknown>>) => object;
}
const WA = (globalThis as unknown as { WebAssembly: WasmTestApi }).WebAssembly;

/** Plain float64 reference product of [b|1, r, k]·[b|1, k, c]. */
function reference(a: Float32Array, as: number[], b: Float32Array, bs: number[]): Float64Array {
  const [ba, r, k] = as;
  const [bb, , c] = bs;
  const batch = Math.max(ba, bb);
  const out = new Float64Array(batch * r * c);
  for (let t = 0; t < batch; t++) {
    const ao = ba === 1 ? 0 : t * r * k;
    const bo = bb === 1 ? 0 : t * k * c;
    for (let i = 0; i < r; i++) {
      for (let j = 0; j < c; j++) {
        let s = 0;
        for (let q = 0; q < k; q++) s += a[ao + i * k + q] * b[bo + q * c + j];
        out[t * r * c + i * c + j] = s;
      }
    }
  }
  return out;
}

describe('SIMD kernels (wasm)', () => {
  it('assemble into a valid WebAssembly module', () => {
    const bytes = simdModuleBytes();
    // Magic and version; the kernels below run from exactly these bytes.
    expect([...bytes.subarray(0, 8)]).toEqual([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
    expect(tf.getBackend()).toBe('wasm');
    expect(tf.getKernel(SIMD_BMM, 'wasm')).toBeDefined();
    expect(tf.getKernel(FUSED_ADAM, 'wasm')).toBeDefined();
  });

  it('run in a shared heap (the threaded build): product and Adam step in a SharedArrayBuffer', () => {
    const memory = new WA.Memory({ initial: 1, maximum: 65535, shared: true });
    expect(memory.buffer).toBeInstanceOf(SharedArrayBuffer);
    const k = simdKernels(memory);
    const rng = new Rng(5);
    const [r, inner, c] = [5, 7, 6];
    const a = rng.normalArray(r * inner);
    const b = rng.normalArray(inner * c);
    const heap = new Float32Array(memory.buffer);
    heap.set(a, 0);
    heap.set(b, 64);
    k.bmm(0, 64 * 4, 128 * 4, 1, r, inner, c, 0, 0);
    const want = reference(a, [1, r, inner], b, [1, inner, c]);
    const got = heap.subarray(128, 128 + r * c);
    for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i], 4);
    // Adam from w = 1, m = v = 0, g = 2 (t = 1): w' = 1 − lr·ĝ/(|ĝ| + ε) = 1 − lr.
    heap.fill(1, 256, 260);
    heap.fill(0, 260, 268);
    heap.fill(2, 268, 272);
    k.adam(
      256 * 4,
      260 * 4,
      264 * 4,
      268 * 4,
      272 * 4,
      276 * 4,
      280 * 4,
      4,
      0.1,
      0.9,
      0.999,
      0.1,
      0.001,
      1e-8,
      0,
    );
    for (const w of heap.subarray(272, 276)) expect(w).toBeCloseTo(0.9, 5);
    // The stock (unshared) module cannot import a shared heap.
    expect(() => new WA.Instance(new WA.Module(simdModuleBytes()), { env: { memory } })).toThrow();
  });

  it('batched matmul matches a float64 reference: batches, broadcasts, odd widths, empty', async () => {
    const rng = new Rng(3);
    const cases: [number[], number[]][] = [
      [
        [3, 5, 7],
        [3, 7, 6],
      ],
      [
        [4, 32, 48],
        [4, 48, 32],
      ],
      [
        [2, 9, 4],
        [2, 4, 5],
      ],
      [
        [1, 6, 3],
        [5, 3, 9],
      ],
      [
        [5, 6, 3],
        [1, 3, 1],
      ],
      [
        [2, 0, 3],
        [2, 3, 4],
      ],
    ];
    for (const [as, bs] of cases) {
      const a = rng.normalArray(as.reduce((p, d) => p * d, 1));
      const b = rng.normalArray(bs.reduce((p, d) => p * d, 1));
      const got = await expectNoLeakedTensors(async () => {
        const at = tf.tensor3d(a, as as [number, number, number]);
        const bt = tf.tensor3d(b, bs as [number, number, number]);
        const out = tf.engine().runKernel(SIMD_BMM, { a: at, b: bt }) as tf.Tensor;
        const v = await out.data();
        tf.dispose([out, at, bt]);
        return Float32Array.from(v);
      });
      const want = reference(a, as, b, bs);
      expect(got.length).toBe(want.length);
      for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i], 4);
    }
    // Shapes that do not multiply are refused.
    expect(() =>
      tf.tidy(() =>
        tf.engine().runKernel(SIMD_BMM, { a: tf.zeros([2, 3, 4]), b: tf.zeros([2, 5, 4]) }),
      ),
    ).toThrow(/do not multiply/);
  });

  it("the wasm BatchMatMul sends batched products to it and matches the stock kernel's math", () => {
    const rng = new Rng(4);
    const a = tf.tensor3d(rng.normalArray(6 * 8 * 12), [6, 8, 12]);
    const b = tf.tensor3d(rng.normalArray(6 * 12 * 5), [6, 12, 5]);
    const viaTf = tf.matMul(a, b, false, false);
    const ref = reference(
      a.dataSync() as Float32Array,
      [6, 8, 12],
      b.dataSync() as Float32Array,
      [6, 12, 5],
    );
    const got = viaTf.dataSync();
    for (let i = 0; i < ref.length; i++) expect(got[i]).toBeCloseTo(ref[i], 4);
    // Transposed operands go through the explicit transpose first.
    const t = tf.matMul(a, tf.transpose(b, [0, 2, 1]), false, true).dataSync();
    for (let i = 0; i < ref.length; i++) expect(t[i]).toBeCloseTo(ref[i], 4);
    tf.dispose([a, b, viaTf]);
  });

  it("leaky ReLU and its gradient equal tfjs's, NaN and zeros included", () => {
    const rng = new Rng(6);
    const vals = rng.normalArray(23);
    vals[3] = 0;
    vals[7] = NaN;
    const x = tf.tensor1d(vals);
    const dyVals = rng.normalArray(23);
    const dy = tf.tensor1d(dyVals);
    const ours = tf.engine().runKernel(SIMD_LEAKY, { x }, { alpha: 0.01 }) as tf.Tensor;
    const ref = tf.leakyRelu(x, 0.01);
    const a = ours.dataSync();
    const b = ref.dataSync();
    for (let i = 0; i < vals.length; i++) {
      if (Number.isNaN(b[i])) expect(Number.isNaN(a[i])).toBe(true);
      else expect(a[i]).toBeCloseTo(b[i], 6);
    }
    const g = tf.engine().runKernel(SIMD_LEAKY_GRAD, { x, dy }, { alpha: 0.01 }) as tf.Tensor;
    const refG = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.leakyRelu(t, 0.01), dy)))(x);
    const ga = g.dataSync();
    const gb = refG.dataSync();
    for (let i = 0; i < vals.length; i++) {
      if (Number.isNaN(vals[i])) continue;
      expect(ga[i]).toBeCloseTo(gb[i], 6);
    }
    tf.dispose([x, dy, ours, ref, g, refG]);
  });

  it('unstack along axis 0 copies each row block exactly (float32, int32), leaving others alone', () => {
    const rng = new Rng(8);
    const vals = rng.normalArray(4 * 3 * 5);
    const x = tf.tensor3d(vals, [4, 3, 5]);
    const parts = tf.unstack(x);
    expect(parts.map((p) => p.shape)).toEqual(Array.from({ length: 4 }, () => [3, 5]));
    parts.forEach((p, i) =>
      expect(Array.from(p.dataSync())).toEqual(Array.from(vals.subarray(i * 15, (i + 1) * 15))),
    );
    const ints = tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2], 'int32');
    expect(tf.unstack(ints).map((t) => Array.from(t.dataSync()))).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    // Another axis goes to the stock kernel.
    const cols = tf.unstack(ints, 1).map((t) => Array.from(t.dataSync()));
    expect(cols).toEqual([
      [1, 3, 5],
      [2, 4, 6],
    ]);
    // Its gradient (a stack) still flows.
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.unstack(t)[1], 2)))(x);
    expect(Array.from(g.dataSync().subarray(15, 30))).toEqual(new Array(15).fill(2));
    tf.dispose([x, ...parts, ints, g]);
  });

  it('fused Adam/AdamW equals the textbook update', () => {
    const rng = new Rng(5);
    const n = 37; // not a multiple of 4: vector part and scalar tail
    const w = rng.normalArray(n);
    const m = rng.normalArray(n, 0, 0.1);
    const v = rng.normalArray(n).map((x) => x * x * 0.01);
    const g = rng.normalArray(n);
    const hp = {
      lr: 0.01,
      beta1: 0.9,
      beta2: 0.999,
      c1: 0.19,
      c2: 0.002,
      epsilon: 1e-8,
      decay: 0.001,
    };
    const outs = tf
      .engine()
      .runKernel(
        FUSED_ADAM,
        { w: tf.tensor1d(w), m: tf.tensor1d(m), v: tf.tensor1d(v), g: tf.tensor1d(g) },
        hp,
      ) as tf.Tensor[];
    const [nw, nm, nv] = outs.map((t) => t.dataSync());
    for (let i = 0; i < n; i++) {
      const mi = hp.beta1 * m[i] + (1 - hp.beta1) * g[i];
      const vi = hp.beta2 * v[i] + (1 - hp.beta2) * g[i] * g[i];
      const wi =
        w[i] - (hp.lr * (mi / hp.c1)) / (Math.sqrt(vi / hp.c2) + hp.epsilon) - hp.decay * w[i];
      expect(nm[i]).toBeCloseTo(mi, 6);
      expect(nv[i]).toBeCloseTo(vi, 6);
      expect(nw[i]).toBeCloseTo(wi, 5);
    }
    tf.dispose(outs);
  });

  it('fused softmax cross-entropy equals the tfjs ops: loss, argmax hits with ties, gradient', async () => {
    await expectNoLeakedTensors(() => {
      const [M, B, K] = [3, 7, 5];
      const rng = new Rng(9);
      const z = rng.normalArray(M * B * K).map((v) => 4 * v);
      // Row 0: a tie for the maximum between classes 1 and 3 (argmax takes the first).
      z.set([0, 2, -1, 2, 0.5], 0);
      const y = new Int32Array(M * B).map(() => rng.int(K));
      y[0] = 1;
      const logits = tf.tensor3d(z, [M, B, K]);
      const labels = tf.tensor2d(y, [M, B], 'int32');
      const [loss, correct, grad] = tf
        .engine()
        .runKernel(SOFTMAX_CE, { logits, labels }, { withGrad: true }) as tf.Tensor[];
      // Reference in float64.
      const refLoss = new Float64Array(M);
      const refHits = new Float64Array(M);
      const refGrad = new Float64Array(M * B * K);
      for (let r = 0; r < M * B; r++) {
        const row = Array.from(z.subarray(r * K, (r + 1) * K));
        const max = Math.max(...row);
        const s = row.reduce((a, v) => a + Math.exp(v - max), 0);
        const m = Math.floor(r / B);
        refLoss[m] += (Math.log(s) - (row[y[r]] - max)) / B;
        if (row.indexOf(max) === y[r]) refHits[m]++;
        row.forEach((v, k) => {
          refGrad[r * K + k] = (Math.exp(v - max) / s - (k === y[r] ? 1 : 0)) / B;
        });
      }
      const l = loss.dataSync();
      for (let m = 0; m < M; m++) expect(l[m]).toBeCloseTo(refLoss[m], 5);
      expect(Array.from(correct.dataSync())).toEqual(Array.from(refHits));
      const g = grad.dataSync();
      for (let i = 0; i < g.length; i++) expect(g[i]).toBeCloseTo(refGrad[i], 6);
      // Through batchLossAndCorrect, taped: the same loss, and tf.grad gives the kernel's gradient
      // scaled by each model's dy.
      const dyScale = tf.tensor1d([1, -2, 0.5]);
      const viaGrad = tf.grad((t: tf.Tensor) =>
        tf.sum(tf.mul(batchLossAndCorrect(t as tf.Tensor3D, labels).loss, dyScale)),
      )(logits);
      const vg = viaGrad.dataSync();
      const scale = [1, -2, 0.5];
      for (let i = 0; i < vg.length; i++) {
        expect(vg[i]).toBeCloseTo(refGrad[i] * scale[Math.floor(i / (B * K))], 6);
      }
      tf.dispose([logits, labels, loss, correct, grad, dyScale, viaGrad]);
    });
  });

  it('fused softmax cross-entropy refuses a label outside 0..K-1 before allocating', () => {
    const logits = tf.zeros([1, 2, 3]);
    const labels = tf.tensor2d([0, 3], [1, 2], 'int32');
    const before = tf.engine().backend.numDataIds();
    expect(() => tf.engine().runKernel(SOFTMAX_CE, { logits, labels }, {})).toThrow(
      /label 3 outside 0\.\.2/,
    );
    expect(tf.engine().backend.numDataIds()).toBe(before);
    tf.dispose([logits, labels]);
  });
});
