/**
 * Our kernels on the tfjs webgpu backend, as WGSL programs run through the backend's own
 * `runWebGPUProgram` (so they share its buffer pool, pipeline cache, command encoder and our
 * dispatch caches).
 *
 * - FUSED_ADAM (the same kernel name and contract as on wasm, kernels/simd.ts): one Adam/AdamW
 *   step of a variable from (w, m, v, g). A tfjs webgpu program writes one output, so the step is
 *   three programs over the same inputs, one per output (m', v', w'; w' recomputes m' and v' in
 *   registers): 3 dispatches per variable where tensor ops take 12. Measured on the H200 a
 *   training step costs ~210 µs per kernel at standard sizes, so kernels per step is what to cut.
 *   Model batches (zoo members, evaluations) and the tensor Adam of large models use it; small
 *   VAE/diffusion models keep host Adam on a GPU (`makeAdam`).
 * - FUSED_EMA: the weight average's update in one dispatch instead of three.
 */
import * as tf from '@tensorflow/tfjs';
import { adamInputs, FUSED_ADAM } from './simd.ts';

/**
 * Name of the fused EMA kernel: inputs {e, w} (float32, one size), attr {decay}; output
 * e·decay + w·(1 − decay), the weight average the VAE and diffusion trainers keep. Registered for
 * webgpu only (one dispatch for three); on wasm the three ops cost little.
 */
export const FUSED_EMA = 'D2nwgEma';

/** The part of tfjs-backend-webgpu's program interface our programs fill in. */
interface WebgpuProgram {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  variableNames: string[];
  workgroupSize: [number, number, number];
  size: boolean;
  /** Extra uniform fields, WGSL struct members ('name : type,'). */
  uniforms?: string;
  getUserCode(): string;
}

/** The part of the webgpu backend the kernels call. */
interface WebgpuBackendLike {
  makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): tf.TensorInfo;
  disposeData(dataId: tf.DataId): boolean;
  runWebGPUProgram(
    program: WebgpuProgram,
    inputs: tf.TensorInfo[],
    outputDtype: 'float32',
    programUniforms?: { type: 'float32' | 'int32'; data: number[] }[],
  ): tf.TensorInfo;
}

function webgpuBackendOf(backend: unknown): WebgpuBackendLike {
  if (
    typeof backend !== 'object' ||
    backend === null ||
    typeof (backend as { runWebGPUProgram?: unknown }).runWebGPUProgram !== 'function'
  ) {
    throw new Error('webgpu kernel called on a backend without runWebGPUProgram');
  }
  return backend as WebgpuBackendLike;
}

const WORKGROUP = 128;

/**
 * Per-step scalars (Adam's bias corrections, the EMA's warming decay) go to the programs as a
 * small storage tensor, not as uniforms: the dispatch caches key uniforms by content, so values
 * that change every step would fill the cache with one uniform buffer per step. One tensor per
 * (backend, slot) is kept and replaced only when its values change, so every variable of a step
 * shares one upload.
 */
const constantTensors = new WeakMap<object, Map<string, { key: string; info: tf.TensorInfo }>>();

function constantsInfo(backend: WebgpuBackendLike, slot: string, values: number[]): tf.TensorInfo {
  let slots = constantTensors.get(backend);
  if (!slots) {
    slots = new Map();
    constantTensors.set(backend, slots);
  }
  const key = values.join(',');
  const last = slots.get(slot);
  if (last?.key === key) return last.info;
  if (last) backend.disposeData(last.info.dataId);
  const info = backend.makeTensorInfo([values.length], 'float32', Float32Array.from(values));
  slots.set(slot, { key, info });
  return info;
}

/**
 * Name of the GPU noise kernel: input {seed} (int32[2]: a stream key and a step counter), attrs
 * {shape, std}; output N(0, std²) draws of that shape. A counter-based generator: element i is a
 * function of (seed, i) alone (murmur3's finaliser as the hash, 24-bit uniforms, Box-Muller), so
 * a step graph can replay it with a new counter and no host work. Registered for webgpu only: it
 * is what lets the VAE's input noise (batch × weights draws a step, 5 M at the large shapes, about
 * 200 ms of host time) stay off the host there. Its draws are not the host Rng's.
 */
export const GPU_NOISE = 'D2nwgNormalNoise';

function noiseProgram(shape: number[]): WebgpuProgram {
  const size = shape.reduce((p, d) => p * d, 1);
  return {
    outputShape: [size],
    shaderKey: 'd2nwg_noise',
    dispatchLayout: { x: [0] },
    dispatch: [Math.ceil(size / WORKGROUP), 1, 1],
    variableNames: ['S'],
    uniforms: 'noiseStd : f32,',
    workgroupSize: [WORKGROUP, 1, 1],
    size: true,
    getUserCode: () => `
    fn fmix(k : u32) -> u32 {
      var h = k;
      h = h ^ (h >> 16u);
      h = h * 0x85ebca6bu;
      h = h ^ (h >> 13u);
      h = h * 0xc2b2ae35u;
      h = h ^ (h >> 16u);
      return h;
    }
    fn main(index : i32) {
      if (index < uniforms.size) {
        let key = fmix(bitcast<u32>(S[0]) ^ fmix(bitcast<u32>(S[1]) + 0x9e3779b9u));
        let i = u32(index);
        let h1 = fmix(key ^ fmix(2u * i));
        let h2 = fmix(key ^ fmix(2u * i + 1u));
        let u1 = (f32(h1 >> 8u) + 1.0) / 16777216.0;
        let u2 = f32(h2 >> 8u) / 16777216.0;
        let z = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
        setOutputAtIndex(index, z * uniforms.noiseStd);
      }
    }`,
  };
}

/** GPU_NOISE on webgpu. */
function gpuNoiseWebgpu(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
  const backend = webgpuBackendOf(args.backend);
  const { seed } = args.inputs;
  if (!seed || seed.dtype !== 'int32' || seed.shape.reduce((p, d) => p * d, 1) !== 2) {
    throw new Error(`${GPU_NOISE}: input seed must be int32[2]`);
  }
  const shape = args.attrs?.shape;
  const std = args.attrs?.std;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && (d as number) > 0)) {
    throw new Error(`${GPU_NOISE}: attribute 'shape' must list positive integers`);
  }
  if (typeof std !== 'number' || !(std >= 0)) {
    throw new Error(`${GPU_NOISE}: attribute 'std' must be a number ≥ 0`);
  }
  const dims = shape as number[];
  const out = backend.runWebGPUProgram(
    noiseProgram(dims),
    [{ ...seed, shape: [2] }],
    'float32',
    // A uniform, not a host tensor: the dispatch caches keep one buffer per value.
    [{ type: 'float32', data: [std] }],
  );
  return { ...out, shape: [...dims] };
}

/** Which of Adam's three outputs a program writes. */
const ADAM_OUTPUTS = ['m', 'v', 'w'] as const;
type AdamOutput = (typeof ADAM_OUTPUTS)[number];

/**
 * The WGSL of one output, the expression order of the wasm kernel: m' = b1·m + (1−b1)·g,
 * v' = b2·v + (1−b2)·g·g, w' = w − lr·(m'/c1)/(√(v'/c2) + eps) − decay·w.
 *
 * The device variant (`device`) takes the per-step values from tensors instead of attributes, so
 * a step graph can replay it (kernels/webgpu-graph.ts): HP = [lr, β1, β2, c1, c2, ε, decay, clip,
 * emaDecay] and ST = [gradient norm, loss]. The gradient is scaled by clip/norm when the norm
 * exceeds clip > 0, and when the norm or the loss is not finite every output keeps its old value,
 * so a step that goes wrong changes nothing (the host reads ST and stops the run).
 */
function adamCode(out: AdamOutput, device: boolean): string {
  const value = {
    m: 'mNew',
    v: 'vNew',
    w: 'w - HP[0] * (mNew / HP[3]) / (sqrt(vNew / HP[4]) + HP[5]) - HP[6] * w',
  }[out];
  const old = { m: 'M[index]', v: 'V[index]', w: 'w' }[out];
  // Every program reads every input: the pipeline's bind-group layout is derived from the code
  // and tfjs binds all of them, so an unread W would be a missing binding.
  return `
    ${device ? FINITE_WGSL : ''}
    fn main(index : i32) {
      if (index < uniforms.size) {
        let w = W[index];
        ${out === 'w' ? '' : '_ = w;'}
        ${
          device
            ? `let norm = ST[0];
        let ok = isFiniteF32(norm) && isFiniteF32(ST[1]);
        var s = 1.0;
        if (HP[7] > 0.0 && norm > HP[7]) { s = HP[7] / norm; }
        let g = G[index] * s;`
            : 'let g = G[index];'
        }
        let mNew = HP[1] * M[index] + (1.0 - HP[1]) * g;
        let vNew = HP[2] * V[index] + (1.0 - HP[2]) * (g * g);
        ${device ? `setOutputAtIndex(index, select(${old}, ${value}, ok));` : `setOutputAtIndex(index, ${value});`}
      }
    }`;
}

/**
 * Finite test by the exponent bits: WGSL lets compilers assume floats are finite, so x == x or
 * comparisons with infinity may be folded away.
 */
const FINITE_WGSL = `
    fn isFiniteF32(x : f32) -> bool {
      return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
    }`;

function adamProgram(out: AdamOutput, size: number, device: boolean): WebgpuProgram {
  const outputShape = [size];
  return {
    outputShape,
    shaderKey: `d2nwg_adam_${device ? 'dev_' : ''}${out}`,
    dispatchLayout: { x: [0] },
    dispatch: [Math.ceil(size / WORKGROUP), 1, 1],
    variableNames: device ? ['W', 'M', 'V', 'G', 'HP', 'ST'] : ['W', 'M', 'V', 'G', 'HP'],
    workgroupSize: [WORKGROUP, 1, 1],
    size: true,
    getUserCode: () => adamCode(out, device),
  };
}

function numAttr(attrs: tf.NamedAttrMap | undefined, key: string, fallback?: number): number {
  const v = attrs?.[key];
  if (typeof v === 'number') return v;
  if (fallback !== undefined) return fallback;
  throw new Error(`${FUSED_ADAM}: attribute '${key}' missing`);
}

/** The EMA program; the device variant reads the decay from HP[8] and keeps e when ST is bad. */
function emaProgram(size: number, device: boolean): WebgpuProgram {
  const next = device
    ? 'E[index] * D[8] + W[index] * (1.0 - D[8])'
    : 'E[index] * D[0] + W[index] * (1.0 - D[0])';
  return {
    outputShape: [size],
    shaderKey: device ? 'd2nwg_ema_dev' : 'd2nwg_ema',
    dispatchLayout: { x: [0] },
    dispatch: [Math.ceil(size / WORKGROUP), 1, 1],
    variableNames: device ? ['E', 'W', 'D', 'ST'] : ['E', 'W', 'D'],
    workgroupSize: [WORKGROUP, 1, 1],
    size: true,
    getUserCode: () => `
    ${device ? FINITE_WGSL : ''}
    fn main(index : i32) {
      if (index < uniforms.size) {
        ${
          device
            ? `let ok = isFiniteF32(ST[0]) && isFiniteF32(ST[1]);
        setOutputAtIndex(index, select(E[index], ${next}, ok));`
            : `setOutputAtIndex(index, ${next});`
        }
      }
    }`,
  };
}

/** The optional device inputs {hp, stat} of FUSED_ADAM / FUSED_EMA, checked, or null. */
function deviceInputs(
  inputs: tf.NamedTensorInfoMap,
  kernel: string,
): { hp: tf.TensorInfo; stat: tf.TensorInfo } | null {
  const { hp, stat } = inputs;
  if (!hp && !stat) return null;
  if (!hp || !stat) throw new Error(`${kernel}: inputs hp and stat go together`);
  const size = (t: tf.TensorInfo) => t.shape.reduce((p, d) => p * d, 1);
  if (size(hp) !== 9 || size(stat) !== 2 || hp.dtype !== 'float32' || stat.dtype !== 'float32') {
    throw new Error(`${kernel}: hp must be float32[9] and stat float32[2]`);
  }
  return { hp: { ...hp, shape: [9] }, stat: { ...stat, shape: [2] } };
}

/** FUSED_EMA on webgpu. */
function fusedEmaWebgpu(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
  const backend = webgpuBackendOf(args.backend);
  const { e, w } = args.inputs;
  if (!e || !w) throw new Error(`${FUSED_EMA}: inputs e, w are required`);
  const n = e.shape.reduce((p, d) => p * d, 1);
  if (w.shape.reduce((p, d) => p * d, 1) !== n || e.dtype !== 'float32' || w.dtype !== 'float32') {
    throw new Error(`${FUSED_EMA}: inputs must be float32 of one size`);
  }
  const dev = deviceInputs(args.inputs, FUSED_EMA);
  const flat = [e, w].map((t) => ({ ...t, shape: [n] }));
  let extra: tf.TensorInfo[];
  if (dev) extra = [dev.hp, dev.stat];
  else {
    const decay = args.attrs?.decay;
    if (typeof decay !== 'number') throw new Error(`${FUSED_EMA}: attribute 'decay' missing`);
    extra = [constantsInfo(backend, 'ema', [decay])];
  }
  const out = backend.runWebGPUProgram(emaProgram(n, dev !== null), [...flat, ...extra], 'float32');
  return { ...out, shape: [...e.shape] };
}

/**
 * FUSED_ADAM on webgpu: inputs {w, m, v, g} (float32, one size), outputs [w', m', v']; the step's
 * values come from the attributes, or, with the device inputs {hp, stat} (see adamCode), from
 * tensors.
 */
function fusedAdamWebgpu(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo[] {
  const backend = webgpuBackendOf(args.backend);
  const { w, m, v, g, n } = adamInputs(args.inputs);
  const dev = deviceInputs(args.inputs, FUSED_ADAM);
  const a = args.attrs;
  // HP = [lr, β1, β2, c1, c2, ε, decay]
  const extra = dev
    ? [dev.hp, dev.stat]
    : [
        constantsInfo(backend, 'adam', [
          numAttr(a, 'lr'),
          numAttr(a, 'beta1'),
          numAttr(a, 'beta2'),
          numAttr(a, 'c1'),
          numAttr(a, 'c2'),
          numAttr(a, 'epsilon'),
          numAttr(a, 'decay', 0),
        ]),
      ];
  // Flat views of the inputs (same data, rank 1), so one program serves every shape.
  const flat = [...[w, m, v, g].map((t) => ({ ...t, shape: [n] })), ...extra];
  const [om, ov, ow] = ADAM_OUTPUTS.map((out) =>
    backend.runWebGPUProgram(adamProgram(out, n, dev !== null), flat, 'float32'),
  );
  return [ow, om, ov].map((t) => ({ ...t, shape: [...w.shape] }));
}

/**
 * Whether initBackend installs these kernels: on unless `D2NWG_WEBGPU_KERNELS=0` (before/after
 * measurements on the stock ops).
 */
export function webgpuKernelsEnabled(): boolean {
  return process.env.D2NWG_WEBGPU_KERNELS !== '0';
}

/** Install our webgpu kernels. Idempotent; call after the webgpu backend is set. */
export function installWebgpuKernels(): void {
  if (!tf.getKernel(FUSED_ADAM, 'webgpu')) {
    tf.registerKernel({
      kernelName: FUSED_ADAM,
      backendName: 'webgpu',
      kernelFunc: (args) => fusedAdamWebgpu(args),
    });
  }
  if (!tf.getKernel(GPU_NOISE, 'webgpu')) {
    tf.registerKernel({
      kernelName: GPU_NOISE,
      backendName: 'webgpu',
      kernelFunc: (args) => gpuNoiseWebgpu(args),
    });
  }
  if (!tf.getKernel(FUSED_EMA, 'webgpu')) {
    tf.registerKernel({
      kernelName: FUSED_EMA,
      backendName: 'webgpu',
      kernelFunc: (args) => fusedEmaWebgpu(args),
    });
  }
}

/** Marks our AddN wrapper, so installing it twice wraps the stock kernel once. */
const CHUNKED_ADDN = Symbol('d2nwg.chunkedAddN');

/**
 * A correctness fix, installed whatever `D2NWG_WEBGPU_KERNELS` says: tfjs-backend-webgpu's AddN
 * binds every input as a storage buffer of one shader, so a sum of more inputs than the device's
 * `maxStorageBuffersPerShaderStage` allows (8 by default: 7 inputs and the output) fails Dawn's
 * validation and leaves its output unwritten. That happened on a GPU in the quality benchmark:
 * the ensembles' mean of 8 or more members' probabilities read as zeros (accuracy 0.0 where wasm
 * gave 84.6 %). The wrapper sums larger lists in chunks the device can bind, then the partial
 * sums.
 */
export function installAddNChunks(backend: unknown): void {
  const stock = tf.getKernel(tf.AddN, 'webgpu');
  if (!stock || (stock.kernelFunc as unknown as Record<symbol, unknown>)[CHUNKED_ADDN]) return;
  const limits = (backend as { device?: { limits?: { maxStorageBuffersPerShaderStage?: number } } })
    .device?.limits;
  const maxInputs = Math.max(2, (limits?.maxStorageBuffersPerShaderStage ?? 8) - 1);
  const be = backend as WebgpuBackendLike;
  const kernelFunc: tf.KernelFunc = (args) => {
    let parts = args.inputs as unknown as tf.TensorInfo[];
    if (parts.length <= maxInputs) return stock.kernelFunc(args);
    const partials: tf.TensorInfo[] = [];
    while (parts.length > maxInputs) {
      const next: tf.TensorInfo[] = [];
      for (let i = 0; i < parts.length; i += maxInputs) {
        const chunk = parts.slice(i, i + maxInputs);
        if (chunk.length === 1) {
          next.push(chunk[0]);
          continue;
        }
        const sum = stock.kernelFunc({
          ...args,
          inputs: chunk as unknown as tf.NamedTensorInfoMap,
        }) as tf.TensorInfo;
        partials.push(sum);
        next.push(sum);
      }
      parts = next;
    }
    const out = stock.kernelFunc({ ...args, inputs: parts as unknown as tf.NamedTensorInfoMap });
    for (const t of partials) be.disposeData(t.dataId);
    return out;
  };
  Object.defineProperty(kernelFunc, CHUNKED_ADDN, { value: true });
  tf.unregisterKernel(tf.AddN, 'webgpu');
  tf.registerKernel({ ...stock, kernelFunc });
}

/** Remove them again (a process that measures stock against ours, and tests). */
export function uninstallWebgpuKernels(): void {
  for (const name of [FUSED_ADAM, FUSED_EMA, GPU_NOISE]) {
    if (tf.getKernel(name, 'webgpu')) tf.unregisterKernel(name, 'webgpu');
  }
}
