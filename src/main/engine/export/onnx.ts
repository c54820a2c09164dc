/**
 * ONNX export (opset 13, IR version 8), written without a protobuf library: ModelProto needs only
 * varints, fixed32 floats and length-delimited fields, so a small writer covers it. The graph is
 * the self-contained model: the feature pipeline (Mul, Sub, MatMul, Mul with the `features.*`
 * initializers), then the classifier (Gemm + activation per MLP layer; for a CNN Reshape,
 * Transpose to NCHW, Conv with TF 'same' pads, activation, ReduceMean, Gemm). Initializer names
 * and shapes are those of the safetensors export (PyTorch state dict); float32 as raw_data.
 * Field numbers are from onnx/onnx.proto3.
 */
import type { Layout } from '../nn/architecture.ts';
import { LEAKY_RELU_SLOPE } from '../nn/forward.ts';
import { featureTensors, rawDim, type ExportFeatures } from './features.ts';
import { toTorchStateDict } from './torch.ts';

/** Protobuf message under construction: fields appended in order. */
class Msg {
  private readonly parts: Uint8Array[] = [];
  private static varint(v: number | bigint): Uint8Array {
    let n = BigInt.asUintN(64, BigInt(v));
    const out: number[] = [];
    do {
      let b = Number(n & 0x7fn);
      n >>= 7n;
      if (n > 0n) b |= 0x80;
      out.push(b);
    } while (n > 0n);
    return Uint8Array.from(out);
  }
  private key(field: number, wire: number): void {
    this.parts.push(Msg.varint((field << 3) | wire));
  }
  int(field: number, v: number): this {
    this.key(field, 0);
    this.parts.push(Msg.varint(v));
    return this;
  }
  float(field: number, v: number): this {
    this.key(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.parts.push(b);
    return this;
  }
  bytes(field: number, data: Uint8Array): this {
    this.key(field, 2);
    this.parts.push(Msg.varint(data.length), data);
    return this;
  }
  str(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }
  msg(field: number, m: Msg): this {
    return this.bytes(field, m.encode());
  }
  encode(): Uint8Array {
    const len = this.parts.reduce((a, p) => a + p.length, 0);
    const out = new Uint8Array(len);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

const FLOAT = 1;
const INT64 = 7;
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_INTS = 7;

type Attr = { name: string } & ({ f: number } | { i: number } | { ints: readonly number[] });

function tensorProto(name: string, dims: readonly number[], data: Float32Array): Msg {
  const t = new Msg();
  for (const d of dims) t.int(1, d);
  t.int(2, FLOAT).str(8, name);
  const raw = new Uint8Array(data.length * 4);
  const dv = new DataView(raw.buffer);
  data.forEach((v, i) => dv.setFloat32(i * 4, v, true));
  return t.bytes(9, raw);
}

function int64Tensor(name: string, values: readonly number[]): Msg {
  const t = new Msg().int(1, values.length).int(2, INT64).str(8, name);
  const raw = new Uint8Array(values.length * 8);
  const dv = new DataView(raw.buffer);
  values.forEach((v, i) => dv.setBigInt64(i * 8, BigInt(v), true));
  return t.bytes(9, raw);
}

function valueInfo(name: string, dims: readonly (number | string)[]): Msg {
  const shape = new Msg();
  for (const d of dims) {
    shape.msg(1, typeof d === 'number' ? new Msg().int(1, d) : new Msg().str(2, d));
  }
  const tensorType = new Msg().int(1, FLOAT).msg(2, shape);
  return new Msg().str(1, name).msg(2, new Msg().msg(1, tensorType));
}

function nodeProto(
  op: string,
  inputs: readonly string[],
  output: string,
  attrs: readonly Attr[] = [],
): Msg {
  const n = new Msg();
  for (const i of inputs) n.str(1, i);
  n.str(2, output).str(3, output).str(4, op);
  for (const a of attrs) {
    const m = new Msg().str(1, a.name);
    if ('f' in a) m.float(2, a.f).int(20, ATTR_FLOAT);
    else if ('i' in a) m.int(3, a.i).int(20, ATTR_INT);
    else {
      for (const v of a.ints) m.int(8, v);
      m.int(20, ATTR_INTS);
    }
    n.msg(5, m);
  }
  return n;
}

/** TF 'same' padding for stride 2: [begin, end] along one axis of size n. */
function samePad(n: number, k: number): [number, number] {
  const total = Math.max((Math.ceil(n / 2) - 1) * 2 + k - n, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/**
 * The model as ONNX bytes. Input `input`: raw inputs [n, D] with `features` (see the manifest),
 * else the feature vectors [n, inputDim] (MLP) or [n, H, W, C] images (CNN); output `logits`.
 */
export function onnxModelBytes(
  layout: Layout,
  params: Float32Array,
  features?: ExportFeatures | null,
): Uint8Array {
  const a = layout.arch;
  const graph = new Msg().str(2, 'd2nwg_generated');
  const nodes: Msg[] = [];
  const inits: Msg[] = [];
  let x = 'input';
  let step = 0;
  const add = (op: string, inputs: string[], attrs: Attr[] = [], name?: string): string => {
    const out = name ?? `t${step++}_${op.toLowerCase()}`;
    nodes.push(nodeProto(op, inputs, out, attrs));
    return out;
  };
  const inputDims: (number | string)[] = features
    ? ['n', rawDim(features)]
    : a.kind === 'mlp'
      ? ['n', a.inputDim]
      : ['n', ...a.inputShape];
  if (features) {
    for (const t of featureTensors(features)) inits.push(tensorProto(t.name, t.shape, t.data));
    const names = new Set(featureTensors(features).map((t) => t.name));
    x = add('Mul', [x, 'features.input_scale']);
    if (names.has('features.mean')) x = add('Sub', [x, 'features.mean']);
    if (names.has('features.basis')) x = add('MatMul', [x, 'features.basis']);
    if (names.has('features.scale')) x = add('Mul', [x, 'features.scale']);
    if (a.kind === 'cnn') {
      inits.push(int64Tensor('shape.nhwc', [-1, ...a.inputShape]));
      x = add('Reshape', [x, 'shape.nhwc']);
    }
  }
  const act = (v: string): string =>
    a.activation === 'leaky_relu'
      ? add('LeakyRelu', [v], [{ name: 'alpha', f: LEAKY_RELU_SLOPE }])
      : add(a.activation === 'relu' ? 'Relu' : 'Tanh', [v]);
  const dict = toTorchStateDict(layout, params);
  for (const t of dict) inits.push(tensorProto(t.name, t.shape, t.data));
  if (a.kind === 'mlp') {
    const layers = dict.length / 2;
    for (let i = 0; i < layers; i++) {
      const last = i === layers - 1;
      x = add(
        'Gemm',
        [x, `layers.${i}.weight`, `layers.${i}.bias`],
        [{ name: 'transB', i: 1 }],
        last ? 'logits' : undefined,
      );
      if (!last) x = act(x);
    }
  } else {
    x = add('Transpose', [x], [{ name: 'perm', ints: [0, 3, 1, 2] }]);
    let [h, w] = [a.inputShape[0], a.inputShape[1]];
    a.channels.forEach((_, i) => {
      const [pt, pb] = samePad(h, a.kernelSize);
      const [pl, pr] = samePad(w, a.kernelSize);
      x = add(
        'Conv',
        [x, `convs.${i}.weight`, `convs.${i}.bias`],
        [
          { name: 'kernel_shape', ints: [a.kernelSize, a.kernelSize] },
          { name: 'strides', ints: [2, 2] },
          { name: 'pads', ints: [pt, pl, pb, pr] },
        ],
      );
      x = act(x);
      h = Math.ceil(h / 2);
      w = Math.ceil(w / 2);
    });
    x = add(
      'ReduceMean',
      [x],
      [
        { name: 'axes', ints: [2, 3] },
        { name: 'keepdims', i: 0 },
      ],
    );
    add('Gemm', [x, 'head.weight', 'head.bias'], [{ name: 'transB', i: 1 }], 'logits');
  }
  for (const n of nodes) graph.msg(1, n);
  for (const t of inits) graph.msg(5, t);
  graph.msg(11, valueInfo('input', inputDims));
  graph.msg(12, valueInfo('logits', ['n', a.outputs]));
  return new Msg()
    .int(1, 8)
    .str(2, 'D2NWG Studio')
    .str(3, '1')
    .msg(7, graph)
    .msg(8, new Msg().str(1, '').int(2, 13))
    .encode();
}
