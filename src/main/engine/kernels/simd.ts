/**
 * Two small WebAssembly SIMD kernels that run inside the tfjs wasm backend's own memory:
 *
 * - `bmm`: a batched matmul C[b] = A[b]·B[b] for MANY SMALL matrices (a model batch's layers:
 *   [M, 32, 48]·[M, 48, 32]). tfjs-backend-wasm hands a batch of one to XNNPACK but every batch
 *   > 1 to a scalar triple loop with a strided inner read (~5 GFLOP/s here); this one streams
 *   rows with f32x4 (broadcast A[i,k], multiply-add a row of B into a row of C).
 * - `adam`: one fused Adam step over a flat buffer (w, m, v, g → w', m', v'), so the optimiser of
 *   a model batch is one kernel per parameter tensor instead of ~12 tensor ops.
 *
 * The module is assembled here from its instructions (a dozen opcodes, no toolchain, nothing
 * prebuilt), imports the backend's `WasmMemory`, and works on tensor addresses, so no
 * data is copied in or out. It is instantiated once per backend instance (per thread).
 */

/** The WebAssembly API as far as this file uses it (Node's global; the lib has no DOM types). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmApi {
  readonly Memory: new (d: { initial: number }) => WasmMemory;
  readonly Module: new (bytes: Uint8Array) => object;
  readonly Instance: new (
    m: object,
    imports: Record<string, Record<string, unknown>>,
  ) => { readonly exports: Record<string, unknown> };
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

// ---- a minimal WebAssembly encoder -----------------------------------------------------------

function uleb(n: number): number[] {
  const out: number[] = [];
  let v = n >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  let v = n | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

function name(s: string): number[] {
  const bytes = [...new TextEncoder().encode(s)];
  return [...uleb(bytes.length), ...bytes];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;

/** Instruction helpers: each returns its bytes. */
const op = {
  get: (i: number) => [0x20, ...uleb(i)],
  set: (i: number) => [0x21, ...uleb(i)],
  tee: (i: number) => [0x22, ...uleb(i)],
  i32: (v: number) => [0x41, ...sleb(v)],
  add: [0x6a],
  sub: [0x6b],
  mul: [0x6c],
  andI: [0x71],
  geU: [0x4f],
  f32load: [0x2a, 2, 0],
  f32store: [0x38, 2, 0],
  f32add: [0x92],
  f32sub: [0x93],
  f32mul: [0x94],
  f32div: [0x95],
  f32sqrt: [0x91],
  v128load: [0xfd, ...uleb(0x00), 2, 0],
  v128store: [0xfd, ...uleb(0x0b), 2, 0],
  splat: [0xfd, ...uleb(0x13)],
  vadd: [0xfd, ...uleb(0xe4)],
  vmul: [0xfd, ...uleb(0xe6)],
  vdiv: [0xfd, ...uleb(0xe7)],
  vsqrt: [0xfd, ...uleb(0xe3)],
  memfill: [0xfc, ...uleb(0x0b), 0x00],
  vzero: [0xfd, ...uleb(0x0c), ...new Array<number>(16).fill(0)],
  lane: (l: number) => [0xfd, ...uleb(0x1f), l],
  vgt: [0xfd, ...uleb(0x44)],
  bitselect: [0xfd, ...uleb(0x52)],
  f32gt: [0x5e],
  f32const0: [0x43, 0, 0, 0, 0],
  select: [0x1b],
  br: (d: number) => [0x0c, ...uleb(d)],
  brIf: (d: number) => [0x0d, ...uleb(d)],
  end: [0x0b],
};

/** Byte address `base + 4·index` (both locals) of a float32 element. */
function addr(base: number, index: number): number[] {
  return [...op.get(base), ...op.get(index), ...op.i32(4), ...op.mul, ...op.add];
}

/** `for (v = from; v < limit; v += step) body` as block/loop; `limit` is a local. */
function forLoop(v: number, from: number[], limit: number, step: number, body: number[]): number[] {
  return [
    ...from,
    ...op.set(v),
    0x02,
    0x40, // block
    0x03,
    0x40, // loop
    ...op.get(v),
    ...op.get(limit),
    ...op.geU,
    ...op.brIf(1),
    ...body,
    ...op.get(v),
    ...op.i32(step),
    ...op.add,
    ...op.set(v),
    ...op.br(0),
    ...op.end,
    ...op.end,
  ];
}

/** base + (row · ld + col) · 4 on the stack: the byte address of a float32 matrix cell. */
function cellAddr(base: number, row: number, ld: number, col: number): number[] {
  return [
    ...op.get(base),
    ...op.get(row),
    ...op.get(ld),
    ...op.mul,
    ...op.get(col),
    ...op.add,
    ...op.i32(4),
    ...op.mul,
    ...op.add,
  ];
}

/** local dst ← the byte address of a float32 matrix cell (cellAddr). */
function setCellAddr(base: number, row: number, ld: number, col: number, dst: number): number[] {
  return [...cellAddr(base, row, ld, col), ...op.set(dst)];
}

/** local dst ← local src · k (i32). */
function setScaled(src: number, k: number, dst: number): number[] {
  return [...op.get(src), ...op.i32(k), ...op.mul, ...op.set(dst)];
}

/** local dst ← local src rounded down to a multiple of m (a power of two). */
function setFloorTo(src: number, m: number, dst: number): number[] {
  return [...op.get(src), ...op.i32(-m), ...op.andI, ...op.set(dst)];
}
function func(locals: [number, number][], body: number[]): number[] {
  const bytes = [...vec(locals.map(([n, t]) => [...uleb(n), t])), ...body, ...op.end];
  return [...uleb(bytes.length), ...bytes];
}

// ---- bmm(a, b, c, batch, R, K, N, aStride, bStride) -------------------------------------------
// Byte addresses; aStride/bStride are bytes between batch entries (0 broadcasts one matrix).
const BMM = { a: 0, b: 1, c: 2, batch: 3, R: 4, K: 5, N: 6, aS: 7, bS: 8 };
const BL = {
  bi: 9,
  i: 10,
  k: 11,
  j: 12,
  a0: 13,
  b0: 14,
  crow: 15,
  brow: 16,
  n4: 17,
  nb: 18,
  j0: 19,
  n16: 20,
};
const BV = { av: 21, acc: [22, 23, 24, 25] };
const BF = { as: 26 };

/**
 * The batch loop of both matmul kernels: for each entry `bi`, a0 and b0 are A's and B's matrix
 * addresses (params a, b and strides aS, bS of BMM), then `body` runs.
 */
function overBatch(bi: number, a0: number, b0: number, body: number[]): number[] {
  const { a, b, batch, aS, bS } = BMM;
  return forLoop(bi, op.i32(0), batch, 1, [
    ...op.get(a),
    ...op.get(bi),
    ...op.get(aS),
    ...op.mul,
    ...op.add,
    ...op.set(a0),
    ...op.get(b),
    ...op.get(bi),
    ...op.get(bS),
    ...op.mul,
    ...op.add,
    ...op.set(b0),
    ...body,
  ]);
}

function bmmBody(): number[] {
  const { c, R, K, N } = BMM;
  const { bi, i, k, j, a0, b0, crow, brow, n4, nb } = BL;
  const { av } = BV;
  const { as } = BF;
  // Inner loops over j: vector part (j < n4, step 4), then scalar tail (j < N).
  const vecJ = forLoop(j, op.get(BL.n16), n4, 4, [
    // c[crow + 4j] += av * b[brow + 4j]
    ...addr(crow, j),
    ...addr(crow, j),
    ...op.v128load,
    ...op.get(av),
    ...addr(brow, j),
    ...op.v128load,
    ...op.vmul,
    ...op.vadd,
    ...op.v128store,
  ]);
  const tailJ = forLoop(j, op.get(n4), N, 1, [
    ...addr(crow, j),
    ...addr(crow, j),
    ...op.f32load,
    ...op.get(as),
    ...addr(brow, j),
    ...op.f32load,
    ...op.f32mul,
    ...op.f32add,
    ...op.f32store,
  ]);
  // A[i, k]: the float at a0 + (i*K + k)*4.
  const loadA = [...cellAddr(a0, i, K, k), ...op.f32load];
  const kLoop = forLoop(k, op.i32(0), K, 1, [
    // as = A[i, k]; av = splat(as); brow = b0 + k*N*4
    ...loadA,
    ...op.tee(as),
    ...op.splat,
    ...op.set(av),
    ...op.get(b0),
    ...op.get(k),
    ...op.get(nb),
    ...op.mul,
    ...op.add,
    ...op.set(brow),
    ...vecJ,
    ...tailJ,
  ]);
  // Blocks of 16 columns: four f32x4 accumulators held in registers across the whole k loop.
  const loadB = (offset: number): number[] => [0xfd, ...uleb(0x00), 2, ...uleb(offset)];
  const blocked = forLoop(BL.j0, op.i32(0), BL.n16, 16, [
    ...BV.acc.flatMap((a2) => [...op.vzero, ...op.set(a2)]),
    ...forLoop(k, op.i32(0), K, 1, [
      ...loadA,
      ...op.splat,
      ...op.set(av),
      // brow = b0 + (k*N + j0)*4
      ...setCellAddr(b0, k, N, BL.j0, brow),
      ...BV.acc.flatMap((a2, q) => [
        ...op.get(a2),
        ...op.get(av),
        ...op.get(brow),
        ...loadB(16 * q),
        ...op.vmul,
        ...op.vadd,
        ...op.set(a2),
      ]),
    ]),
    ...BV.acc.flatMap((a2, q) => [
      ...op.get(crow),
      ...op.get(BL.j0),
      ...op.i32(4),
      ...op.mul,
      ...op.add,
      ...op.get(a2),
      0xfd,
      ...uleb(0x0b),
      2,
      ...uleb(16 * q),
    ]),
  ]);
  const iLoop = forLoop(i, op.i32(0), R, 1, [
    // crow = c + ((bi*R + i) * N) * 4, zeroed
    ...op.get(c),
    ...op.get(bi),
    ...op.get(R),
    ...op.mul,
    ...op.get(i),
    ...op.add,
    ...op.get(nb),
    ...op.mul,
    ...op.add,
    ...op.tee(crow),
    ...op.i32(0),
    ...op.get(nb),
    ...op.memfill,
    ...blocked,
    // Columns past the last block of 16: C accumulated in memory.
    ...op.get(BL.n16),
    ...op.get(N),
    ...op.geU,
    ...[0x04, 0x40], // if (n16 >= N) {} else { kLoop }
    0x05,
    ...kLoop,
    ...op.end,
  ]);
  const biLoop = overBatch(bi, a0, b0, iLoop);
  return [
    // nb = N*4 (bytes per row of B and C); n4 = N & ~3
    ...setScaled(N, 4, nb),
    ...setFloorTo(N, 4, n4),
    ...setFloorTo(N, 16, BL.n16),
    ...biLoop,
  ];
}

// ---- adam(w, m, v, g, ow, om, ov, n, lr, b1, b2, c1, c2, eps, decay) ---------------------------
// ow = w − lr·(m'/c1)/(√(v'/c2) + eps) − decay·w, m' = b1·m + (1−b1)·g, v' = b2·v + (1−b2)·g²
// (decay = lr·weightDecay: AdamW's decoupled weight decay; 0 for plain Adam).
const AD = { w: 0, m: 1, v: 2, g: 3, ow: 4, om: 5, ov: 6, n: 7 };
const AF = { lr: 8, b1: 9, b2: 10, c1: 11, c2: 12, eps: 13, decay: 14 };
const AL = { p: 15, end: 16, end4: 17 };
const AFL = { nb1: 18, nb2: 19, x: 20, mm: 21, vv: 22 };
const AV = { gv: 23, mv: 24, vv: 25 };

/** One Adam element (scalar or f32x4): the same expression with the scalar or vector ops. */
function adamElement(vector: boolean): number[] {
  const load = vector ? op.v128load : op.f32load;
  const store = vector ? op.v128store : op.f32store;
  const mul = vector ? op.vmul : op.f32mul;
  const add = vector ? op.vadd : op.f32add;
  const div = vector ? op.vdiv : op.f32div;
  const sqrt = vector ? op.vsqrt : op.f32sqrt;
  const k = (local: number): number[] => (vector ? [...op.get(local), ...op.splat] : op.get(local));
  const at = (base: number): number[] => [...op.get(base), ...op.get(AL.p), ...op.add];
  const g = vector ? AV.gv : AFL.x;
  const mOut = vector ? AV.mv : AFL.mm;
  const vOut = vector ? AV.vv : AFL.vv;
  return [
    ...at(AD.g),
    ...load,
    ...op.set(g),
    // m' = b1*m + (1-b1)*g
    ...at(AD.om),
    ...k(AF.b1),
    ...at(AD.m),
    ...load,
    ...mul,
    ...k(AFL.nb1),
    ...op.get(g),
    ...mul,
    ...add,
    ...op.tee(mOut),
    ...store,
    // v' = b2*v + (1-b2)*g*g
    ...at(AD.ov),
    ...k(AF.b2),
    ...at(AD.v),
    ...load,
    ...mul,
    ...k(AFL.nb2),
    ...op.get(g),
    ...op.get(g),
    ...mul,
    ...mul,
    ...add,
    ...op.tee(vOut),
    ...store,
    // w' = w - lr * (m'/c1) / (sqrt(v'/c2) + eps)   (w + (-lr)*…, written as w - …)
    ...at(AD.ow),
    ...at(AD.w),
    ...load,
    ...k(AF.lr),
    ...op.get(mOut),
    ...k(AF.c1),
    ...div,
    ...mul,
    ...op.get(vOut),
    ...k(AF.c2),
    ...div,
    ...sqrt,
    ...k(AF.eps),
    ...add,
    ...div,
    ...(vector ? [0xfd, ...uleb(0xe5)] : op.f32sub),
    // … − decay·w
    ...k(AF.decay),
    ...at(AD.w),
    ...load,
    ...mul,
    ...(vector ? [0xfd, ...uleb(0xe5)] : op.f32sub),
    ...store,
  ];
}

function adamBody(): number[] {
  const one = [0x43, ...new Uint8Array(new Float32Array([1]).buffer)];
  return [
    ...one,
    ...op.get(AF.b1),
    ...op.f32sub,
    ...op.set(AFL.nb1),
    ...one,
    ...op.get(AF.b2),
    ...op.f32sub,
    ...op.set(AFL.nb2),
    // end = n*4 bytes; end4 = (n & ~3)*4
    ...setScaled(AD.n, 4, AL.end),
    ...op.get(AD.n),
    ...op.i32(-4),
    ...op.andI,
    ...op.i32(4),
    ...op.mul,
    ...op.set(AL.end4),
    ...forLoop(AL.p, op.i32(0), AL.end4, 16, adamElement(true)),
    ...forLoop(AL.p, op.get(AL.end4), AL.end, 4, adamElement(false)),
  ];
}

// ---- bmmt(a, bt, c, batch, R, K, N, aStride, bStride): C[b] = A[b]·Bt[b]ᵀ ------------------------
// The dot-product form for outputs only a few columns wide (a classifier's K logits): each C[i,j]
// is one f32x4 dot product of a row of A with a row of Bt, summed across lanes once.
const TL = { bi: 9, i: 10, j: 11, k: 12, a0: 13, b0: 14, arow: 15, brow: 16, k4: 17 };
const TV = { acc: 18 };
const TF = { s: 19 };

function bmmtBody(): number[] {
  const { c, R, K, N } = BMM;
  const { bi, i, j, k, a0, b0, arow, brow, k4 } = TL;
  const at = (base: number): number[] => [
    ...op.get(base),
    ...op.get(k),
    ...op.i32(4),
    ...op.mul,
    ...op.add,
  ];
  const kVec = forLoop(k, op.i32(0), k4, 4, [
    ...op.get(TV.acc),
    ...at(arow),
    ...op.v128load,
    ...at(brow),
    ...op.v128load,
    ...op.vmul,
    ...op.vadd,
    ...op.set(TV.acc),
  ]);
  const kTail = forLoop(k, op.get(k4), K, 1, [
    ...op.get(TF.s),
    ...at(arow),
    ...op.f32load,
    ...at(brow),
    ...op.f32load,
    ...op.f32mul,
    ...op.f32add,
    ...op.set(TF.s),
  ]);
  const jLoop = forLoop(j, op.i32(0), N, 1, [
    ...op.get(b0),
    ...op.get(j),
    ...op.get(K),
    ...op.mul,
    ...op.i32(4),
    ...op.mul,
    ...op.add,
    ...op.set(brow),
    ...op.vzero,
    ...op.set(TV.acc),
    ...kVec,
    ...op.get(TV.acc),
    ...op.lane(0),
    ...op.get(TV.acc),
    ...op.lane(1),
    ...op.f32add,
    ...op.get(TV.acc),
    ...op.lane(2),
    ...op.get(TV.acc),
    ...op.lane(3),
    ...op.f32add,
    ...op.f32add,
    ...op.set(TF.s),
    ...kTail,
    // c[((bi*R + i)*N + j)*4] = s
    ...op.get(c),
    ...op.get(bi),
    ...op.get(R),
    ...op.mul,
    ...op.get(i),
    ...op.add,
    ...op.get(N),
    ...op.mul,
    ...op.get(j),
    ...op.add,
    ...op.i32(4),
    ...op.mul,
    ...op.add,
    ...op.get(TF.s),
    ...op.f32store,
  ]);
  const iLoop = forLoop(i, op.i32(0), R, 1, [
    ...op.get(a0),
    ...op.get(i),
    ...op.get(K),
    ...op.mul,
    ...op.i32(4),
    ...op.mul,
    ...op.add,
    ...op.set(arow),
    ...jLoop,
  ]);
  return [...op.get(K), ...op.i32(-4), ...op.andI, ...op.set(k4), ...overBatch(bi, a0, b0, iLoop)];
}

// ---- leaky(x, out, n, alpha) and leakyGrad(x, dy, out, n, alpha) -------------------------------
// leaky: out = x > 0 ? x : alpha·x. leakyGrad: out = x > 0 ? dy : alpha·dy (tfjs's LeakyRelu
// gradient: 3 kernels there, one here).
function leakyBody(grad: boolean): number[] {
  // params: x 0, (dy 1,) out, n, alpha; locals p, end, end4
  const x = 0;
  const dy = grad ? 1 : 0;
  const out = grad ? 2 : 1;
  const n = grad ? 3 : 2;
  const alpha = grad ? 4 : 3;
  const p = alpha + 1;
  const end = p + 1;
  const end4 = p + 2;
  const at = (base: number): number[] => [...op.get(base), ...op.get(p), ...op.add];
  const vec4 = [
    ...at(out),
    ...at(dy),
    ...op.v128load,
    ...at(dy),
    ...op.v128load,
    ...op.get(alpha),
    ...op.splat,
    ...op.vmul,
    ...at(x),
    ...op.v128load,
    ...op.vzero,
    ...op.vgt,
    ...op.bitselect,
    ...op.v128store,
  ];
  const scalar = [
    ...at(out),
    ...at(dy),
    ...op.f32load,
    ...at(dy),
    ...op.f32load,
    ...op.get(alpha),
    ...op.f32mul,
    ...at(x),
    ...op.f32load,
    ...op.f32const0,
    ...op.f32gt,
    ...op.select,
    ...op.f32store,
  ];
  return [
    ...setScaled(n, 4, end),
    ...op.get(n),
    ...op.i32(-4),
    ...op.andI,
    ...op.i32(4),
    ...op.mul,
    ...op.set(end4),
    ...forLoop(p, op.i32(0), end4, 16, vec4),
    ...forLoop(p, op.get(end4), end, 4, scalar),
  ];
}

// ---- gemm: one 2-D product C[M,N] = op(A)·op(B) with register blocking -------------------------
// The model-batch kernel above keeps one row of C in registers (1×16); a standard-size layer
// ([64, 256]·[256, 256]) wants more reuse of each loaded B vector. Two forms:
// - gemm(a, b, c, M, K, N, sAi, sAk, bias): B row-major [K, N]; A read through strides (bytes
//   between rows and between k), so A and Aᵀ are the same loop. Blocks of 4 rows × 8 columns keep
//   eight f32x4 accumulators in registers; each k loads two B vectors and four splatted A floats.
//   A nonzero `bias` (address of N floats) starts every row's accumulators at the bias: x·W + b
//   in one pass, no broadcast Add.
// - gemmNT(a, bt, c, M, K, N): C = A·Btᵀ with A [M, K] and Bt [N, K] both read along k: blocks of
//   2 rows × 4 columns of f32x4 dot products, summed across lanes once at the end.
// Neither needs a transposed copy of an operand, nor zeroes C first.

/** Local-variable numbering for one function: params first, then locals by type. */
class Locals {
  private next: number;
  readonly decls: [number, number][] = [];
  constructor(params: number) {
    this.next = params;
  }
  take(type: number, count = 1): number[] {
    const first = this.next;
    this.next += count;
    this.decls.push([count, type]);
    return Array.from({ length: count }, (_, i) => first + i);
  }
  one(type: number): number {
    return nth(this.take(type), 0);
  }
}

/** xs[i], which the generators only ask for inside the range they allocated. */
function nth(xs: readonly number[], i: number): number {
  const v = xs[i];
  if (v === undefined) throw new Error(`simd assembler: no local #${i}`);
  return v;
}

const splatLoad = (offset = 0): number[] => [0xfd, ...uleb(0x09), 2, ...uleb(offset)];
const vload = (offset = 0): number[] => [0xfd, ...uleb(0x00), 2, ...uleb(offset)];
const vstore = (offset = 0): number[] => [0xfd, ...uleb(0x0b), 2, ...uleb(offset)];
const f32storeAt = (offset = 0): number[] => [0x38, 2, ...uleb(offset)];

/** `local = local + other` (i32). */
function bump(local: number, other: number): number[] {
  return [...op.get(local), ...op.get(other), ...op.add, ...op.set(local)];
}

/** Sum of the four lanes of a local f32x4. */
function lanesSum(v: number): number[] {
  return [
    ...op.get(v),
    ...op.lane(0),
    ...op.get(v),
    ...op.lane(1),
    ...op.f32add,
    ...op.get(v),
    ...op.lane(2),
    ...op.get(v),
    ...op.lane(3),
    ...op.f32add,
    ...op.f32add,
  ];
}

function gemmBody(): { locals: [number, number][]; body: number[] } {
  const P = { a: 0, b: 1, c: 2, M: 3, K: 4, N: 5, sAi: 6, sAk: 7, bias: 8, ld: 9 };
  const L = new Locals(10);
  const i = L.one(I32);
  const j = L.one(I32);
  const k = L.one(I32);
  const ap = L.one(I32);
  const bp = L.one(I32);
  const cp = L.one(I32);
  const m4 = L.one(I32);
  const n8 = L.one(I32);
  const n4 = L.one(I32);
  const nb = L.one(I32);
  const sA2 = L.one(I32);
  const sA3 = L.one(I32);
  const s = L.one(F32);
  const acc = L.take(V128, 8);
  const bv = L.take(V128, 2);
  const av = L.one(V128);
  const rowOff = [-1, P.sAi, sA2, sA3];

  /** The R×(4V) block at row i, column j (both locals). */
  const block = (R: number, V: number): number[] => {
    const accs = acc.slice(0, R * V);
    const perK: number[] = [];
    for (let q = 0; q < V; q++) perK.push(...op.get(bp), ...vload(16 * q), ...op.set(nth(bv, q)));
    for (let r = 0; r < R; r++) {
      perK.push(...op.get(ap));
      if (r > 0) perK.push(...op.get(nth(rowOff, r)), ...op.add);
      perK.push(...splatLoad(), ...op.set(av));
      for (let q = 0; q < V; q++) {
        const x = nth(accs, r * V + q);
        perK.push(...op.get(x), ...op.get(av), ...op.get(nth(bv, q)), ...op.vmul, ...op.vadd);
        perK.push(...op.set(x));
      }
    }
    perK.push(...bump(ap, P.sAk), ...bump(bp, nb));
    const stores: number[] = [];
    for (let r = 0; r < R; r++) {
      for (let q = 0; q < V; q++) {
        stores.push(...op.get(cp));
        if (r > 0) stores.push(...op.get(nb), ...op.i32(r), ...op.mul, ...op.add);
        stores.push(...op.get(nth(accs, r * V + q)), ...vstore(16 * q));
      }
    }
    return [
      // ap = a + i*sAi; bp = b + 4j; cp = c + (i*N + j)*4
      ...op.get(P.a),
      ...op.get(i),
      ...op.get(P.sAi),
      ...op.mul,
      ...op.add,
      ...op.set(ap),
      ...op.get(P.b),
      ...op.get(j),
      ...op.i32(4),
      ...op.mul,
      ...op.add,
      ...op.set(bp),
      ...setCellAddr(P.c, i, P.ld, j, cp),
      // acc = bias ? bias[j + 4q …] : 0 (the load from address 0 when there is none is discarded)
      ...accs.flatMap((x, n) => [
        ...op.get(P.bias),
        ...op.get(j),
        ...op.i32(4),
        ...op.mul,
        ...op.add,
        ...vload(16 * (n % V)),
        ...op.vzero,
        ...op.get(P.bias),
        ...op.select,
        ...op.set(x),
      ]),
      ...forLoop(k, op.i32(0), P.K, 1, perK),
      ...stores,
    ];
  };

  /** Blocks over columns for R rows at row i: 8 wide, then one 4 wide if left. */
  const rowBand = (R: number): number[] => [
    ...forLoop(j, op.i32(0), n8, 8, block(R, 2)),
    ...op.get(n8),
    ...op.get(n4),
    ...op.geU,
    ...[0x04, 0x40], // if (n8 >= n4) {} else { one 4-wide block at j = n8 }
    0x05,
    ...op.get(n8),
    ...op.set(j),
    ...block(R, 1),
    ...op.end,
  ];

  // Columns n4..N (N not a multiple of 4): plain dot products, every row.
  const tail = forLoop(
    i,
    op.i32(0),
    P.M,
    1,
    forLoop(j, op.get(n4), P.N, 1, [
      ...op.get(P.bias),
      ...op.get(j),
      ...op.i32(4),
      ...op.mul,
      ...op.add,
      ...op.f32load,
      ...op.f32const0,
      ...op.get(P.bias),
      ...op.select,
      ...op.set(s),
      ...op.get(P.a),
      ...op.get(i),
      ...op.get(P.sAi),
      ...op.mul,
      ...op.add,
      ...op.set(ap),
      ...op.get(P.b),
      ...op.get(j),
      ...op.i32(4),
      ...op.mul,
      ...op.add,
      ...op.set(bp),
      ...forLoop(k, op.i32(0), P.K, 1, [
        ...op.get(s),
        ...op.get(ap),
        ...op.f32load,
        ...op.get(bp),
        ...op.f32load,
        ...op.f32mul,
        ...op.f32add,
        ...op.set(s),
        ...bump(ap, P.sAk),
        ...bump(bp, nb),
      ]),
      ...op.get(P.c),
      ...op.get(i),
      ...op.get(P.ld),
      ...op.mul,
      ...op.get(j),
      ...op.add,
      ...op.i32(4),
      ...op.mul,
      ...op.add,
      ...op.get(s),
      ...op.f32store,
    ]),
  );

  const body = [
    ...setScaled(P.ld, 4, nb),
    ...setFloorTo(P.M, 4, m4),
    ...setFloorTo(P.N, 8, n8),
    ...setFloorTo(P.N, 4, n4),
    ...setScaled(P.sAi, 2, sA2),
    ...setScaled(P.sAi, 3, sA3),
    ...forLoop(i, op.i32(0), m4, 4, rowBand(4)),
    ...forLoop(i, op.get(m4), P.M, 1, rowBand(1)),
    ...tail,
  ];
  return { locals: L.decls, body };
}

// ---- packed gemm: B copied once into 8-column strips, then 4×8 blocks over the strips ----------
// gemm above streams all of B for every 4-row band, reading 32 bytes per k from rows N·4 bytes
// apart: once B outgrows L2 ([1733, 256] or [256, 1733], 1.7 MB) every band refetches it from L3
// and the strided reads defeat the prefetcher. Here B's first N8 = N & ~7 columns are first copied
// (pack8) into strips of [K, 8] floats, one after another (32·K bytes each, ≤ 256 KB up to
// K = 8192), and gemmPacked runs strip by strip, all the bands of A against one strip while it
// sits in L1/L2, reading it in order. The last N − N8 columns go to gemm with C's and B's row
// length `ld` = N. Same 4×8 register block, same per-element order of additions as gemm, so
// the two give the same bits.

/** pack8(b, bp, K, N8, ld): bp[s][k][0..8] = b[k, 8s .. 8s+8] for the strips s < N8/8 (B row length ld). */
function pack8Body(): { locals: [number, number][]; body: number[] } {
  const P = { b: 0, bp: 1, K: 2, N8: 3, ld: 4 };
  const L = new Locals(5);
  const j = L.one(I32);
  const src = L.one(I32);
  const dst = L.one(I32);
  const end = L.one(I32);
  const lb = L.one(I32);
  return {
    locals: L.decls,
    body: [
      ...setScaled(P.ld, 4, lb),
      ...op.get(P.bp),
      ...op.set(dst),
      ...forLoop(j, op.i32(0), P.N8, 8, [
        // src = b + 4j; end = dst + 32K; copy 32 bytes a row down the column strip
        ...op.get(P.b),
        ...op.get(j),
        ...op.i32(4),
        ...op.mul,
        ...op.add,
        ...op.set(src),
        ...op.get(dst),
        ...op.get(P.K),
        ...op.i32(32),
        ...op.mul,
        ...op.add,
        ...op.set(end),
        ...forLoop(dst, op.get(dst), end, 32, [
          ...op.get(dst),
          ...op.get(src),
          ...vload(0),
          ...vstore(0),
          ...op.get(dst),
          ...op.get(src),
          ...vload(16),
          ...vstore(16),
          ...bump(src, lb),
        ]),
      ]),
    ],
  };
}

/**
 * gemmPacked(a, bp, c, M, K, N8, sAi, sAk, bias, ld, more): C[:, 0..N8] = A·B from pack8's
 * strips; A as in gemm (strides sAi, sAk in bytes), C and bias rows `ld` floats long; with
 * `more` ≠ 0 the products are added onto C (a later block of k), the bias ignored.
 */
function gemmPackedBody(): { locals: [number, number][]; body: number[] } {
  const P = { a: 0, bp: 1, c: 2, M: 3, K: 4, N8: 5, sAi: 6, sAk: 7, bias: 8, ld: 9, more: 10 };
  const L = new Locals(11);
  const i = L.one(I32);
  const j = L.one(I32);
  const ap = L.one(I32);
  const p = L.one(I32);
  const pend = L.one(I32);
  const sp = L.one(I32);
  const strip = L.one(I32);
  const cp = L.one(I32);
  const m4 = L.one(I32);
  const lc = L.one(I32);
  const sA2 = L.one(I32);
  const sA3 = L.one(I32);
  const acc = L.take(V128, 8);
  const bv = L.take(V128, 2);
  const av = L.one(V128);
  const rowOff = [-1, P.sAi, sA2, sA3];

  /** The R×8 block at row i of the strip at sp (column j). */
  const block = (R: number): number[] => {
    const accs = acc.slice(0, R * 2);
    const perK: number[] = [];
    for (let q = 0; q < 2; q++) perK.push(...op.get(p), ...vload(16 * q), ...op.set(nth(bv, q)));
    for (let r = 0; r < R; r++) {
      perK.push(...op.get(ap));
      if (r > 0) perK.push(...op.get(nth(rowOff, r)), ...op.add);
      perK.push(...splatLoad(), ...op.set(av));
      for (let q = 0; q < 2; q++) {
        const x = nth(accs, r * 2 + q);
        perK.push(...op.get(x), ...op.get(av), ...op.get(nth(bv, q)), ...op.vmul, ...op.vadd);
        perK.push(...op.set(x));
      }
    }
    perK.push(...bump(ap, P.sAk));
    const stores: number[] = [];
    for (let r = 0; r < R; r++) {
      for (let q = 0; q < 2; q++) {
        stores.push(...op.get(cp));
        if (r > 0) stores.push(...op.get(lc), ...op.i32(r), ...op.mul, ...op.add);
        stores.push(...op.get(nth(accs, r * 2 + q)), ...vstore(16 * q));
      }
    }
    return [
      // ap = a + i*sAi; cp = c + (i*ld + j)*4
      ...op.get(P.a),
      ...op.get(i),
      ...op.get(P.sAi),
      ...op.mul,
      ...op.add,
      ...op.set(ap),
      ...setCellAddr(P.c, i, P.ld, j, cp),
      // acc = more ? C's block (a later k block adds on) : bias ? bias[j + 4q …] : 0
      ...accs.flatMap((x, n) => [
        ...op.get(cp),
        ...(n >= 2 ? [...op.get(lc), ...op.i32(n >> 1), ...op.mul, ...op.add] : []),
        ...vload(16 * (n % 2)),
        ...op.get(P.bias),
        ...op.get(j),
        ...op.i32(4),
        ...op.mul,
        ...op.add,
        ...vload(16 * (n % 2)),
        ...op.vzero,
        ...op.get(P.bias),
        ...op.select,
        ...op.get(P.more),
        ...op.select,
        ...op.set(x),
      ]),
      ...forLoop(p, op.get(sp), pend, 32, perK),
      ...stores,
    ];
  };

  const body = [
    ...setScaled(P.ld, 4, lc),
    ...setScaled(P.K, 32, strip),
    ...setFloorTo(P.M, 4, m4),
    ...setScaled(P.sAi, 2, sA2),
    ...setScaled(P.sAi, 3, sA3),
    ...op.get(P.bp),
    ...op.set(sp),
    ...forLoop(j, op.i32(0), P.N8, 8, [
      ...op.get(sp),
      ...op.get(strip),
      ...op.add,
      ...op.set(pend),
      ...forLoop(i, op.i32(0), m4, 4, block(4)),
      ...forLoop(i, op.get(m4), P.M, 1, block(1)),
      ...op.get(pend),
      ...op.set(sp),
    ]),
  ];
  return { locals: L.decls, body };
}

// ---- colsum(x, out, R, N): out[j] = Σ_i x[i, j] ------------------------------------------------
// A dense layer's bias gradient (column sums of dy [batch, width]); tfjs's Sum over axis 0
// transposes first. Rows are streamed, four columns per f32x4 accumulator.
function colsumBody(): { locals: [number, number][]; body: number[] } {
  const P = { x: 0, out: 1, R: 2, N: 3 };
  const L = new Locals(4);
  const i = L.one(I32);
  const j = L.one(I32);
  const p = L.one(I32);
  const n4 = L.one(I32);
  const nb = L.one(I32);
  const s = L.one(F32);
  const acc = L.one(V128);
  const column = (vector: boolean): number[] => [
    ...(vector ? op.vzero : op.f32const0),
    ...op.set(vector ? acc : s),
    // p = x + 4j, then down the column
    ...op.get(P.x),
    ...op.get(j),
    ...op.i32(4),
    ...op.mul,
    ...op.add,
    ...op.set(p),
    ...forLoop(i, op.i32(0), P.R, 1, [
      ...op.get(vector ? acc : s),
      ...op.get(p),
      ...(vector ? vload() : op.f32load),
      ...(vector ? op.vadd : op.f32add),
      ...op.set(vector ? acc : s),
      ...bump(p, nb),
    ]),
    ...op.get(P.out),
    ...op.get(j),
    ...op.i32(4),
    ...op.mul,
    ...op.add,
    ...op.get(vector ? acc : s),
    ...(vector ? vstore() : op.f32store),
  ];
  const body = [
    ...setScaled(P.N, 4, nb),
    ...setFloorTo(P.N, 4, n4),
    ...forLoop(j, op.i32(0), n4, 4, column(true)),
    ...forLoop(j, op.get(n4), P.N, 1, column(false)),
  ];
  return { locals: L.decls, body };
}

function gemmNTBody(): { locals: [number, number][]; body: number[] } {
  const P = { a: 0, bt: 1, c: 2, M: 3, K: 4, N: 5 };
  const L = new Locals(6);
  const i = L.one(I32);
  const j = L.one(I32);
  const k = L.one(I32);
  const k4 = L.one(I32);
  const kb = L.one(I32);
  const m2 = L.one(I32);
  const n4 = L.one(I32);
  const arow = L.one(I32);
  const brow = L.one(I32);
  const s = L.one(F32);
  const acc = L.take(V128, 8);
  const bv = L.take(V128, 4);
  const av = L.take(V128, 2);

  /** The R×C block of dot products at row i, column j. */
  const block = (R: number, C: number): number[] => {
    const perK: number[] = [];
    for (let r = 0; r < R; r++) {
      perK.push(...op.get(arow));
      if (r > 0) perK.push(...op.get(kb), ...op.add);
      perK.push(...op.get(k), ...op.add, ...vload(), ...op.set(nth(av, r)));
    }
    for (let q = 0; q < C; q++) {
      perK.push(...op.get(brow));
      if (q > 0) perK.push(...op.get(kb), ...op.i32(q), ...op.mul, ...op.add);
      perK.push(...op.get(k), ...op.add, ...vload(), ...op.set(nth(bv, q)));
      for (let r = 0; r < R; r++) {
        const x = nth(acc, r * C + q);
        perK.push(
          ...op.get(x),
          ...op.get(nth(av, r)),
          ...op.get(nth(bv, q)),
          ...op.vmul,
          ...op.vadd,
        );
        perK.push(...op.set(x));
      }
    }
    const finish: number[] = [];
    for (let r = 0; r < R; r++) {
      for (let q = 0; q < C; q++) {
        // s = lanes(acc) + Σ_{k ≥ k4} a[r,k]·bt[q,k]; c[(i+r)*N + j + q] = s
        const rowA = [...op.get(arow), ...(r > 0 ? [...op.get(kb), ...op.add] : [])];
        const rowB = [
          ...op.get(brow),
          ...(q > 0 ? [...op.get(kb), ...op.i32(q), ...op.mul, ...op.add] : []),
        ];
        finish.push(
          ...lanesSum(nth(acc, r * C + q)),
          ...op.set(s),
          ...forLoop(k, op.get(k4), kb, 4, [
            ...op.get(s),
            ...rowA,
            ...op.get(k),
            ...op.add,
            ...op.f32load,
            ...rowB,
            ...op.get(k),
            ...op.add,
            ...op.f32load,
            ...op.f32mul,
            ...op.f32add,
            ...op.set(s),
          ]),
          ...op.get(P.c),
          ...op.get(i),
          ...op.i32(r),
          ...op.add,
          ...op.get(P.N),
          ...op.mul,
          ...op.get(j),
          ...op.add,
          ...op.i32(4),
          ...op.mul,
          ...op.add,
          ...op.get(s),
          ...f32storeAt(4 * q),
        );
      }
    }
    return [
      // arow = a + i*K*4; brow = bt + j*K*4
      ...op.get(P.a),
      ...op.get(i),
      ...op.get(kb),
      ...op.mul,
      ...op.add,
      ...op.set(arow),
      ...op.get(P.bt),
      ...op.get(j),
      ...op.get(kb),
      ...op.mul,
      ...op.add,
      ...op.set(brow),
      ...acc.slice(0, R * C).flatMap((x) => [...op.vzero, ...op.set(x)]),
      ...forLoop(k, op.i32(0), k4, 16, perK),
      ...finish,
    ];
  };

  const rowBand = (R: number): number[] => [
    ...forLoop(j, op.i32(0), n4, 4, block(R, 4)),
    ...forLoop(j, op.get(n4), P.N, 1, block(R, 1)),
  ];

  const body = [
    // kb = K*4 (bytes per row); k4 = (K & ~3)*4 (bytes of the vector part)
    ...setScaled(P.K, 4, kb),
    ...op.get(P.K),
    ...op.i32(-4),
    ...op.andI,
    ...op.i32(4),
    ...op.mul,
    ...op.set(k4),
    ...setFloorTo(P.M, 2, m2),
    ...setFloorTo(P.N, 4, n4),
    ...forLoop(i, op.i32(0), m2, 2, rowBand(2)),
    ...forLoop(i, op.get(m2), P.M, 1, rowBand(1)),
  ];
  return { locals: L.decls, body };
}

/**
 * The kernel module's bytes. `shared`: import a shared memory (the backend's threaded build),
 * which WebAssembly requires to declare a maximum; the full 32-bit range admits any heap.
 */
export function simdModuleBytes(shared = false): Uint8Array {
  const gemm = gemmBody();
  const gemmNT = gemmNTBody();
  const colsum = colsumBody();
  const pack8 = pack8Body();
  const gemmPacked = gemmPackedBody();
  const bmmType = [0x60, ...vec(Array.from({ length: 9 }, () => [I32])), ...vec([])];
  const adamType = [
    0x60,
    ...vec([...Array.from({ length: 8 }, () => [I32]), ...Array.from({ length: 7 }, () => [F32])]),
    ...vec([]),
  ];
  const bytes = [
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(
      1,
      vec([
        bmmType,
        adamType,
        [0x60, ...vec([[I32], [I32], [I32], [F32]]), ...vec([])],
        [0x60, ...vec([[I32], [I32], [I32], [I32], [F32]]), ...vec([])],
        [0x60, ...vec(Array.from({ length: 10 }, () => [I32])), ...vec([])],
        [0x60, ...vec(Array.from({ length: 6 }, () => [I32])), ...vec([])],
        [0x60, ...vec(Array.from({ length: 4 }, () => [I32])), ...vec([])],
        [0x60, ...vec(Array.from({ length: 5 }, () => [I32])), ...vec([])],
        [0x60, ...vec(Array.from({ length: 11 }, () => [I32])), ...vec([])],
      ]),
    ),
    ...section(
      2,
      vec([
        [
          ...name('env'),
          ...name('memory'),
          0x02,
          ...(shared ? [0x03, ...uleb(1), ...uleb(65536)] : [0x00, ...uleb(1)]),
        ],
      ]),
    ),
    ...section(
      3,
      vec([
        uleb(0),
        uleb(1),
        uleb(0),
        uleb(2),
        uleb(3),
        uleb(4),
        uleb(5),
        uleb(6),
        uleb(7),
        uleb(8),
      ]),
    ),
    ...section(
      7,
      vec([
        [...name('bmm'), 0x00, ...uleb(0)],
        [...name('adam'), 0x00, ...uleb(1)],
        [...name('bmmt'), 0x00, ...uleb(2)],
        [...name('leaky'), 0x00, ...uleb(3)],
        [...name('leakyGrad'), 0x00, ...uleb(4)],
        [...name('gemm'), 0x00, ...uleb(5)],
        [...name('gemmNT'), 0x00, ...uleb(6)],
        [...name('colsum'), 0x00, ...uleb(7)],
        [...name('pack8'), 0x00, ...uleb(8)],
        [...name('gemmPacked'), 0x00, ...uleb(9)],
      ]),
    ),
    ...section(
      10,
      vec([
        func(
          [
            [12, I32],
            [5, V128],
            [1, F32],
          ],
          bmmBody(),
        ),
        func(
          [
            [3, I32],
            [5, F32],
            [3, V128],
          ],
          adamBody(),
        ),
        func(
          [
            [9, I32],
            [1, V128],
            [1, F32],
          ],
          bmmtBody(),
        ),
        func([[3, I32]], leakyBody(false)),
        func([[3, I32]], leakyBody(true)),
        func(gemm.locals, gemm.body),
        func(gemmNT.locals, gemmNT.body),
        func(colsum.locals, colsum.body),
        func(pack8.locals, pack8.body),
        func(gemmPacked.locals, gemmPacked.body),
      ]),
    ),
  ];
  return new Uint8Array(bytes);
}

/** The instantiated kernels, bound to one WasmMemory. */
export interface SimdKernels {
  bmm(
    a: number,
    b: number,
    c: number,
    batch: number,
    rows: number,
    inner: number,
    cols: number,
    aStride: number,
    bStride: number,
  ): void;
  adam(
    w: number,
    m: number,
    v: number,
    g: number,
    ow: number,
    om: number,
    ov: number,
    n: number,
    lr: number,
    b1: number,
    b2: number,
    c1: number,
    c2: number,
    eps: number,
    decay: number,
  ): void;
  /** C[b] = A[b]·Bt[b]ᵀ with Bt [batch or 1, cols, inner]: the dot-product form for few columns. */
  bmmt(
    a: number,
    bt: number,
    c: number,
    batch: number,
    rows: number,
    inner: number,
    cols: number,
    aStride: number,
    bStride: number,
  ): void;
  leaky(x: number, out: number, n: number, alpha: number): void;
  leakyGrad(x: number, dy: number, out: number, n: number, alpha: number): void;
  /**
   * C[M, N] = A·B with B row-major [K, N] and A(i, k) read at a + i·sAi + k·sAk (bytes): sAi = 4K,
   * sAk = 4 for A [M, K]; sAi = 4, sAk = 4M for A given transposed as [K, M]. `bias`: address of
   * N floats added to every row, or 0 for none. `ld`: the row length (floats) of B and C, N for
   * whole matrices, more for a band of columns of wider ones.
   */
  gemm(
    a: number,
    b: number,
    c: number,
    rows: number,
    inner: number,
    cols: number,
    sAi: number,
    sAk: number,
    bias: number,
    ld: number,
  ): void;
  /** Copy B's first n8 (a multiple of 8) columns, rows `ld` floats long, into [n8/8][K][8] strips. */
  pack8(b: number, bp: number, inner: number, n8: number, ld: number): void;
  /**
   * gemm's C[:, 0..n8] from pack8's strips of B; C and bias rows `ld` floats long. `more` ≠ 0:
   * add onto C (a later block of k) instead of starting at the bias or zero.
   */
  gemmPacked(
    a: number,
    bp: number,
    c: number,
    rows: number,
    inner: number,
    n8: number,
    sAi: number,
    sAk: number,
    bias: number,
    ld: number,
    more: number,
  ): void;
  /** C[M, N] = A·Btᵀ with A [M, K] and Bt [N, K]. */
  gemmNT(a: number, bt: number, c: number, rows: number, inner: number, cols: number): void;
  /** out[j] = Σ_i x[i, j] for x [rows, cols]. */
  colsum(x: number, out: number, rows: number, cols: number): void;
}

const instances = new WeakMap<WasmMemory, SimdKernels>();

/** The kernels for a memory (instantiated synchronously on first use: the module is tiny). */
export function simdKernels(memory: WasmMemory): SimdKernels {
  const cached = instances.get(memory);
  if (cached) return cached;
  const shared =
    typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  const module = new WA.Module(simdModuleBytes(shared));
  const instance = new WA.Instance(module, { env: { memory } });
  const ex = instance.exports;
  const fn = <K extends keyof SimdKernels>(key: K): SimdKernels[K] => {
    const f = ex[key];
    if (typeof f !== 'function') throw new Error(`simd kernels: export '${key}' missing`);
    return f as SimdKernels[K];
  };
  const kernels: SimdKernels = {
    bmm: fn('bmm'),
    adam: fn('adam'),
    bmmt: fn('bmmt'),
    leaky: fn('leaky'),
    leakyGrad: fn('leakyGrad'),
    gemm: fn('gemm'),
    gemmNT: fn('gemmNT'),
    colsum: fn('colsum'),
    pack8: fn('pack8'),
    gemmPacked: fn('gemmPacked'),
  };
  instances.set(memory, kernels);
  return kernels;
}

// ---- use from tfjs kernels -------------------------------------------------------------------

/**
 * The parts of tfjs-backend-wasm's BackendWasm the kernels use. The heap is the module's exported
 * memory in the stock build, and the imported shared `wasmMemory` in the threaded one.
 */
interface WasmBackendLike {
  readonly wasm: {
    readonly asm: { readonly memory?: WasmMemory };
    readonly wasmMemory?: WasmMemory;
  };
  readonly dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(
    shape: number[],
    dtype: 'float32' | 'int32',
  ): { dataId: object; shape: number[]; dtype: string };
  disposeData(dataId: object): unknown;
}

function isWasmBackend(b: unknown): b is WasmBackendLike {
  if (typeof b !== 'object' || b === null) return false;
  const w = (b as { wasm?: { asm?: { memory?: unknown }; wasmMemory?: unknown } }).wasm;
  return (
    (w?.asm?.memory ?? w?.wasmMemory) instanceof WA.Memory &&
    typeof (b as { makeOutput?: unknown }).makeOutput === 'function' &&
    typeof (b as { disposeData?: unknown }).disposeData === 'function' &&
    typeof (b as { dataIdMap?: { get?: unknown } }).dataIdMap?.get === 'function'
  );
}

/** The wasm backend seen through the kernels' needs, or an error naming what is missing. */
export function wasmBackendOf(b: unknown): WasmBackendLike {
  if (!isWasmBackend(b)) throw new Error('simd kernels need the tfjs wasm backend');
  return b;
}

/** The backend's heap: read `.buffer` after every allocation, which may grow (replace) it. */
export function heapMemory(backend: WasmBackendLike): WasmMemory {
  const memory = backend.wasm.asm.memory ?? backend.wasm.wasmMemory;
  if (!memory) throw new Error('simd kernels: the wasm backend has no memory');
  return memory;
}

/** Byte address of a tensor's data in the wasm heap. */
export function heapAddress(backend: WasmBackendLike, t: { dataId: object }): number {
  const info = backend.dataIdMap.get(t.dataId);
  if (!info) throw new Error('simd kernels: tensor data is not on the wasm backend');
  return info.memoryOffset;
}

/** Name of the fused Adam kernel (registered for wasm by installWasmKernels). */
export const FUSED_ADAM = 'D2nwgAdam';

function numAttr(attrs: Record<string, unknown> | undefined, key: string): number {
  const v = attrs?.[key];
  if (typeof v !== 'number') throw new Error(`${FUSED_ADAM}: attribute '${key}' missing`);
  return v;
}

/**
 * FUSED_ADAM's inputs {w, m, v, g}, checked: all present, float32, one size `n` (any shapes).
 * Shared by the wasm and webgpu kernels.
 */
export function adamInputs<T extends { shape: number[]; dtype: string }>(
  inputs: Record<string, T | undefined>,
): { w: T; m: T; v: T; g: T; n: number } {
  const { w, m, v, g } = inputs;
  if (!w || !m || !v || !g) throw new Error(`${FUSED_ADAM}: inputs w, m, v, g are required`);
  const n = w.shape.reduce((p, d) => p * d, 1);
  for (const t of [w, m, v, g]) {
    if (t.shape.reduce((p, d) => p * d, 1) !== n || t.dtype !== 'float32') {
      throw new Error(`${FUSED_ADAM}: inputs must be float32 of one size`);
    }
  }
  return { w, m, v, g, n };
}

/**
 * The fused Adam kernel on wasm: inputs {w, m, v, g} (float32, one shape), attrs {lr, beta1,
 * beta2, c1, c2, epsilon, decay} (c1 = 1 − β1ᵗ, c2 = 1 − β2ᵗ, decay = lr·weightDecay, optional);
 * outputs [w', m', v'].
 */
export function fusedAdamWasm(args: {
  inputs: Record<string, { dataId: object; shape: number[]; dtype: string } | undefined>;
  backend: unknown;
  attrs?: Record<string, unknown>;
}): { dataId: object; shape: number[]; dtype: string }[] {
  const backend = wasmBackendOf(args.backend);
  const { w, m, v, g, n } = adamInputs(args.inputs);
  const outs = [0, 1, 2].map(() => backend.makeOutput([...w.shape], 'float32'));
  const attrs = args.attrs;
  simdKernels(heapMemory(backend)).adam(
    heapAddress(backend, w),
    heapAddress(backend, m),
    heapAddress(backend, v),
    heapAddress(backend, g),
    heapAddress(backend, outs[0]),
    heapAddress(backend, outs[1]),
    heapAddress(backend, outs[2]),
    n,
    numAttr(attrs, 'lr'),
    numAttr(attrs, 'beta1'),
    numAttr(attrs, 'beta2'),
    numAttr(attrs, 'c1'),
    numAttr(attrs, 'c2'),
    numAttr(attrs, 'epsilon'),
    typeof attrs?.decay === 'number' ? attrs.decay : 0,
  );
  return outs;
}

/** Name of the model-batch matmul kernel (registered for wasm by installWasmKernels). */
export const SIMD_BMM = 'D2nwgBatchMatMul';

type KernelTensor = { dataId: object; shape: number[]; dtype: string };

/**
 * C[i] = A[i]·B[i] over a leading batch axis, for rank-3 float32 operands ([batch or 1, r, k] and
 * [batch or 1, k, c]); a batch of 1 on either side is broadcast. The same loop for any batch
 * size, so a model gets the same bits alone or in a batch of a thousand.
 */
export function simdBatchMatMulWasm(
  args: {
    inputs: Record<string, KernelTensor | undefined>;
    backend: unknown;
  },
  /** Given B's transpose [batch or 1, cols, inner] (then the dot-product kernel runs). */
  bTransposed?: KernelTensor,
): KernelTensor {
  const backend = wasmBackendOf(args.backend);
  const { a, b } = args.inputs;
  if (!a || !b || a.shape.length !== 3 || b.shape.length !== 3) {
    throw new Error(`${SIMD_BMM}: needs rank-3 operands a and b`);
  }
  const [ba, rows, inner] = a.shape;
  const [bb, inner2, cols] = b.shape;
  if (inner !== inner2 || (ba !== bb && ba !== 1 && bb !== 1)) {
    throw new Error(
      `${SIMD_BMM}: shapes [${a.shape.join(', ')}] and [${b.shape.join(', ')}] do not multiply`,
    );
  }
  if (a.dtype !== 'float32' || b.dtype !== 'float32') throw new Error(`${SIMD_BMM}: float32 only`);
  const out = backend.makeOutput([Math.max(ba, bb), rows, cols], 'float32');
  runBatchMatMul(
    backend,
    { a, b: bTransposed ?? b, out, ba, bb, rows, inner, cols },
    !!bTransposed,
  );
  return out;
}

/**
 * Run the batched product into `out` ([max(ba, bb), rows, cols] values): A is [ba, rows, inner],
 * B is [bb, inner, cols] (or, with `transposed`, [bb, cols, inner]); a batch of 1 broadcasts.
 */
export function runBatchMatMul(
  backend: WasmBackendLike,
  t: {
    a: KernelTensor;
    b: KernelTensor;
    out: KernelTensor;
    ba: number;
    bb: number;
    rows: number;
    inner: number;
    cols: number;
  },
  transposed = false,
): void {
  const batch = Math.max(t.ba, t.bb);
  if (batch * t.rows * t.cols === 0) return;
  const k = simdKernels(heapMemory(backend));
  (transposed ? k.bmmt : k.bmm)(
    heapAddress(backend, t.a),
    heapAddress(backend, t.b),
    heapAddress(backend, t.out),
    batch,
    t.rows,
    t.inner,
    t.cols,
    t.ba === 1 ? 0 : t.rows * t.inner * 4,
    t.bb === 1 ? 0 : t.inner * t.cols * 4,
  );
}

/**
 * One 2-D product into `out` ([rows, cols]) in the register-blocked kernels: A is [rows, inner]
 * (transposeA: [inner, rows]), B is [inner, cols] (transposeB: [cols, inner]); not both transposed.
 */
export function runGemm(
  backend: WasmBackendLike,
  t: {
    a: KernelTensor;
    b: KernelTensor;
    out: KernelTensor;
    rows: number;
    inner: number;
    cols: number;
    transposeA: boolean;
    transposeB: boolean;
    /** [cols] added to every row (not with transposeB). */
    bias?: KernelTensor;
    /** Pack B into strips first (gemmPacked); default: gemmPacks' rule. Not with transposeB. */
    pack?: boolean;
    /** Rows of B per packed block (k blocking); default GEMM_KC. */
    kc?: number;
    /** Columns of B per packed block (n blocking, a multiple of 8); default GEMM_NC. */
    nc?: number;
  },
): void {
  if (t.transposeA && t.transposeB) throw new Error('gemm: A and B both transposed');
  if (t.bias && t.transposeB) throw new Error('gemm: a bias with B transposed');
  if (t.pack && t.transposeB) throw new Error('gemm: packing with B transposed');
  if (t.rows * t.cols === 0) return;
  const { rows, inner, cols } = t;
  const n8 = cols & ~7;
  const pack = !t.transposeB && n8 > 0 && inner > 0 && (t.pack ?? gemmPacks(rows, inner, cols));
  if (t.kc !== undefined && !(Number.isInteger(t.kc) && t.kc >= 1))
    throw new Error(`gemm: bad k block ${t.kc}`);
  const kc = Math.max(1, Math.min(inner, t.kc ?? GEMM_KC));
  if (t.nc !== undefined && !(Number.isInteger(t.nc) && t.nc >= 8 && t.nc % 8 === 0))
    throw new Error(`gemm: bad n block ${t.nc} (a multiple of 8 wanted)`);
  const nc = Math.min(n8, t.nc ?? GEMM_NC);
  // The strips' buffer first: allocating may grow the heap, so addresses are read after it.
  const strips = pack ? backend.makeOutput([kc * nc], 'float32') : null;
  try {
    const k = simdKernels(heapMemory(backend));
    const a = heapAddress(backend, t.a);
    const b = heapAddress(backend, t.b);
    const c = heapAddress(backend, t.out);
    const bias = t.bias ? heapAddress(backend, t.bias) : 0;
    // inner = 0 needs no case: every block stores its zeroed accumulators.
    if (t.transposeB) {
      k.gemmNT(a, b, c, rows, inner, cols);
      return;
    }
    const [sAi, sAk] = t.transposeA ? [4, 4 * rows] : [4 * inner, 4];
    if (strips === null) {
      k.gemm(a, b, c, rows, inner, cols, sAi, sAk, bias, cols);
      return;
    }
    // Blocks of kc rows × nc columns of B (the strips' buffer, ≤ 4 MB): a block's strips
    // (32·kc bytes each) stay in L1 while the bands of a block of GEMM_MC rows of A (≤ 256 KB,
    // in L2) pass over them; later k blocks add onto C, in the same order of additions as gemm.
    const bp = heapAddress(backend, strips);
    for (let j0 = 0; j0 < n8; j0 += nc) {
      const nn = Math.min(nc, n8 - j0);
      for (let k0 = 0; k0 < inner; k0 += kc) {
        const kk = Math.min(kc, inner - k0);
        k.pack8(b + 4 * (k0 * cols + j0), bp, kk, nn, cols);
        for (let i0 = 0; i0 < rows; i0 += GEMM_MC) {
          const mm = Math.min(GEMM_MC, rows - i0);
          const [ai, ci] = [a + k0 * sAk + i0 * sAi, c + 4 * (i0 * cols + j0)];
          const bj = bias && bias + 4 * j0;
          k.gemmPacked(ai, bp, ci, mm, kk, nn, sAi, sAk, bj, cols, k0 > 0 ? 1 : 0);
        }
      }
    }
    if (n8 < cols) {
      const off = 4 * n8;
      k.gemm(a, b + off, c + off, rows, inner, cols - n8, sAi, sAk, bias && bias + off, cols);
    }
  } finally {
    if (strips) backend.disposeData(strips.dataId);
  }
}

/**
 * Whether runGemm packs B (A·B and Aᵀ·B), measured packed against unpacked, alternating, on this
 * 2-core machine under load: a B past GEMM_PACK_MIN_B_BYTES went 1.1–1.4× faster packed at the
 * VAE's [64, 1733]·[1733, 256] and [64, 256]·[256, 1733], 2–4× at [256, 1024]·[1024, 1024] and
 * [256, 4096]·[4096, 1024]; smaller ones (in L2 already) lost up to 2× to the pass over B. With
 * fewer than GEMM_PACK_MIN_ROWS rows of A the pass over B is not paid back.
 */
export function gemmPacks(rows: number, inner: number, cols: number): boolean {
  return inner * cols * 4 > GEMM_PACK_MIN_B_BYTES && rows >= GEMM_PACK_MIN_ROWS && cols >= 8;
}

export const GEMM_PACK_MIN_B_BYTES = 512 << 10;
export const GEMM_PACK_MIN_ROWS = 8;
/** Rows of B per packed block: 8 KB strips, inside L1 with the band of A they meet. */
export const GEMM_KC = 256;
/** Rows of A per block under one packed k block (a multiple of 4, the register block's rows). */
export const GEMM_MC = 256;
/**
 * Columns of B per packed block: bounds the strips' buffer at GEMM_KC·GEMM_NC floats (4 MB), where
 * the large workload's [1024, 20000] decoder weight would otherwise take 20 MB a call.
 */
export const GEMM_NC = 4096;

/** Names of the dense-layer kernels (registered for wasm by installWasmKernels). */
export const DENSE = 'D2nwgDense';
export const COLSUM = 'D2nwgColSum';

/** x·w + b in one pass: inputs {x [rows, inner], w [inner, cols], b [cols]}, float32. */
export function denseWasm(args: {
  inputs: Record<string, KernelTensor | undefined>;
  backend: unknown;
}): KernelTensor {
  const backend = wasmBackendOf(args.backend);
  const { x, w, b } = args.inputs;
  const [rows, inner] = x?.shape ?? [];
  const [inner2, cols] = w?.shape ?? [];
  if (
    !x ||
    !w ||
    !b ||
    x.shape.length !== 2 ||
    w.shape.length !== 2 ||
    rows === undefined ||
    inner === undefined ||
    cols === undefined ||
    inner !== inner2 ||
    b.shape.join() !== `${cols}` ||
    [x, w, b].some((t) => t.dtype !== 'float32')
  ) {
    throw new Error(
      `${DENSE}: needs float32 x [r, k], w [k, c], b [c]; got [${x?.shape.join(', ')}], ` +
        `[${w?.shape.join(', ')}], [${b?.shape.join(', ')}]`,
    );
  }
  const out = backend.makeOutput([rows, cols], 'float32');
  runGemm(backend, {
    a: x,
    b: w,
    out,
    rows,
    inner,
    cols,
    transposeA: false,
    transposeB: false,
    bias: b,
  });
  return out;
}

/** Column sums of a float32 matrix: inputs {x [rows, cols]} → [cols]. */
export function colSumWasm(args: {
  inputs: Record<string, KernelTensor | undefined>;
  backend: unknown;
}): KernelTensor {
  const backend = wasmBackendOf(args.backend);
  const { x } = args.inputs;
  const [rows, cols] = x?.shape ?? [];
  if (
    !x ||
    x.dtype !== 'float32' ||
    rows === undefined ||
    cols === undefined ||
    x.shape.length !== 2
  )
    throw new Error(`${COLSUM}: needs a float32 matrix x, got [${x?.shape.join(', ')}]`);
  const out = backend.makeOutput([cols], 'float32');
  if (cols > 0) {
    simdKernels(heapMemory(backend)).colsum(
      heapAddress(backend, x),
      heapAddress(backend, out),
      rows,
      cols,
    );
  }
  return out;
}

/** Names of the layer-norm kernels (registered for wasm by installWasmKernels). */
export const LAYER_NORM = 'D2nwgLayerNorm';
export const LAYER_NORM_GRAD = 'D2nwgLayerNormGrad';

function matrixOf(t: KernelTensor | undefined, what: string, kernel: string): [number, number] {
  const [r, c] = t?.shape ?? [];
  if (!t || t.dtype !== 'float32' || t.shape.length !== 2 || r === undefined || c === undefined)
    throw new Error(`${kernel}: ${what} must be a float32 matrix, got [${t?.shape.join(', ')}]`);
  return [r, c];
}

function vectorOf(
  t: KernelTensor | undefined,
  n: number,
  what: string,
  kernel: string,
): KernelTensor {
  if (!t || t.dtype !== 'float32' || t.shape.join() !== `${n}`)
    throw new Error(`${kernel}: ${what} must be float32 [${n}], got [${t?.shape.join(', ')}]`);
  return t;
}

/**
 * Layer norm over the last axis in one pass per row: inputs {x [R, C], g [C], b [C]}, attrs
 * {epsilon}; outputs [y = x̂·g + b, x̂ = (x − mean)·rstd, rstd [R] = 1/√(var + ε)] (x̂ and rstd
 * are what the gradient needs). tfjs spends 9 kernels forward and ~20 backward on this formula;
 * the rows are short (a layer's width), so plain loops over heap views, sums in float64.
 */
export function layerNormWasm(args: {
  inputs: Record<string, KernelTensor | undefined>;
  backend: unknown;
  attrs?: Record<string, unknown>;
}): KernelTensor[] {
  const backend = wasmBackendOf(args.backend);
  const [R, C] = matrixOf(args.inputs.x, 'x', LAYER_NORM);
  const x = args.inputs.x as KernelTensor;
  const g = vectorOf(args.inputs.g, C, 'g', LAYER_NORM);
  const b = vectorOf(args.inputs.b, C, 'b', LAYER_NORM);
  const eps = args.attrs?.epsilon;
  if (typeof eps !== 'number' || !(eps >= 0))
    throw new Error(`${LAYER_NORM}: attribute epsilon must be a number ≥ 0`);
  const y = backend.makeOutput([R, C], 'float32');
  const xhat = backend.makeOutput([R, C], 'float32');
  const rstd = backend.makeOutput([R], 'float32');
  // Views after every makeOutput: an allocation may grow (and so detach) the heap.
  const buf = heapMemory(backend).buffer;
  const xv = new Float32Array(buf, heapAddress(backend, x), R * C);
  const gv = new Float32Array(buf, heapAddress(backend, g), C);
  const bv = new Float32Array(buf, heapAddress(backend, b), C);
  const yv = new Float32Array(buf, heapAddress(backend, y), R * C);
  const hv = new Float32Array(buf, heapAddress(backend, xhat), R * C);
  const rv = new Float32Array(buf, heapAddress(backend, rstd), R);
  for (let r = 0, o = 0; r < R; r++, o += C) {
    let sum = 0;
    for (let c = 0; c < C; c++) sum += xv[o + c] ?? 0;
    const mean = sum / C;
    let sq = 0;
    for (let c = 0; c < C; c++) {
      const d = (xv[o + c] ?? 0) - mean;
      sq += d * d;
    }
    const rs = 1 / Math.sqrt(sq / C + eps);
    rv[r] = rs;
    for (let c = 0; c < C; c++) {
      const h = ((xv[o + c] ?? 0) - mean) * rs;
      hv[o + c] = h;
      yv[o + c] = h * (gv[c] ?? 0) + (bv[c] ?? 0);
    }
  }
  return [y, xhat, rstd];
}

/**
 * The layer norm's gradient: inputs {dy, xhat [R, C], rstd [R], g [C]}; outputs [dx, dg, db] with
 * dx = rstd·(gdy − mean(gdy) − x̂·mean(gdy·x̂)) per row (gdy = g·dy), dg = Σ_rows dy·x̂,
 * db = Σ_rows dy.
 */
export function layerNormGradWasm(args: {
  inputs: Record<string, KernelTensor | undefined>;
  backend: unknown;
}): KernelTensor[] {
  const backend = wasmBackendOf(args.backend);
  const [R, C] = matrixOf(args.inputs.xhat, 'xhat', LAYER_NORM_GRAD);
  const [R2, C2] = matrixOf(args.inputs.dy, 'dy', LAYER_NORM_GRAD);
  if (R2 !== R || C2 !== C) throw new Error(`${LAYER_NORM_GRAD}: dy and xhat differ in shape`);
  const dy = args.inputs.dy as KernelTensor;
  const xhat = args.inputs.xhat as KernelTensor;
  const rstd = vectorOf(args.inputs.rstd, R, 'rstd', LAYER_NORM_GRAD);
  const g = vectorOf(args.inputs.g, C, 'g', LAYER_NORM_GRAD);
  const dx = backend.makeOutput([R, C], 'float32');
  const dg = backend.makeOutput([C], 'float32');
  const db = backend.makeOutput([C], 'float32');
  const buf = heapMemory(backend).buffer;
  const dyv = new Float32Array(buf, heapAddress(backend, dy), R * C);
  const hv = new Float32Array(buf, heapAddress(backend, xhat), R * C);
  const rv = new Float32Array(buf, heapAddress(backend, rstd), R);
  const gv = new Float32Array(buf, heapAddress(backend, g), C);
  const dxv = new Float32Array(buf, heapAddress(backend, dx), R * C);
  const dgAcc = new Float64Array(C);
  const dbAcc = new Float64Array(C);
  for (let r = 0, o = 0; r < R; r++, o += C) {
    let s1 = 0;
    let s2 = 0;
    for (let c = 0; c < C; c++) {
      const d = dyv[o + c] ?? 0;
      const h = hv[o + c] ?? 0;
      const gd = (gv[c] ?? 0) * d;
      s1 += gd;
      s2 += gd * h;
      dgAcc[c] = (dgAcc[c] ?? 0) + d * h;
      dbAcc[c] = (dbAcc[c] ?? 0) + d;
    }
    const m1 = s1 / C;
    const m2 = s2 / C;
    const rs = rv[r] ?? 0;
    for (let c = 0; c < C; c++) {
      dxv[o + c] = rs * ((gv[c] ?? 0) * (dyv[o + c] ?? 0) - m1 - (hv[o + c] ?? 0) * m2);
    }
  }
  new Float32Array(buf, heapAddress(backend, dg), C).set(dgAcc);
  new Float32Array(buf, heapAddress(backend, db), C).set(dbAcc);
  return [dx, dg, db];
}

/** Names of the leaky-ReLU kernels (registered for wasm by installWasmKernels). */
export const SIMD_LEAKY = 'D2nwgLeakyRelu';
export const SIMD_LEAKY_GRAD = 'D2nwgLeakyReluGrad';

/** out = x > 0 ? x : alpha·x (inputs {x}, attrs {alpha}). */
export function simdLeakyWasm(args: {
  inputs: Record<string, KernelTensor | undefined>;
  backend: unknown;
  attrs?: Record<string, unknown>;
}): KernelTensor {
  const backend = wasmBackendOf(args.backend);
  const { x } = args.inputs;
  if (!x || x.dtype !== 'float32') throw new Error(`${SIMD_LEAKY}: needs a float32 input x`);
  const out = backend.makeOutput([...x.shape], 'float32');
  const n = x.shape.reduce((p, d) => p * d, 1);
  simdKernels(heapMemory(backend)).leaky(
    heapAddress(backend, x),
    heapAddress(backend, out),
    n,
    numAttr(args.attrs, 'alpha'),
  );
  return out;
}

/** The gradient: out = x > 0 ? dy : alpha·dy (inputs {x, dy}, attrs {alpha}). */
export function simdLeakyGradWasm(args: {
  inputs: Record<string, KernelTensor | undefined>;
  backend: unknown;
  attrs?: Record<string, unknown>;
}): KernelTensor {
  const backend = wasmBackendOf(args.backend);
  const { x, dy } = args.inputs;
  if (!x || !dy || x.dtype !== 'float32' || dy.dtype !== 'float32') {
    throw new Error(`${SIMD_LEAKY_GRAD}: needs float32 inputs x and dy`);
  }
  const n = x.shape.reduce((p, d) => p * d, 1);
  if (dy.shape.reduce((p, d) => p * d, 1) !== n) {
    throw new Error(`${SIMD_LEAKY_GRAD}: x and dy differ in size`);
  }
  const out = backend.makeOutput([...x.shape], 'float32');
  simdKernels(heapMemory(backend)).leakyGrad(
    heapAddress(backend, x),
    heapAddress(backend, dy),
    heapAddress(backend, out),
    n,
    numAttr(args.attrs, 'alpha'),
  );
  return out;
}

export const SOFTMAX_CE = 'D2nwgSoftmaxCE';

/**
 * Softmax cross-entropy of a model batch in one pass over the logits, on the wasm heap:
 * inputs {logits [M, B, K] float32, labels [M, B] int32}; outputs [loss [M] (mean over the B
 * rows), correct [M] (rows whose argmax, first maximum on ties, is the label), and, when
 * attrs.withGrad, grad [M, B, K] = (softmax − onehot) / B, the gradient of loss]. tfjs spends
 * ~20 kernels on this (logSoftmax, one-hot, argMax, reductions), each a separate pass with its own
 * dispatch; here K is small (a task's classes), so the rows are plain JS loops over heap views.
 * Labels outside 0..K−1 are refused before anything is allocated.
 */
export function softmaxCrossEntropyWasm(args: {
  inputs: Record<string, KernelTensor | undefined>;
  backend: unknown;
  attrs?: Record<string, unknown>;
}): KernelTensor[] {
  const backend = wasmBackendOf(args.backend);
  const { logits, labels } = args.inputs;
  if (!logits || logits.dtype !== 'float32' || logits.shape.length !== 3) {
    throw new Error(`${SOFTMAX_CE}: needs float32 logits [M, B, K]`);
  }
  const [M, B, K] = logits.shape as [number, number, number];
  if (!labels || labels.dtype !== 'int32' || labels.shape.join() !== `${M},${B}`) {
    throw new Error(`${SOFTMAX_CE}: needs int32 labels [${M}, ${B}]`);
  }
  const withGrad = args.attrs?.withGrad === true;
  // Labels first, before anything is allocated: one outside 0..K−1 would index past its row.
  const y0 = new Int32Array(heapMemory(backend).buffer, heapAddress(backend, labels), M * B);
  for (let r = 0; r < M * B; r++) {
    if (!(y0[r] >= 0 && y0[r] < K)) {
      throw new Error(`${SOFTMAX_CE}: label ${y0[r]} outside 0..${K - 1}`);
    }
  }
  const loss = backend.makeOutput([M], 'float32');
  const correct = backend.makeOutput([M], 'float32');
  const grad = withGrad ? backend.makeOutput([M, B, K], 'float32') : null;
  // Views after every makeOutput: an allocation may grow (and so detach) the heap.
  const buf = heapMemory(backend).buffer;
  const z = new Float32Array(buf, heapAddress(backend, logits), M * B * K);
  const y = new Int32Array(buf, heapAddress(backend, labels), M * B);
  const lossV = new Float32Array(buf, heapAddress(backend, loss), M);
  const corrV = new Float32Array(buf, heapAddress(backend, correct), M);
  const g = grad ? new Float32Array(buf, heapAddress(backend, grad), M * B * K) : null;
  const invB = 1 / B;
  const exps = new Float64Array(K);
  for (let m = 0; m < M; m++) {
    let sum = 0;
    let hits = 0;
    for (let r = m * B, end = r + B; r < end; r++) {
      const o = r * K;
      const label = y[r];
      let max = z[o];
      let arg = 0;
      for (let k = 1; k < K; k++) {
        if (z[o + k] > max) {
          max = z[o + k];
          arg = k;
        }
      }
      let s = 0;
      for (let k = 0; k < K; k++) {
        const e = Math.exp(z[o + k] - max);
        exps[k] = e;
        s += e;
      }
      sum += Math.log(s) - (z[o + label] - max);
      if (arg === label) hits++;
      if (g) {
        const scale = invB / s;
        for (let k = 0; k < K; k++) g[o + k] = exps[k] * scale;
        g[o + label] -= invB;
      }
    }
    lossV[m] = sum * invB;
    corrV[m] = hits;
  }
  return grad ? [loss, correct, grad] : [loss, correct];
}
