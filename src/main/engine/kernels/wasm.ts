/**
 * Kernels that make the wasm backend fast and complete enough to train our models:
 * - BatchMatMul: single 2-D products run in our register-blocked SIMD gemm (simd.ts), which reads
 *   a transposed operand in place and packs a B past L2 in cache blocks (gemmHandles says which);
 *   batched ones in our model-batch kernel.
 * - BatchMatMul (the rest) / _FusedMatMul with transposeA/transposeB: the stock wasm kernels run
 *   transposed products at 0.4–1.6 GFLOP/s against 8–20 for plain ones, and every dense-layer
 *   gradient is a transposed product. We transpose the operand explicitly, then run the plain
 *   kernel.
 * - D2nwgDense / D2nwgColSum: a dense layer's x·W + b in one pass and its bias gradient
 *   (common/matmul.ts's affine); D2nwgLayerNorm / D2nwgLayerNormGrad (common/layers.ts).
 * - Conv2DBackpropFilter: missing on wasm, so no convolution could be trained. We compute it as a
 *   forward Conv2D (XNNPACK) of the transposed input with the transposed output gradient as the
 *   filter, dilated by the stride.
 *
 * Kernels call other registered kernels directly (not tf ops) because they run inside the engine's
 * kernel dispatch; intermediates are released with backend.disposeData.
 */
import * as tf from '@tensorflow/tfjs';
import {
  COLSUM,
  DENSE,
  FUSED_ADAM,
  GEMM_PACK_MIN_B_BYTES,
  LAYER_NORM,
  LAYER_NORM_GRAD,
  colSumWasm,
  layerNormGradWasm,
  layerNormWasm,
  denseWasm,
  SIMD_BMM,
  SIMD_LEAKY,
  SIMD_LEAKY_GRAD,
  SOFTMAX_CE,
  simdLeakyGradWasm,
  softmaxCrossEntropyWasm,
  simdLeakyWasm,
  fusedAdamWasm,
  gemmPacks,
  heapAddress,
  heapMemory,
  runBatchMatMul,
  runGemm,
  simdBatchMatMulWasm,
  wasmBackendOf,
} from './simd.ts';

type KernelArgs = Parameters<tf.KernelFunc>[0];

/** The wasm backend's registered BatchMatMul and _FusedMatMul, kept so our wrappers can call them. */
const originals = new Map<string, tf.KernelConfig>();
/**
 * Marks the kernel functions we registered, to stay idempotent. A global symbol rather than a
 * module-level set, so that a second copy of this module (bundles, test module resets) in the same
 * thread recognises them too.
 */
const MARK = Symbol.for('d2nwg.wasmKernel');

function mark(fn: tf.KernelFunc): tf.KernelFunc {
  Object.defineProperty(fn, MARK, { value: true });
  return fn;
}

function isOurs(fn: tf.KernelFunc): boolean {
  return MARK in fn;
}

function kernelFunc(name: string): tf.KernelFunc {
  const config = tf.getKernel(name, 'wasm');
  if (!config) throw new Error(`wasm kernel '${name}' is not registered`);
  return config.kernelFunc;
}

function single(out: tf.TensorInfo | tf.TensorInfo[]): tf.TensorInfo {
  if (Array.isArray(out)) {
    const first = out[0];
    if (out.length !== 1 || first === undefined) throw new Error('expected one output tensor');
    return first;
  }
  return out;
}

function disposeInfo(backend: KernelArgs['backend'], info: tf.TensorInfo): void {
  if (backend instanceof tf.KernelBackend) backend.disposeData(info.dataId);
  else throw new Error('kernel called without a KernelBackend');
}

function transposeInfo(
  backend: KernelArgs['backend'],
  x: tf.TensorInfo,
  perm: number[],
): tf.TensorInfo {
  return single(kernelFunc('Transpose')({ inputs: { x }, backend, attrs: { perm } }));
}

function swapLastTwo(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return perm;
}

/** Wrap a matmul kernel so transposed operands are materialised first, then multiplied plainly. */
function explicitTranspose(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const attrs = args.attrs ?? {};
    const transposeA = attrs.transposeA === true;
    const transposeB = attrs.transposeB === true;
    if (!transposeA && !transposeB) return original(args);
    const inputs = { ...args.inputs };
    const temps: tf.TensorInfo[] = [];
    try {
      for (const [key, flag] of [
        ['a', transposeA],
        ['b', transposeB],
      ] as const) {
        const operand = inputs[key];
        if (!flag || operand === undefined) continue;
        const t = transposeInfo(args.backend, operand, swapLastTwo(operand.shape.length));
        temps.push(t);
        inputs[key] = t;
      }
      return original({
        inputs,
        backend: args.backend,
        attrs: { ...attrs, transposeA: false, transposeB: false },
      });
    } finally {
      for (const t of temps) disposeInfo(args.backend, t);
    }
  };
}

/**
 * Route batched products (more than one matrix on either side) to the SIMD kernel in simd.ts;
 * single products stay on the original kernel (XNNPACK). Expects untransposed operands.
 */
function simdBatched(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { a, b } = args.inputs;
    const attrs = args.attrs ?? {};
    if (
      a === undefined ||
      b === undefined ||
      attrs.transposeA === true ||
      attrs.transposeB === true
    ) {
      return original(args);
    }
    const ra = a.shape.length;
    const rb = b.shape.length;
    const aOuter = a.shape.slice(0, -2);
    const bOuter = b.shape.slice(0, -2);
    const aBatch = aOuter.reduce((p, d) => p * d, 1);
    const bBatch = bOuter.reduce((p, d) => p * d, 1);
    const sameOuter = aOuter.length === bOuter.length && aOuter.every((d, i) => d === bOuter[i]);
    const usable =
      a.dtype === 'float32' &&
      b.dtype === 'float32' &&
      ra >= 2 &&
      rb >= 2 &&
      (aBatch > 1 || bBatch > 1) &&
      (sameOuter || aBatch === 1 || bBatch === 1) &&
      a.shape[ra - 1] === b.shape[rb - 2];
    if (!usable) return original(args);
    const backend = wasmBackendOf(args.backend);
    const rows = a.shape[ra - 2];
    const inner = a.shape[ra - 1];
    const cols = b.shape[rb - 1];
    const outer = aBatch >= bBatch ? aOuter : bOuter;
    const out = backend.makeOutput([...outer, rows, cols], 'float32');
    runBatchMatMul(backend, { a, b, out, ba: aBatch, bb: bBatch, rows, inner, cols });
    return out as tf.TensorInfo;
  };
}

/**
 * Which single products our gemm kernels take, by form, from `bench matmul --shapes` (tf.matMul,
 * ours vs XNNPACK behind an explicit Transpose, alternating, on this 2-core machine under load):
 * - A·Bᵀ (gemmNT, dot products along k, both operands read in order) won everywhere measured,
 *   1.6–4× on the standard layers and still 1.2–1.6× with a 4 MB B: B up to GEMM_NT_MAX_B_BYTES.
 * - A·B and Aᵀ·B (gemm, 4-row bands that each stream B): 1.1–2.2× while B stays in L2
 *   (≤ GEMM_MAX_B_BYTES; every dW = xᵀ·dy has a batch-sized B). Past it, unpacked, they lost to
 *   XNNPACK's cache blocking (0.7–0.9× at [64,1733]·[1733,256], 0.4× at a 1024² weight); packed
 *   in k blocks (simd.ts's gemmPacks, runGemm) they win at every size except Aᵀ·B with
 *   GEMM_PACKED_TA_MAX_ROWS rows or more (A's rows then lie a power-of-two-ish stride apart
 *   along k, and XNNPACK, behind its Transpose, was as fast or faster at 1024 rows). With too
 *   few rows to pack, A·B with a short k (≤ GEMM_LONG_B_MAX_INNER) still won 1.1–1.25×.
 */
export const GEMM_MAX_B_BYTES = GEMM_PACK_MIN_B_BYTES;
export const GEMM_NT_MAX_B_BYTES = 8 << 20;
export const GEMM_LONG_B_MAX_INNER = 256;
const GEMM_LONG_B_MAX_BYTES = 2 << 20;
export const GEMM_PACKED_TA_MAX_ROWS = 1024;

/**
 * Whether single products go to our gemm kernel, and dense layers and layer norms to the fused
 * kernels: on unless `D2NWG_WASM_GEMM=0`, read per call so one process can measure both routes
 * (before/after benchmarks).
 */
export function wasmGemmEnabled(): boolean {
  return process.env.D2NWG_WASM_GEMM !== '0';
}

/** The product's shape when it is a single float32 2-D product (every outer dimension 1). */
function singleProduct(
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
): { rows: number; inner: number; cols: number } | null {
  const ra = a.shape.length;
  const rb = b.shape.length;
  if (ra < 2 || rb < 2 || a.dtype !== 'float32' || b.dtype !== 'float32') return null;
  if (a.shape.slice(0, -2).some((d) => d !== 1) || b.shape.slice(0, -2).some((d) => d !== 1))
    return null;
  const [a0, a1] = a.shape.slice(-2) as [number, number];
  const [b0, b1] = b.shape.slice(-2) as [number, number];
  const [rows, inner] = transposeA ? [a1, a0] : [a0, a1];
  const [inner2, cols] = transposeB ? [b1, b0] : [b0, b1];
  return inner === inner2 ? { rows, inner, cols } : null;
}

/**
 * Whether a product of these shapes and flags runs in our gemm kernel, transposes read in place
 * (both transposed is not: it goes the explicit-transpose way). common/matmul.ts asks this to pick
 * its gradient formulation.
 */
export function gemmHandles(
  a: { shape: readonly number[]; dtype: string },
  b: { shape: readonly number[]; dtype: string },
  transposeA: boolean,
  transposeB: boolean,
): boolean {
  if (!wasmGemmEnabled() || (transposeA && transposeB) || !wasmKernelsInstalled()) return false;
  const p = singleProduct(a as tf.TensorInfo, b as tf.TensorInfo, transposeA, transposeB);
  if (p === null) return false;
  const bBytes = p.inner * p.cols * 4;
  if (transposeB) return bBytes <= GEMM_NT_MAX_B_BYTES;
  if (bBytes <= GEMM_MAX_B_BYTES) return true;
  if (gemmPacks(p.rows, p.inner, p.cols)) return !transposeA || p.rows < GEMM_PACKED_TA_MAX_ROWS;
  return !transposeA && p.inner <= GEMM_LONG_B_MAX_INNER && bBytes <= GEMM_LONG_B_MAX_BYTES;
}

/**
 * Single 2-D products (batch 1 on both sides) in our register-blocked kernel, reading a transposed
 * operand in place (no Transpose kernel, no buffer); everything else goes to `next`.
 */
function simdSingle(next: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { a, b } = args.inputs;
    const attrs = args.attrs ?? {};
    const transposeA = attrs.transposeA === true;
    const transposeB = attrs.transposeB === true;
    if (a === undefined || b === undefined || !gemmHandles(a, b, transposeA, transposeB))
      return next(args);
    const p = singleProduct(a, b, transposeA, transposeB);
    if (p === null) return next(args);
    const backend = wasmBackendOf(args.backend);
    const rank = Math.max(a.shape.length, b.shape.length);
    const out = backend.makeOutput(
      [...new Array<number>(rank - 2).fill(1), p.rows, p.cols],
      'float32',
    );
    runGemm(backend, { a, b, out, ...p, transposeA, transposeB });
    return out as tf.TensorInfo;
  };
}

/**
 * Unpack along axis 0 as contiguous copies inside the heap. The stock kernel slices once per
 * output, and each slice first copies the WHOLE input out of the heap (readSync), so unstacking a
 * model batch into M models cost M full copies (~9 ms a call for a CNN batch of 10).
 */
function unpackAxis0(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { value } = args.inputs;
    const axis = args.attrs?.axis;
    if (
      value === undefined ||
      (axis !== 0 && axis !== -value.shape.length) ||
      (value.dtype !== 'float32' && value.dtype !== 'int32')
    ) {
      return original(args);
    }
    const backend = wasmBackendOf(args.backend);
    const count = value.shape[0];
    const outShape = value.shape.slice(1);
    const bytes = outShape.reduce((p, d) => p * d, 1) * 4;
    const outs: tf.TensorInfo[] = [];
    for (let i = 0; i < count; i++) {
      const out = backend.makeOutput(outShape, value.dtype);
      // Addresses after makeOutput: it may grow (and move) the heap.
      const src = heapAddress(backend, value) + i * bytes;
      new Uint8Array(heapMemory(backend).buffer).copyWithin(
        heapAddress(backend, out),
        src,
        src + bytes,
      );
      outs.push(out as tf.TensorInfo);
    }
    return outs;
  };
}

/**
 * Slice inside the heap. The stock kernel first copies the WHOLE input out of the heap
 * (readSync) for every slice, so taking each model's rows of a model batch ([M, n, d], one slice
 * per model) cost M full copies: O(M²). Scoring 60 CNNs on their own 500 test images took 394 ms
 * a model instead of 8. Contiguous slices are one copyWithin; others copy their innermost runs.
 */
function sliceInHeap(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { x } = args.inputs;
    if (x === undefined || (x.dtype !== 'float32' && x.dtype !== 'int32')) return original(args);
    const [begin, size] = tf.slice_util.parseSliceParams(
      x as tf.TensorInfo as tf.Tensor,
      args.attrs?.begin as number | number[],
      args.attrs?.size as number | number[] | undefined,
    );
    const backend = wasmBackendOf(args.backend);
    const out = backend.makeOutput(size, x.dtype);
    const count = size.reduce((p, d) => p * d, 1);
    if (count === 0) return out as tf.TensorInfo;
    // Addresses after makeOutput: it may grow (and move) the heap.
    const heap = new Uint8Array(heapMemory(backend).buffer);
    const src = heapAddress(backend, x);
    const dst = heapAddress(backend, out);
    const rank = x.shape.length;
    const strides = new Array<number>(rank);
    for (let i = rank - 1, s = 1; i >= 0; i--) {
      strides[i] = s;
      s *= x.shape[i];
    }
    if (tf.slice_util.isSliceContinous(x.shape, begin, size)) {
      const from = src + 4 * tf.slice_util.computeFlatOffset(begin, strides);
      heap.copyWithin(dst, from, from + 4 * count);
      return out as tf.TensorInfo;
    }
    // Runs of the innermost dimension, walked with an odometer over the outer ones.
    const run = size[rank - 1];
    const runs = count / run;
    const at = new Array<number>(rank - 1).fill(0);
    for (let r = 0; r < runs; r++) {
      let off = begin[rank - 1];
      for (let i = 0; i < rank - 1; i++) off += (begin[i] + at[i]) * strides[i];
      heap.copyWithin(dst + 4 * r * run, src + 4 * off, src + 4 * (off + run));
      for (let i = rank - 2; i >= 0; i--) {
        if (++at[i] < size[i]) break;
        at[i] = 0;
      }
    }
    return out as tf.TensorInfo;
  };
}

function asPair(v: tf.NamedAttrMap[string] | undefined, what: string): Pair {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'number' && typeof v[1] === 'number')
    return [v[0], v[1]];
  throw new Error(`conv gradient: bad ${what} ${JSON.stringify(v)}`);
}

function as4(shape: readonly number[], what: string): [number, number, number, number] {
  const [a, b, c, d] = shape;
  if (
    shape.length !== 4 ||
    a === undefined ||
    b === undefined ||
    c === undefined ||
    d === undefined
  )
    throw new Error(`conv gradient: ${what} must be rank 4, got [${shape.join(', ')}]`);
  return [a, b, c, d];
}

type Pair = [number, number];
type ExplicitPadding = [Pair, Pair, Pair, Pair];

function padAttr(
  v: tf.NamedAttrMap[string] | undefined,
): 'same' | 'valid' | number | ExplicitPadding {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && (v === 'same' || v === 'valid')) return v;
  if (Array.isArray(v) && v.length === 4) {
    const pairs = v.map((p) => asPair(p, 'pad'));
    const [a, b, c, d] = pairs;
    if (a && b && c && d) return [a, b, c, d];
  }
  throw new Error(`conv gradient: bad pad ${JSON.stringify(v)}`);
}

function roundingAttr(
  v: tf.NamedAttrMap[string] | undefined,
): 'floor' | 'round' | 'ceil' | undefined {
  if (typeof v !== 'string') return undefined;
  return v === 'floor' || v === 'round' || v === 'ceil' ? v : undefined;
}

/**
 * dW[kh,kw,c,o] = Σ_{n,i,j} x[n, i·s + kh − top, j·s + kw − left, c] · dy[n,i,j,o]. That is a
 * valid convolution over (height, width) of x viewed as [C, H, W, N] with dy viewed as the filter
 * [OH, OW, N, O] dilated by the stride, giving [C, KH, KW, O].
 */
function conv2DBackpropFilterWasm(args: KernelArgs): tf.TensorInfo {
  const { inputs, backend } = args;
  const attrs = args.attrs ?? {};
  const { x, dy } = inputs;
  if (x === undefined || dy === undefined) throw new Error('Conv2DBackpropFilter: missing x or dy');
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC')
    throw new Error(
      `Conv2DBackpropFilter on wasm supports NHWC only, got ${String(attrs.dataFormat)}`,
    );
  const xShape = as4(x.shape, 'x');
  const filterShape = as4(asNumbers(attrs.filterShape, 'filterShape'), 'filterShape');
  const info = tf.backend_util.computeConv2DInfo(
    xShape,
    filterShape,
    asPair(attrs.strides, 'strides'),
    1,
    padAttr(attrs.pad),
    roundingAttr(attrs.dimRoundingMode),
  );
  const [n, h, w, c] = xShape;
  const [kh, kw] = filterShape;
  const { top, left } = info.padInfo;
  // Rows of the padded input the product touches: top padding, then kh + (oh−1)·s in all.
  const needH = kh + (info.outHeight - 1) * info.strideHeight;
  const needW = kw + (info.outWidth - 1) * info.strideWidth;
  const cropH = Math.min(h, needH - top);
  const cropW = Math.min(w, needW - left);
  const temps: tf.TensorInfo[] = [];
  try {
    let xc = x;
    if (cropH < h || cropW < w) {
      xc = single(
        kernelFunc('Slice')({
          inputs: { x },
          backend,
          attrs: { begin: [0, 0, 0, 0], size: [n, cropH, cropW, c] },
        }),
      );
      temps.push(xc);
    }
    const xt = transposeInfo(backend, xc, [3, 1, 2, 0]);
    temps.push(xt);
    const dyt = transposeInfo(backend, dy, [1, 2, 0, 3]);
    temps.push(dyt);
    const conv = single(
      kernelFunc('Conv2D')({
        inputs: { x: xt, filter: dyt },
        backend,
        attrs: {
          strides: [1, 1],
          pad: [
            [0, 0],
            [top, needH - top - cropH],
            [left, needW - left - cropW],
            [0, 0],
          ],
          dataFormat: 'NHWC',
          dilations: [info.strideHeight, info.strideWidth],
        },
      }),
    );
    temps.push(conv);
    return transposeInfo(backend, conv, [1, 2, 0, 3]);
  } finally {
    for (const t of temps) if (t !== x) disposeInfo(backend, t);
  }
}

/**
 * dx = dy dilated by the stride (s−1 zeros between rows and columns), convolved at stride 1 with
 * the filter rotated by 180° and its in/out channels swapped. One XNNPACK convolution, several
 * times faster than the stock wasm Conv2DBackpropInput loop even with the zeros.
 */
function conv2DBackpropInputWasm(args: KernelArgs): tf.TensorInfo {
  const { inputs, backend } = args;
  const attrs = args.attrs ?? {};
  const { dy, filter } = inputs;
  if (dy === undefined || filter === undefined)
    throw new Error('Conv2DBackpropInput: missing dy or filter');
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC')
    throw new Error(
      `Conv2DBackpropInput on wasm supports NHWC only, got ${String(attrs.dataFormat)}`,
    );
  const inShape = as4(asNumbers(attrs.inputShape, 'inputShape'), 'inputShape');
  const filterShape = as4(filter.shape, 'filter');
  const info = tf.backend_util.computeConv2DInfo(
    inShape,
    filterShape,
    asPair(attrs.strides, 'strides'),
    1,
    padAttr(attrs.pad),
    roundingAttr(attrs.dimRoundingMode),
  );
  const [n, h, w, ci] = inShape;
  const [kh, kw, , co] = filterShape;
  const oh = info.outHeight;
  const ow = info.outWidth;
  const sH = info.strideHeight;
  const sW = info.strideWidth;
  const temps: tf.TensorInfo[] = [];
  const keep = (t: tf.TensorInfo): tf.TensorInfo => {
    temps.push(t);
    return t;
  };
  const run = (name: string, x: tf.TensorInfo, kernelAttrs: tf.NamedAttrMap): tf.TensorInfo =>
    keep(single(kernelFunc(name)({ inputs: { x }, backend, attrs: kernelAttrs })));
  try {
    let d = dy;
    if (sH > 1) {
      d = run('Reshape', d, { shape: [n, oh, 1, ow * co] });
      d = run('PadV2', d, {
        paddings: [
          [0, 0],
          [0, 0],
          [0, sH - 1],
          [0, 0],
        ],
        constantValue: 0,
      });
      d = run('Reshape', d, { shape: [n, oh * sH, ow, co] });
    }
    if (sW > 1) {
      d = run('Reshape', d, { shape: [n * oh * sH, ow, 1, co] });
      d = run('PadV2', d, {
        paddings: [
          [0, 0],
          [0, 0],
          [0, sW - 1],
          [0, 0],
        ],
        constantValue: 0,
      });
      d = run('Reshape', d, { shape: [n, oh * sH, ow * sW, co] });
    }
    // Padding of the dilated gradient so that the stride-1 valid output is exactly h × w; a
    // negative amount crops instead (only zero rows, or rows the forward pass never read).
    const padT = kh - 1 - info.padInfo.top;
    const padB = h + info.padInfo.top - oh * sH;
    const padL = kw - 1 - info.padInfo.left;
    const padR = w + info.padInfo.left - ow * sW;
    if (padT < 0 || padB < 0 || padL < 0 || padR < 0) {
      const begin = [0, Math.max(0, -padT), Math.max(0, -padL), 0];
      const size = [
        n,
        oh * sH + Math.min(0, padB) - Math.max(0, -padT),
        ow * sW + Math.min(0, padR) - Math.max(0, -padL),
        co,
      ];
      d = run('Slice', d, { begin, size });
    }
    const rotated = run('Reverse', filter, { dims: [0, 1] });
    const swapped = run('Transpose', rotated, { perm: [0, 1, 3, 2] });
    const out = single(
      kernelFunc('Conv2D')({
        inputs: { x: d, filter: swapped },
        backend,
        attrs: {
          strides: [1, 1],
          pad: [
            [0, 0],
            [Math.max(0, padT), Math.max(0, padB)],
            [Math.max(0, padL), Math.max(0, padR)],
            [0, 0],
          ],
          dataFormat: 'NHWC',
          dilations: [1, 1],
        },
      }),
    );
    const [on, oh2, ow2, oc] = out.shape;
    if (on !== n || oh2 !== h || ow2 !== w || oc !== ci) {
      disposeInfo(backend, out);
      throw new Error(
        `Conv2DBackpropInput: got [${out.shape.join(', ')}], want [${inShape.join(', ')}]`,
      );
    }
    return out;
  } finally {
    for (const t of temps) disposeInfo(backend, t);
  }
}

/**
 * Measured on 2 cores, batch 64, 28×28: the dilated XNNPACK route wins at stride 1 (8–16×) and at
 * stride 2 from 4 input channels on (1.4–2.6×); with 1–2 input channels at stride 2 the stock
 * loop, which skips the dilation zeros, is 1.4–2.7× faster.
 */
function preferXnnpackBackpropInput(args: KernelArgs): boolean {
  const attrs = args.attrs ?? {};
  const [sH, sW] = asPair(attrs.strides, 'strides');
  const inChannels = asNumbers(attrs.inputShape, 'inputShape')[3] ?? 0;
  return sH * sW === 1 || inChannels >= 4;
}

function asNumbers(v: tf.NamedAttrMap[string] | undefined, what: string): number[] {
  if (Array.isArray(v)) {
    const out = v.filter((d): d is number => typeof d === 'number');
    if (out.length === v.length) return out;
  }
  throw new Error(`conv gradient: bad ${what} ${JSON.stringify(v)}`);
}

/**
 * Identity (tf.clone, and every tensor saved for a backward pass) as a shared reference, as the
 * cpu backend and wasm's own Reshape do, instead of the stock kernel's copy of the data: a
 * training step saves a dozen tensors, the minibatch and the kernels among them. Sound because no
 * kernel writes into its inputs: every output, ours included, is a fresh makeOutput.
 */
function identityShared(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { x } = args.inputs;
    const backend = args.backend as { incRef?: (dataId: object) => void };
    if (!x || x.dtype === 'string' || typeof backend.incRef !== 'function') return original(args);
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
  };
}

function replace(name: string, wrap: (original: tf.KernelFunc) => tf.KernelFunc): void {
  const current = tf.getKernel(name, 'wasm');
  if (!current) throw new Error(`wasm kernel '${name}' is not registered`);
  if (isOurs(current.kernelFunc)) return;
  originals.set(name, current);
  const fn = mark(wrap(current.kernelFunc));
  tf.unregisterKernel(name, 'wasm');
  // Keep setup/dispose so a re-initialised wasm backend still wires up the original kernel.
  tf.registerKernel({ ...current, kernelFunc: fn });
}

/**
 * Install our wasm kernels. Idempotent; call after the wasm backend is registered (initBackend
 * does, in every thread, because kernel registries are per thread).
 */
export function installWasmKernels(): void {
  replace('BatchMatMul', (original) => simdSingle(explicitTranspose(simdBatched(original))));
  replace('Unpack', unpackAxis0);
  replace('Slice', sliceInHeap);
  replace('Identity', identityShared);
  replace('_FusedMatMul', explicitTranspose);
  replace(
    'Conv2DBackpropInput',
    (original) => (args) =>
      preferXnnpackBackpropInput(args) ? conv2DBackpropInputWasm(args) : original(args),
  );
  if (!tf.getKernel(SIMD_BMM, 'wasm')) {
    tf.registerKernel({
      kernelName: SIMD_BMM,
      backendName: 'wasm',
      kernelFunc: mark((args) => {
        const { b } = args.inputs;
        const inner = b?.shape[1] ?? 0;
        const cols = b?.shape[2] ?? 0;
        // Few output columns (a classifier's logits): B transposed, then dot products.
        if (b !== undefined && b.shape.length === 3 && cols < 8 && inner >= 8) {
          const bt = transposeInfo(args.backend, b, [0, 2, 1]);
          try {
            return simdBatchMatMulWasm(args, bt) as tf.TensorInfo;
          } finally {
            disposeInfo(args.backend, bt);
          }
        }
        return simdBatchMatMulWasm(args) as tf.TensorInfo;
      }),
    });
  }
  for (const [name, fn] of [
    [SIMD_LEAKY, simdLeakyWasm],
    [SIMD_LEAKY_GRAD, simdLeakyGradWasm],
    [DENSE, denseWasm],
    [COLSUM, colSumWasm],
  ] as const) {
    if (!tf.getKernel(name, 'wasm')) {
      tf.registerKernel({
        kernelName: name,
        backendName: 'wasm',
        kernelFunc: mark((args) => fn(args) as tf.TensorInfo),
      });
    }
  }
  for (const [name, fn] of [
    [LAYER_NORM, layerNormWasm],
    [LAYER_NORM_GRAD, layerNormGradWasm],
  ] as const) {
    if (!tf.getKernel(name, 'wasm')) {
      tf.registerKernel({
        kernelName: name,
        backendName: 'wasm',
        kernelFunc: mark((args) => fn(args) as tf.TensorInfo[]),
      });
    }
  }
  if (!tf.getKernel(SOFTMAX_CE, 'wasm')) {
    tf.registerKernel({
      kernelName: SOFTMAX_CE,
      backendName: 'wasm',
      kernelFunc: mark((args) => softmaxCrossEntropyWasm(args) as tf.TensorInfo[]),
    });
  }
  if (!tf.getKernel(FUSED_ADAM, 'wasm')) {
    tf.registerKernel({
      kernelName: FUSED_ADAM,
      backendName: 'wasm',
      kernelFunc: mark((args) => fusedAdamWasm(args) as tf.TensorInfo[]),
    });
  }
  const existing = tf.getKernel('Conv2DBackpropFilter', 'wasm');
  if (!existing) {
    tf.registerKernel({
      kernelName: 'Conv2DBackpropFilter',
      backendName: 'wasm',
      kernelFunc: mark((args) => conv2DBackpropFilterWasm(args)),
    });
  }
}

/** Whether installWasmKernels has replaced the wasm matmul kernels (for doctor and tests). */
export function wasmKernelsInstalled(): boolean {
  const k = tf.getKernel('BatchMatMul', 'wasm');
  return k !== undefined && isOurs(k.kernelFunc);
}

/**
 * Put the stock wasm matmul kernels back (Conv2DBackpropFilter stays: there is no stock one).
 * Exists so benchmarks can measure before/after in one process.
 */
export function uninstallWasmKernels(): void {
  for (const [name, config] of originals) {
    const current = tf.getKernel(name, 'wasm');
    if (current && isOurs(current.kernelFunc)) {
      tf.unregisterKernel(name, 'wasm');
      tf.registerKernel(config);
    }
  }
}
