/**
 * Head-from-prototypes: keep a generated MLP's body, and set its output layer from the support
 * set's class prototypes in the body's last hidden space (a nearest-class-mean rule written as a
 * linear layer: w_c = μ_c, b_c = −‖μ_c‖²/2). Output i then means class i by construction, which is
 * exactly what a class-order-blind generator cannot know for an unseen class tuple.
 */
import { InputError } from '../errors.ts';
import type { Layout } from '../nn/architecture.ts';
import { LEAKY_RELU_SLOPE } from '../nn/forward.ts';

function activate(v: number, kind: string): number {
  if (kind === 'relu') return v > 0 ? v : 0;
  if (kind === 'tanh') return Math.tanh(v);
  return v > 0 ? v : LEAKY_RELU_SLOPE * v;
}

/** Last-hidden-layer activations of `n` inputs (n × width); the input itself if no hidden layer. */
export function hiddenFeatures(
  layout: Layout,
  params: Float32Array,
  x: Float32Array,
  n: number,
): Float32Array {
  const arch = layout.arch;
  if (arch.kind !== 'mlp') throw new InputError('prototype heads need an MLP architecture');
  let h = x;
  let width = arch.inputDim;
  for (let l = 0; l < arch.hidden.length; l++) {
    const w = layout.params[2 * l];
    const b = layout.params[2 * l + 1];
    const out = arch.hidden[l];
    const next = new Float32Array(n * out);
    for (let i = 0; i < n; i++) {
      for (let o = 0; o < out; o++) {
        let s = params[b.offset + o];
        for (let j = 0; j < width; j++) s += h[i * width + j] * params[w.offset + j * out + o];
        next[i * out + o] = activate(s, arch.activation);
      }
    }
    h = next;
    width = out;
  }
  return h;
}

/**
 * A copy of `params` whose output layer is the prototype classifier of `support`
 * ([K, perClass, d], classes in output order) in the body's feature space.
 */
export function prototypeHead(
  layout: Layout,
  params: Float32Array,
  support: Float32Array,
  k: number,
  perClass: number,
): Float32Array {
  const arch = layout.arch;
  if (arch.kind !== 'mlp') throw new InputError('prototype heads need an MLP architecture');
  if (k !== arch.outputs) {
    throw new InputError(`support set has ${k} classes, the architecture ${arch.outputs} outputs`);
  }
  const h = hiddenFeatures(layout, params, support, k * perClass);
  const width = h.length / (k * perClass);
  const mu = new Float32Array(k * width);
  for (let c = 0; c < k; c++) {
    for (let j = 0; j < perClass; j++) {
      for (let f = 0; f < width; f++)
        mu[c * width + f] += h[(c * perClass + j) * width + f] / perClass;
    }
  }
  const wSpec = layout.params[layout.params.length - 2];
  const bSpec = layout.params[layout.params.length - 1];
  const out = Float32Array.from(params);
  for (let c = 0; c < k; c++) {
    let n2 = 0;
    for (let f = 0; f < width; f++) {
      out[wSpec.offset + f * k + c] = mu[c * width + f];
      n2 += mu[c * width + f] ** 2;
    }
    out[bSpec.offset + c] = -n2 / 2;
  }
  return out;
}
