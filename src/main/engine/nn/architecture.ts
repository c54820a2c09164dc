/**
 * Classifier architectures as plain data. A resolved Architecture knows its input size and output
 * count; its Layout maps every parameter tensor to a slice of ONE flat Float32Array. Everything
 * downstream (zoo storage, the weight VAE, diffusion samples, exports) deals in those flat vectors,
 * so the layout is the single source of truth for how a vector becomes a model.
 */
import type {
  Activation,
  ArchitectureConfig,
  ResolvedArchitecture,
} from '../../../shared/schemas/zoo.ts';
import { InputError } from '../errors.ts';

/** An MLP with its input width and output count filled in. */
export interface MlpArchitecture {
  readonly kind: 'mlp';
  /** Features per input sample. */
  readonly inputDim: number;
  /** Width of each hidden layer. */
  readonly hidden: readonly number[];
  /** Number of logits (K). */
  readonly outputs: number;
  /** Nonlinearity after each hidden layer. */
  readonly activation: Activation;
}

/** A small CNN with its input shape and output count filled in. */
export interface CnnArchitecture {
  readonly kind: 'cnn';
  /** One input sample, [height, width, channels] (NHWC without N). */
  readonly inputShape: readonly [number, number, number];
  /** Output channels of each stride-2 convolution block. */
  readonly channels: readonly number[];
  /** Side of the square kernels. */
  readonly kernelSize: number;
  /** Number of logits (K). */
  readonly outputs: number;
  /** Nonlinearity after each convolution. */
  readonly activation: Activation;
}

/** A fully specified classifier architecture. */
export type Architecture = MlpArchitecture | CnnArchitecture;

/** Where one parameter tensor lives inside the flat vector. */
export interface ParamSpec {
  /** Stable name, e.g. 'dense0.kernel' or 'conv1.bias'. */
  readonly name: string;
  /** Tensor shape: dense kernels are [in, out], conv kernels [kh, kw, cin, cout]. */
  readonly shape: readonly number[];
  /** First index in the flat vector. */
  readonly offset: number;
  /** Number of values (product of shape). */
  readonly size: number;
  /** Fan-in used by the default initialisation. */
  readonly fanIn: number;
}

/** An architecture with the position of each parameter tensor in the flat vector. */
export interface Layout {
  readonly arch: Architecture;
  /** Parameter tensors in flat order (per layer: kernel, then bias). */
  readonly params: readonly ParamSpec[];
  /** Total number of parameters (length of the flat vector). */
  readonly size: number;
}

/**
 * Fill in the input size and output count of a user architecture from the data it will see. Image
 * inputs for an MLP are flattened; a CNN needs an [h, w, c] sample shape.
 */
export function resolveArchitecture(
  config: ArchitectureConfig,
  sampleShape: readonly number[],
  outputs: number,
): Architecture {
  if (!Number.isInteger(outputs) || outputs < 2) {
    throw new InputError(`a classifier needs at least 2 outputs, got ${outputs}`, 'arch');
  }
  if (sampleShape.length === 0 || sampleShape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new InputError(`invalid input sample shape [${sampleShape.join(', ')}]`, 'arch');
  }
  if (config.kind === 'mlp') {
    const inputDim = sampleShape.reduce((a, b) => a * b, 1);
    return {
      kind: 'mlp',
      inputDim,
      hidden: [...config.hidden],
      outputs,
      activation: config.activation,
    };
  }
  if (sampleShape.length !== 3) {
    throw new InputError(
      `arch.kind 'cnn' needs image inputs [h, w, c], got sample shape [${sampleShape.join(', ')}] (use raw pixels, not feature vectors)`,
      'arch',
    );
  }
  const [h, w, c] = sampleShape;
  return {
    kind: 'cnn',
    inputShape: [h, w, c],
    channels: [...config.channels],
    kernelSize: config.kernelSize,
    outputs,
    activation: config.activation,
  };
}

/** Spatial size after one 'same'-padded stride-2 convolution. */
export function strideTwoSize(n: number): number {
  return Math.ceil(n / 2);
}

/** Compute the flat parameter layout of an architecture. */
export function layoutOf(arch: Architecture): Layout {
  const params: ParamSpec[] = [];
  let offset = 0;
  const add = (name: string, shape: number[], fanIn: number): void => {
    const size = shape.reduce((a, b) => a * b, 1);
    params.push({ name, shape, offset, size, fanIn });
    offset += size;
  };
  if (arch.kind === 'mlp') {
    const widths = [arch.inputDim, ...arch.hidden, arch.outputs];
    for (let i = 0; i + 1 < widths.length; i++) {
      add(`dense${i}.kernel`, [widths[i], widths[i + 1]], widths[i]);
      add(`dense${i}.bias`, [widths[i + 1]], widths[i]);
    }
  } else {
    let cin = arch.inputShape[2];
    const k = arch.kernelSize;
    arch.channels.forEach((cout, i) => {
      add(`conv${i}.kernel`, [k, k, cin, cout], k * k * cin);
      add(`conv${i}.bias`, [cout], k * k * cin);
      cin = cout;
    });
    add('dense.kernel', [cin, arch.outputs], cin);
    add('dense.bias', [arch.outputs], cin);
  }
  return { arch, params, size: offset };
}

/**
 * The most values one sample occupies at any layer (input, hidden activations, logits): bounds
 * the rows a forward pass may batch into one tensor on a device with a buffer-size limit.
 */
export function widestActivation(arch: Architecture): number {
  if (arch.kind === 'mlp') return Math.max(arch.inputDim, ...arch.hidden, arch.outputs);
  let [h, w] = arch.inputShape;
  let widest = h * w * arch.inputShape[2];
  for (const c of arch.channels) {
    h = strideTwoSize(h);
    w = strideTwoSize(w);
    widest = Math.max(widest, h * w * c);
  }
  return Math.max(widest, arch.outputs);
}

/**
 * Multiply-adds of one sample's forward pass (convolutions at their stride-2 output sizes, dense
 * layers): the unit the evaluation threads size their work in (eval/threads.ts).
 */
export function forwardMacs(arch: Architecture): number {
  if (arch.kind === 'mlp') {
    const widths = [arch.inputDim, ...arch.hidden, arch.outputs];
    let macs = 0;
    for (let i = 0; i + 1 < widths.length; i++) macs += widths[i] * widths[i + 1];
    return macs;
  }
  let [h, w, cin] = arch.inputShape;
  const kk = arch.kernelSize * arch.kernelSize;
  let macs = 0;
  for (const cout of arch.channels) {
    h = strideTwoSize(h);
    w = strideTwoSize(w);
    macs += h * w * kk * cin * cout;
    cin = cout;
  }
  return macs + cin * arch.outputs;
}

/** Values per input sample the architecture expects. */
export function inputSize(arch: Architecture): number {
  return arch.kind === 'mlp'
    ? arch.inputDim
    : arch.inputShape[0] * arch.inputShape[1] * arch.inputShape[2];
}

/** Shape of one input sample the architecture expects: [inputDim], or a CNN's [h, w, c]. */
export function inputShapeOf(arch: Architecture): number[] {
  return arch.kind === 'mlp' ? [arch.inputDim] : [...arch.inputShape];
}

/** A short human-readable description, e.g. 'mlp 16→32→5 (709 params)'. */
export function describeLayout(layout: Layout): string {
  const a = layout.arch;
  if (a.kind === 'mlp') {
    return `mlp ${[a.inputDim, ...a.hidden, a.outputs].join('→')} ${a.activation} (${layout.size} params)`;
  }
  return `cnn ${a.inputShape.join('×')} conv[${a.channels.join(',')}] k${a.kernelSize} →${a.outputs} ${a.activation} (${layout.size} params)`;
}

/** A plain, mutable copy of an architecture for JSON manifests (ResolvedArchitectureSchema). */
export function architectureToJson(arch: Architecture): ResolvedArchitecture {
  return arch.kind === 'mlp'
    ? { ...arch, hidden: [...arch.hidden] }
    : {
        ...arch,
        inputShape: [arch.inputShape[0], arch.inputShape[1], arch.inputShape[2]],
        channels: [...arch.channels],
      };
}

/** The layout in its JSON manifest form (LayoutManifestSchema). */
export function layoutToJson(layout: Layout): {
  params: { name: string; shape: number[]; offset: number; size: number; fanIn: number }[];
  size: number;
} {
  return {
    params: layout.params.map((p) => ({ ...p, shape: [...p.shape] })),
    size: layout.size,
  };
}

/** The parts of a layout that fix where each parameter sits in the flat vector. */
export interface LayoutShape {
  readonly size: number;
  readonly params: readonly {
    readonly name: string;
    readonly offset: number;
    readonly size: number;
    readonly shape: readonly number[];
  }[];
}

/** True when two layouts put the same parameters, with the same shapes, at the same offsets. */
export function sameLayout(a: LayoutShape, b: LayoutShape): boolean {
  return (
    a.size === b.size &&
    a.params.length === b.params.length &&
    a.params.every((p, i) => {
      const q = b.params[i];
      return (
        p.name === q.name &&
        p.offset === q.offset &&
        p.size === q.size &&
        p.shape.length === q.shape.length &&
        p.shape.every((d, j) => d === q.shape[j])
      );
    })
  );
}
