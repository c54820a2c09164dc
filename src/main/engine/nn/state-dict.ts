/**
 * Named weight tensors from other tools (a PyTorch state dict, safetensors with PyTorch names, a
 * tfjs LayersModel) mapped onto our flat layout. Layers are found as (weight, bias) pairs —
 * `<layer>.weight` / `<layer>.bias` in PyTorch naming, `<layer>/kernel` / `<layer>/bias` in tfjs —
 * taken in natural name order (`layers.2` before `layers.10`), and matched one to one with the
 * layout's layers. PyTorch stores Linear weights [out, in] and Conv2d weights [out, in, kh, kw];
 * ours are [in, out] and [kh, kw, in, out] (tfjs order), so PyTorch tensors are permuted here.
 * A tensor that does not fit is refused, naming the tensor and both shapes.
 */
import { InputError } from '../errors.ts';
import { transpose2d } from '../export/torch.ts';
import { describeLayout, type Layout } from './architecture.ts';
import type { Activation } from '../../../shared/schemas/zoo.ts';
import type { MlpArchitecture } from './architecture.ts';

/** A named tensor in row-major order. */
export interface WeightTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** Memory order of the source: PyTorch ([out, in], [out, in, kh, kw]) or tfjs (ours). */
export type WeightOrder = 'torch' | 'tfjs';

/** One layer of the source: its weight (kernel) and bias tensors. */
export interface LayerPair {
  readonly layer: string;
  readonly weightName: string;
  readonly weight: WeightTensor;
  readonly biasName: string;
  readonly bias: WeightTensor;
}

/** Tensors of an exported feature pipeline (ours), which are not layers of the classifier. */
const FEATURE_PREFIXES = ['features.', 'features/'];

function suffixes(order: WeightOrder): { sep: string; weight: string; bias: string } {
  return order === 'torch'
    ? { sep: '.', weight: 'weight', bias: 'bias' }
    : { sep: '/', weight: 'kernel', bias: 'bias' };
}

const shapeText = (s: readonly number[]): string => `[${s.join(', ')}]`;

/**
 * The (weight, bias) layers of `tensors` in natural name order. A tensor that belongs to no such
 * pair (a batch-norm statistic, a stray buffer) is refused: the architectures here have none.
 */
export function layerPairs(
  tensors: ReadonlyMap<string, WeightTensor>,
  order: WeightOrder,
  where: string,
): LayerPair[] {
  const { sep, weight, bias } = suffixes(order);
  const layers = new Map<string, { w?: string; b?: string }>();
  for (const name of tensors.keys()) {
    if (FEATURE_PREFIXES.some((p) => name.startsWith(p))) continue;
    const cut = name.lastIndexOf(sep);
    const layer = cut < 0 ? '' : name.slice(0, cut);
    const leaf = name.slice(cut + 1);
    if (leaf !== weight && leaf !== bias) {
      throw new InputError(
        `tensor '${name}' is not a layer ${weight} or ${bias} (${order} naming); the architectures here have dense and convolution layers only`,
        where,
      );
    }
    const entry = layers.get(layer) ?? {};
    if (leaf === weight) entry.w = name;
    else entry.b = name;
    layers.set(layer, entry);
  }
  const names = [...layers.keys()].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  if (names.length === 0) throw new InputError('holds no layer weights', where);
  return names.map((layer) => {
    const { w, b } = layers.get(layer) ?? {};
    const wt = w === undefined ? undefined : tensors.get(w);
    const bt = b === undefined ? undefined : tensors.get(b);
    if (w === undefined || b === undefined || !wt || !bt) {
      throw new InputError(
        `layer '${layer}' has ${w === undefined ? `no ${weight}` : `no ${bias}`}; every layer here has both`,
        where,
      );
    }
    return { layer, weightName: w, weight: wt, biasName: b, bias: bt };
  });
}

/** [out, in, kh, kw] → [kh, kw, in, out]. */
function oihwToHwio(
  src: Float32Array,
  co: number,
  ci: number,
  kh: number,
  kw: number,
): Float32Array {
  const out = new Float32Array(src.length);
  for (let o = 0; o < co; o++)
    for (let c = 0; c < ci; c++)
      for (let y = 0; y < kh; y++)
        for (let x = 0; x < kw; x++)
          out[((y * kw + x) * ci + c) * co + o] = src[((o * ci + c) * kh + y) * kw + x];
  return out;
}

/** The shape a layout kernel has in the source's memory order. */
function sourceShape(shape: readonly number[], order: WeightOrder): number[] {
  if (order === 'tfjs') return [...shape];
  if (shape.length === 2) return [shape[1], shape[0]];
  const [kh, kw, ci, co] = shape;
  return [co, ci, kh, kw];
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Where the source's tensors landed in the layout's flat vector. */
export interface MappedWeights {
  /** The flat vector; when `headFits` is false, the head's values are zero (to be initialised). */
  readonly vector: Float32Array;
  /** False when the last layer's output count differs and it was left out (see `headMismatch`). */
  readonly headFits: boolean;
}

/**
 * Map layer pairs onto `layout`. With `allowNewHead`, a last layer whose input width fits but
 * whose output count differs is left out (headFits false) instead of refused: its classes are
 * not the target's, and the caller gives it a fresh head.
 */
export function pairsToVector(
  layout: Layout,
  pairs: readonly LayerPair[],
  order: WeightOrder,
  where: string,
  allowNewHead = false,
): MappedWeights {
  const specs = layout.params;
  const layers = specs.length / 2;
  if (pairs.length !== layers) {
    throw new InputError(
      `has ${pairs.length} layers (${pairs.map((p) => p.layer || '(top)').join(', ')}) but the architecture, ${describeLayout(layout)}, has ${layers}`,
      where,
    );
  }
  const vector = new Float32Array(layout.size);
  let headFits = true;
  for (let i = 0; i < layers; i++) {
    const k = specs[2 * i];
    const b = specs[2 * i + 1];
    const p = pairs[i];
    const want = sourceShape(k.shape, order);
    const fits = sameShape(p.weight.shape, want) && sameShape(p.bias.shape, b.shape);
    if (!fits) {
      // The head: same input width, other output count.
      const inAxis = order === 'torch' ? 1 : 0;
      const newHead =
        allowNewHead &&
        i === layers - 1 &&
        k.shape.length === 2 &&
        p.weight.shape.length === 2 &&
        p.bias.shape.length === 1 &&
        p.weight.shape[inAxis] === want[inAxis] &&
        p.weight.shape[1 - inAxis] === p.bias.shape[0];
      if (newHead) {
        headFits = false;
        continue;
      }
      const [name, got, need] = sameShape(p.weight.shape, want)
        ? [p.biasName, p.bias.shape, b.shape]
        : [p.weightName, p.weight.shape, want];
      throw new InputError(
        `tensor '${name}' has shape ${shapeText(got)} but the architecture's ${sameShape(p.weight.shape, want) ? b.name : k.name} needs ${shapeText(need)}${order === 'torch' ? ' (PyTorch order)' : ''}`,
        where,
      );
    }
    let kernel = p.weight.data;
    if (order === 'torch') {
      kernel =
        k.shape.length === 2
          ? transpose2d(kernel, want[0], want[1])
          : oihwToHwio(kernel, want[0], want[1], want[2], want[3]);
    }
    vector.set(kernel, k.offset);
    vector.set(p.bias.data, b.offset);
  }
  return { vector, headFits };
}

/**
 * The MLP a chain of PyTorch Linear layers computes (input width, hidden widths, outputs), with
 * `activation` between layers. Convolution kernels and broken chains are refused, naming the
 * tensor and the shapes.
 */
export function mlpFromPairs(
  pairs: readonly LayerPair[],
  activation: Activation,
  where: string,
): MlpArchitecture {
  const widths: number[] = [];
  for (const p of pairs) {
    if (p.weight.shape.length !== 2) {
      throw new InputError(
        `tensor '${p.weightName}' has shape ${shapeText(p.weight.shape)}: only MLPs (chains of Linear layers, weights [out, in]) are imported; convolutional zoos do not map onto this app's CNN, whose convolutions, padding and pooling differ`,
        where,
      );
    }
    const [out, inD] = p.weight.shape;
    if (widths.length === 0) widths.push(inD);
    const prev = widths[widths.length - 1];
    if (inD !== prev) {
      throw new InputError(
        `tensor '${p.weightName}' has shape ${shapeText(p.weight.shape)} but the layer before it gives ${prev} values, not ${inD}`,
        where,
      );
    }
    if (!sameShape(p.bias.shape, [out])) {
      throw new InputError(
        `tensor '${p.biasName}' has shape ${shapeText(p.bias.shape)} but its weight '${p.weightName}' needs [${out}]`,
        where,
      );
    }
    widths.push(out);
  }
  const outputs = widths[widths.length - 1];
  if (outputs < 2) {
    throw new InputError(
      `the last layer has ${outputs} output; a classifier needs at least 2`,
      where,
    );
  }
  return {
    kind: 'mlp',
    inputDim: widths[0],
    hidden: widths.slice(1, -1),
    outputs,
    activation,
  };
}
