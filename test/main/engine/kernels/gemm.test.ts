import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';
import { affine, matMul } from '../../../../src/main/engine/common/matmul.ts';
import {
  DENSE,
  GEMM_KC,
  GEMM_PACK_MIN_ROWS,
  gemmPacks,
  runGemm,
  simdKernels,
  wasmBackendOf,
} from '../../../../src/main/engine/kernels/simd.ts';
import {
  GEMM_MAX_B_BYTES,
  GEMM_NT_MAX_B_BYTES,
  GEMM_PACKED_TA_MAX_ROWS,
  gemmHandles,
} from '../../../../src/main/engine/kernels/wasm.ts';
import { Rng } from '../../../../src/main/engine/rng.ts';
import { expectNoLeakedTensors } from '../../../helpers/tf.ts';
import { maxAbsDiff, onBackend, scaledDiff, valuesOf } from './helpers.ts';

/** WebAssembly as far as these tests use it (Node's global; the lib has no DOM types). */
const WA = (
  globalThis as unknown as {
    WebAssembly: { Memory: new (d: { initial: number }) => { readonly buffer: ArrayBuffer } };
  }
).WebAssembly;

/** float64 op(A)·op(B) with A stored [M, K] (ta: [K, M]) and B stored [K, N] (tb: [N, K]). */
function reference(
  a: Float32Array,
  b: Float32Array,
  [m, k, n]: [number, number, number],
  ta: boolean,
  tb: boolean,
): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let q = 0; q < k; q++) {
        s += (ta ? a[q * m + i] : a[i * k + q]) * (tb ? b[j * k + q] : b[q * n + j]);
      }
      out[i * n + j] = s;
    }
  }
  return out;
}

/** Shapes [M, K, N] around every tile edge (4×8 and 2×4 blocks, 4-wide k), the standard layer, empties. */
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [3, 5, 7],
  [4, 8, 8],
  [5, 9, 13],
  [9, 17, 21],
  [7, 3, 2],
  [2, 6, 1],
  [1, 256, 5],
  [13, 33, 31],
  [64, 256, 256],
  [0, 4, 4],
  [4, 0, 6],
  [4, 4, 0],
];
const FORMS = [
  [false, false],
  [true, false],
  [false, true],
] as const;

const envBefore = process.env.D2NWG_WASM_GEMM;
afterEach(() => {
  if (envBefore === undefined) delete process.env.D2NWG_WASM_GEMM;
  else process.env.D2NWG_WASM_GEMM = envBefore;
});

describe('gemm kernels (wasm SIMD, register-blocked)', () => {
  it('match a float64 reference in every form and size, with and without bias, and write nothing past C', () => {
    const memory = new WA.Memory({ initial: 64 });
    const k = simdKernels(memory);
    const rng = new Rng(21);
    for (const [m, kk, n] of SHAPES) {
      for (const [ta, tb] of FORMS) {
        for (const withBias of tb ? [false] : [false, true]) {
          const a = rng.normalArray(m * kk);
          const b = rng.normalArray(kk * n);
          const bias = rng.normalArray(n);
          const heap = new Float32Array(memory.buffer);
          const [A, B, C, BIAS] = [0, 1 << 20, 2 << 20, 3 << 20];
          heap.set(a, A / 4);
          heap.set(b, B / 4);
          heap.set(bias, BIAS / 4);
          // NaN everywhere C may be written, and past its end: a missed or stray store shows.
          heap.fill(Number.NaN, C / 4, C / 4 + m * n + 64);
          if (tb) k.gemmNT(A, B, C, m, kk, n);
          else k.gemm(A, B, C, m, kk, n, ta ? 4 : 4 * kk, ta ? 4 * m : 4, withBias ? BIAS : 0, n);
          const want = reference(a, b, [m, kk, n], ta, tb);
          if (withBias) for (let i = 0; i < m * n; i++) want[i] += bias[i % n] ?? 0;
          const got = heap.subarray(C / 4, C / 4 + m * n);
          const err = maxAbsDiff(Float32Array.from(got), Float32Array.from(want));
          const what = `[${m}, ${kk}, ${n}] ta=${ta} tb=${tb} bias=${withBias}`;
          expect(err, what).toBeLessThan(1e-4 * Math.sqrt(kk + 1));
          expect(heap.subarray(C / 4 + m * n, C / 4 + m * n + 64).every(Number.isNaN)).toBe(true);
        }
      }
    }
  });

  it('pack8 + gemmPacked (strips of 8 columns, a later k block added on) match the reference and leave other columns alone', () => {
    const memory = new WA.Memory({ initial: 80 });
    const k = simdKernels(memory);
    const rng = new Rng(22);
    // [M, K, N]: rows not a multiple of 4, N not a multiple of 8 (the packed part is N & ~7).
    for (const [m, kk, n] of [
      [1, 1, 8],
      [5, 9, 13],
      [7, 33, 17],
      [13, 70, 40],
      [4, 8, 8],
    ] as [number, number, number][]) {
      for (const ta of [false, true]) {
        for (const withBias of [false, true]) {
          const n8 = n & ~7;
          const a = rng.normalArray(m * kk);
          const b = rng.normalArray(kk * n);
          const bias = rng.normalArray(n);
          const heap = new Float32Array(memory.buffer);
          const [A, B, C, BIAS, BP] = [0, 1 << 20, 2 << 20, 3 << 20, 4 << 20];
          heap.set(a, A / 4);
          heap.set(b, B / 4);
          heap.set(bias, BIAS / 4);
          heap.fill(Number.NaN, C / 4, C / 4 + m * n + 64);
          const [sAi, sAk] = ta ? [4, 4 * m] : [4 * kk, 4];
          // Two k blocks: rows [0, k1) of B, then [k1, K) added onto C.
          const k1 = kk >> 1;
          for (const [k0, len] of [
            [0, k1],
            [k1, kk - k1],
          ] as const) {
            if (len === 0) continue;
            k.pack8(B + 4 * k0 * n, BP, len, n8, n);
            k.gemmPacked(A + k0 * sAk, BP, C, m, len, n8, sAi, sAk, withBias ? BIAS : 0, n, k0);
          }
          const want = reference(a, b, [m, kk, n], ta, false);
          if (withBias) for (let i = 0; i < m * n; i++) want[i] += bias[i % n] ?? 0;
          const what = `[${m}, ${kk}, ${n}] ta=${ta} bias=${withBias}`;
          for (let i = 0; i < m; i++) {
            for (let j = 0; j < n; j++) {
              const got = heap[C / 4 + i * n + j] ?? 0;
              if (j >= n8) expect(got, `${what} (${i}, ${j}) untouched`).toBeNaN();
              else
                expect(Math.abs(got - (want[i * n + j] ?? 0)), `${what} (${i}, ${j})`).toBeLessThan(
                  1e-4 * Math.sqrt(kk + 1),
                );
            }
          }
          expect(heap.subarray(C / 4 + m * n, C / 4 + m * n + 64).every(Number.isNaN)).toBe(true);
        }
      }
    }
  });

  it('runGemm with B packed in k blocks equals the float64 reference and, bit for bit, the unpacked kernel', () => {
    const backend = wasmBackendOf(tf.backend());
    const rng = new Rng(23);
    // Odd sizes; k and n not multiples of the blocks (kc 5 and 16, nc 8 and 16 here, GEMM_KC and
    // GEMM_NC by default); fewer than 8 columns (nothing to pack), the VAE's 1733-wide products.
    for (const [m, kk, n, kc, nc] of [
      [5, 9, 13, 5, undefined],
      [13, 37, 29, 16, 8],
      [9, 40, 8, 16, undefined],
      [6, 11, 7, 4, undefined],
      [3, 300, 21, undefined, undefined],
      [7, 19, 45, 6, 16],
      [64, 1733, 256, undefined, undefined],
      [64, 256, 1733, undefined, undefined],
      [64, 64, 1733, 48, 104],
    ] as [number, number, number, number | undefined, number | undefined][]) {
      for (const ta of [false, true]) {
        for (const withBias of [false, true]) {
          const a = rng.normalArray(m * kk);
          const b = rng.normalArray(kk * n);
          const bias = rng.normalArray(n);
          const at = tf.tensor2d(a, ta ? [kk, m] : [m, kk]);
          const bt = tf.tensor2d(b, [kk, n]);
          const biasT = tf.tensor1d(bias);
          const product = (pack: boolean): Float32Array => {
            const out = backend.makeOutput([m, n], 'float32');
            runGemm(backend, {
              a: at,
              b: bt,
              out,
              rows: m,
              inner: kk,
              cols: n,
              transposeA: ta,
              transposeB: false,
              pack,
              kc,
              nc,
              ...(withBias ? { bias: biasT } : {}),
            });
            const t = tf.engine().makeTensorFromTensorInfo(out as tf.TensorInfo);
            const values = t.dataSync() as Float32Array;
            t.dispose();
            return values;
          };
          const packed = product(true);
          const plain = product(false);
          tf.dispose([at, bt, biasT]);
          const want = reference(a, b, [m, kk, n], ta, false);
          if (withBias) for (let i = 0; i < m * n; i++) want[i] += bias[i % n] ?? 0;
          const what = `[${m}, ${kk}, ${n}] kc=${kc ?? GEMM_KC} nc=${nc} ta=${ta} bias=${withBias}`;
          expect(maxAbsDiff(packed, Float32Array.from(want)), what).toBeLessThan(
            1e-4 * Math.sqrt(kk + 1),
          );
          expect(packed, what).toEqual(plain);
        }
      }
    }
  });

  it('runGemm refuses k and n blocks that do not fit and packing with B transposed', () => {
    const backend = wasmBackendOf(tf.backend());
    const a = tf.zeros([4, 8]);
    const b = tf.zeros([8, 8]);
    const out = backend.makeOutput([4, 8], 'float32');
    const base = { a, b, out, rows: 4, inner: 8, cols: 8, transposeA: false };
    expect(() => runGemm(backend, { ...base, transposeB: false, pack: true, kc: 0 })).toThrow(
      /bad k block 0/,
    );
    expect(() => runGemm(backend, { ...base, transposeB: false, pack: true, nc: 12 })).toThrow(
      /bad n block 12 \(a multiple of 8 wanted\)/,
    );
    expect(() => runGemm(backend, { ...base, transposeB: true, pack: true })).toThrow(
      /packing with B transposed/,
    );
    backend.disposeData(out.dataId);
    tf.dispose([a, b]);
  });

  it('runGemm with an empty k gives the bias (or zeros), packed or not', () => {
    const backend = wasmBackendOf(tf.backend());
    const a = tf.zeros([9, 0]);
    const b = tf.zeros([0, 11]);
    const bias = tf.range(0, 11);
    for (const pack of [true, false, undefined]) {
      for (const withBias of [true, false]) {
        const out = backend.makeOutput([9, 11], 'float32');
        runGemm(backend, {
          ...{ a, b, out, rows: 9, inner: 0, cols: 11, transposeA: false, transposeB: false },
          ...(pack === undefined ? {} : { pack }),
          ...(withBias ? { bias } : {}),
        });
        const t = tf.engine().makeTensorFromTensorInfo(out as tf.TensorInfo);
        const want = Array.from({ length: 99 }, (_, i) => (withBias ? i % 11 : 0));
        expect(Array.from(t.dataSync()), `pack ${pack} bias ${withBias}`).toEqual(want);
        t.dispose();
      }
    }
    tf.dispose([a, b, bias]);
  });

  it('colsum gives column sums of any shape, including no rows', () => {
    const memory = new WA.Memory({ initial: 4 });
    const k = simdKernels(memory);
    const rng = new Rng(6);
    for (const [r, c] of [
      [64, 256],
      [5, 7],
      [1, 3],
      [3, 1],
      [0, 6],
    ] as [number, number][]) {
      const x = rng.normalArray(r * c);
      const heap = new Float32Array(memory.buffer);
      heap.set(x, 0);
      heap.fill(Number.NaN, 32768, 32768 + c + 16);
      k.colsum(0, 32768 * 4, r, c);
      const want = new Float64Array(c);
      for (let i = 0; i < r * c; i++) want[i % c] += x[i] ?? 0;
      expect(maxAbsDiff(heap.slice(32768, 32768 + c), Float32Array.from(want))).toBeLessThan(1e-4);
      expect(heap.subarray(32768 + c, 32768 + c + 16).every(Number.isNaN)).toBe(true);
    }
  });

  for (const gemm of [true, false]) {
    it(`tf.matMul gives op(A)·op(B) for every transpose combination (gemm ${gemm ? 'on' : 'off'})`, async () => {
      if (!gemm) process.env.D2NWG_WASM_GEMM = '0';
      const rng = new Rng(4);
      // [21, 300, 701]: a B past L2, packed in k blocks (two, the second short) with a column tail.
      for (const [m, kk, n] of [
        [5, 9, 13],
        [64, 256, 256],
        [1, 7, 3],
        [21, 300, 701],
      ] as [number, number, number][]) {
        for (const [ta, tb] of [...FORMS, [true, true] as const]) {
          const a = rng.normalArray(m * kk);
          const b = rng.normalArray(kk * n);
          const want = reference(a, b, [m, kk, n], ta, tb);
          // Plain 2-D and rank 3 with a batch of one: both single products.
          for (const outer of [[], [1]]) {
            const got = await expectNoLeakedTensors(() =>
              tf.tidy(() => {
                const at = tf.tensor(a, [...outer, ...(ta ? [kk, m] : [m, kk])]);
                const bt = tf.tensor(b, [...outer, ...(tb ? [n, kk] : [kk, n])]);
                const c = tf.matMul(at, bt, ta, tb);
                expect(c.shape).toEqual([...outer, m, n]);
                return c.dataSync() as Float32Array;
              }),
            );
            expect(
              maxAbsDiff(got, Float32Array.from(want)),
              `${m}×${kk}×${n} ${ta} ${tb}`,
            ).toBeLessThan(1e-3);
          }
        }
      }
    });
  }

  it('reads transposed operands in place: one kernel per transposed product', async () => {
    // dy·Wᵀ and xᵀ·dy of a standard layer: x, dy [64, 256], W [256, 256].
    const x = tf.randomNormal([64, 256], 0, 1, 'float32', 1);
    const w = tf.randomNormal([256, 256], 0, 1, 'float32', 2);
    const kernelsOf = async (a: tf.Tensor, b: tf.Tensor, ta: boolean, tb: boolean) =>
      (await tf.profile(() => tf.tidy(() => tf.matMul(a, b, ta, tb).dataSync()))).kernels.map(
        (k) => k.name,
      );
    expect(await kernelsOf(x, w, false, true)).toEqual(['BatchMatMul']);
    expect(await kernelsOf(x, x, true, false)).toEqual(['BatchMatMul']);
    tf.dispose([x, w]);
  });

  it('routes by form and size: the standard layers in, a B past the cache limits and both-transposed out', () => {
    const t = (shape: number[]) => ({ shape, dtype: 'float32' });
    expect(gemmHandles(t([64, 256]), t([256, 256]), false, false)).toBe(true);
    // Every form of the standard diffusion layer; dW = xᵀ·dy of the VAE's 1733-wide input layer.
    expect(gemmHandles(t([64, 256]), t([64, 256]), true, false)).toBe(true);
    expect(gemmHandles(t([64, 256]), t([256, 256]), false, true)).toBe(true);
    expect(gemmHandles(t([64, 1733]), t([64, 256]), true, false)).toBe(true);
    // A B past L2: packed in k blocks (A·B, Aᵀ·B), the dot-product form (A·Bᵀ) as it is.
    expect(gemmPacks(64, 1733, 256)).toBe(true);
    expect(gemmHandles(t([64, 1733]), t([1733, 256]), false, false)).toBe(true);
    expect(gemmHandles(t([64, 1733]), t([256, 1733]), false, true)).toBe(true);
    expect(gemmHandles(t([64, 256]), t([256, 1733]), false, false)).toBe(true);
    expect(gemmHandles(t([256, 64]), t([256, 1733]), true, false)).toBe(true);
    const side = Math.ceil(Math.sqrt(GEMM_MAX_B_BYTES / 4)) + 1;
    expect(gemmPacks(64, side, side)).toBe(true);
    expect(gemmPacks(64, side - 2, side - 2)).toBe(false);
    expect(gemmHandles(t([64, side]), t([side, side]), false, false)).toBe(true);
    // … except Aᵀ·B with many rows, and too few rows to pay for packing with a long k.
    expect(gemmHandles(t([side, GEMM_PACKED_TA_MAX_ROWS]), t([side, side]), true, false)).toBe(
      false,
    );
    expect(gemmPacks(GEMM_PACK_MIN_ROWS - 1, 1733, 256)).toBe(false);
    expect(gemmHandles(t([GEMM_PACK_MIN_ROWS - 1, 1733]), t([1733, 256]), false, false)).toBe(
      false,
    );
    const ntSide = Math.ceil(Math.sqrt(GEMM_NT_MAX_B_BYTES / 4)) + 1;
    expect(gemmHandles(t([64, side]), t([side, side]), false, true)).toBe(true);
    expect(gemmHandles(t([64, ntSide]), t([ntSide, ntSide]), false, true)).toBe(false);
    expect(gemmHandles(t([8, 8]), t([8, 8]), true, true)).toBe(false);
    expect(gemmHandles(t([3, 8, 8]), t([3, 8, 8]), false, false)).toBe(false);
    expect(gemmHandles({ shape: [8, 8], dtype: 'int32' }, t([8, 8]), false, false)).toBe(false);
    process.env.D2NWG_WASM_GEMM = '0';
    expect(gemmHandles(t([64, 256]), t([256, 256]), false, false)).toBe(false);
  });

  it('dense-layer gradients through common/matmul equal the cpu backend, with no Transpose', async () => {
    const r = new Rng(8);
    const [n, din, dout] = [13, 37, 22];
    const xs = r.uniformArray(n * din, -1, 1);
    const ws = r.uniformArray(din * dout, -0.5, 0.5);
    const run = (): tf.Tensor[] =>
      tf.tidy(() => {
        const x = tf.tensor2d(xs, [n, din]);
        const w = tf.tensor2d(ws, [din, dout]);
        const loss = (xi: tf.Tensor, wi: tf.Tensor) =>
          tf.sum(tf.square(matMul(xi as tf.Tensor2D, wi as tf.Tensor2D)));
        const { value, grads } = tf.valueAndGrads(loss)([x, w]);
        return [value, ...grads];
      });
    const kernels = async () =>
      (
        await tf.profile(() => {
          tf.dispose(run());
        })
      ).kernels.map((k) => k.name);
    expect(await kernels()).not.toContain('Transpose');
    // The switch puts back the transposing formulation: (W·dyᵀ)ᵀ and xᵀ·dy.
    process.env.D2NWG_WASM_GEMM = '0';
    expect((await kernels()).filter((k) => k === 'Transpose')).toHaveLength(3);
    delete process.env.D2NWG_WASM_GEMM;
    const got = await expectNoLeakedTensors(() => valuesOf(run));
    const want = await onBackend('cpu', run);
    expect(got).toHaveLength(3);
    for (let i = 0; i < 3; i++) {
      const scale = Math.max(1, ...Array.from(want[i] ?? [], Math.abs));
      const [g, w] = [got[i], want[i]];
      if (!g || !w) throw new Error(`output ${i} missing`);
      expect(maxAbsDiff(g, w) / scale, `output ${i}`).toBeLessThan(1e-5);
    }
  });

  for (const inputGrad of [true, false]) {
    it(`affine (fused dense, inputGrad ${inputGrad}): values and gradients equal the cpu backend, no Transpose, Sum or Add`, async () => {
      const r = new Rng(9);
      const [n, din, dout] = [11, 29, 18];
      const xs = r.uniformArray(n * din, -1, 1);
      const ws = r.uniformArray(din * dout, -0.5, 0.5);
      const bs = r.uniformArray(dout, -0.5, 0.5);
      const run = (): tf.Tensor[] =>
        tf.tidy(() => {
          const x = tf.tensor2d(xs, [n, din]);
          const w = tf.tensor2d(ws, [din, dout]);
          const b = tf.tensor1d(bs);
          const f = (xi: tf.Tensor, wi: tf.Tensor, bi: tf.Tensor) =>
            tf.sum(tf.square(affine(xi as tf.Tensor2D, wi as tf.Tensor2D, bi, inputGrad)));
          const { value, grads } = tf.valueAndGrads(f)([x, w, b]);
          return [value, affine(x, w, b), ...grads];
        });
      const kernels = async () =>
        (
          await tf.profile(() => {
            tf.dispose(run());
          })
        ).kernels.map((k) => k.name);
      const count = (names: string[], name: string) => names.filter((k) => k === name).length;
      const fused = await kernels();
      process.env.D2NWG_WASM_GEMM = '0';
      const plain = await kernels();
      // Two layer calls (the loss's and the plain output): one kernel each forward, where the
      // unfused layer runs a product and a broadcast Add; no Transpose, and the bias gradient is
      // a column sum, not a Sum (the one Sum left is the loss's tf.sum).
      expect(count(fused, DENSE)).toBe(2);
      expect(count(plain, DENSE)).toBe(0);
      expect(count(fused, 'Add')).toBe(count(plain, 'Add') - 2);
      expect(count(fused, 'Transpose')).toBe(0);
      expect(count(fused, 'Sum')).toBe(1);
      expect(count(plain, 'Sum')).toBe(2);
      delete process.env.D2NWG_WASM_GEMM;
      const got = await expectNoLeakedTensors(() => valuesOf(run));
      const want = await onBackend('cpu', run);
      expect(got).toHaveLength(5);
      for (let i = 0; i < 5; i++) {
        const [g, w] = [got[i], want[i]];
        if (!g || !w) throw new Error(`output ${i} missing`);
        // The first layer's input gradient is reported as zeros (as matMul does).
        if (i === 2 && !inputGrad) {
          expect(g.every((v) => v === 0)).toBe(true);
          continue;
        }
        expect(scaledDiff(g, w), `output ${i}`).toBeLessThan(1e-5);
      }
    });
  }

  it('the dense kernel refuses operands that do not fit, naming the shapes', () => {
    const x = tf.zeros([4, 3]);
    const w = tf.zeros([5, 2]);
    const b = tf.zeros([2]);
    expect(() => tf.engine().runKernel(DENSE, { x, w, b })).toThrow(/\[4, 3\], \[5, 2\], \[2\]/);
    tf.dispose([x, w, b]);
  });
});
