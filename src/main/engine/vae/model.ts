/**
 * The weight VAE of D2NWG (stage 2, Eq. 1): it maps a flattened weight vector to a small latent
 * and back, so the diffusion model works in a space of a few dozen dimensions instead of
 * thousands. Vectors are standardised first (stats kept with the model) and decode undoes it, so
 * callers only ever see weight space and latent space.
 *
 * Architectures (both trainable on the wasm backend, which has no conv backprop kernels):
 * - 'mlp': dense layers dim → hidden… → (μ, log σ²), mirrored in the decoder.
 * - 'conv1d': non-overlapping 1-D convolutions (kernel = stride = `convKernel`, written as
 *   reshape + matmul) over the vector seen as a 1-channel sequence, then the dense layers.
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import type { VaeConfig } from '../../../shared/schemas/vae.ts';
import { VaeConfig as VaeConfigSchema } from '../../../shared/schemas/vae.ts';
import { rowsPerDeviceBuffer } from '../backend-webgpu.ts';
import { InputError } from '../errors.ts';
import { writeFileAtomic } from '../formats/atomic.ts';
import { readSafetensors, writeSafetensors } from '../formats/safetensors.ts';
import { act, dense, layerNorm } from '../common/layers.ts';
import {
  createParamSet,
  ParamSet,
  paramSetFromStTensors,
  type ParamDef,
} from '../common/params.ts';
import { writeDirAtomic } from '../common/persist.ts';
import { readJsonFile } from '../formats/json-file.ts';
import { checkMatrix } from '../common/rows.ts';
import type { Rng } from '../rng.ts';

/** Version of the saved folder layout; bump on incompatible changes. */
export const VAE_FORMAT_VERSION = 1;
const JSON_NAME = 'vae.json';
const WEIGHTS_NAME = 'weights.safetensors';
/** Rows per chunk in encode/decode, to bound peak memory on big zoos. */
const CHUNK = 256;
/** log σ² is clamped to this range so exp() never overflows. */
const LOGVAR_MIN = -30;
const LOGVAR_MAX = 20;

/** Standardisation of weight vectors, applied before encoding and undone after decoding. */
export interface VaeNormStats {
  /** Per-dimension mean (all equal for 'global', zeros for 'none'). */
  readonly mean: Float32Array;
  /** Per-dimension std, floored (all equal for 'global', ones for 'none'). */
  readonly std: Float32Array;
}

/** Shape of the conv1d front end for a given input size. */
interface ConvPlan {
  /** Input length after zero padding to a multiple of kernel^blocks. */
  readonly paddedDim: number;
  /** Sequence length after each block. */
  readonly lengths: number[];
  /** Channels after each block. */
  readonly channels: number[];
  /** Flattened size after the last block. */
  readonly flatDim: number;
}

function convPlan(cfg: VaeConfig, inputDim: number): ConvPlan {
  const k = cfg.convKernel;
  const blocks = cfg.convChannels.length;
  const unit = Math.pow(k, blocks);
  const paddedDim = Math.ceil(inputDim / unit) * unit;
  const lengths: number[] = [];
  let len = paddedDim;
  for (let i = 0; i < blocks; i++) {
    len = len / k;
    lengths.push(len);
  }
  const last = cfg.convChannels[blocks - 1];
  return {
    paddedDim,
    lengths,
    channels: [...cfg.convChannels],
    flatDim: lengths[blocks - 1] * last,
  };
}

function vaeLayout(cfg: VaeConfig, inputDim: number): ParamDef[] {
  const defs: ParamDef[] = [];
  const denseDef = (name: string, i: number, o: number, init: ParamDef['init']) => {
    defs.push({ name: `${name}.w`, shape: [i, o], init });
    defs.push({ name: `${name}.b`, shape: [o], init: 'zero' });
  };
  const lnDef = (name: string, d: number) => {
    defs.push({ name: `${name}.g`, shape: [d], init: 'one' });
    defs.push({ name: `${name}.b`, shape: [d], init: 'zero' });
  };
  let encIn = inputDim;
  if (cfg.arch === 'conv1d') {
    const plan = convPlan(cfg, inputDim);
    let c = 1;
    plan.channels.forEach((ch, i) => {
      denseDef(`enc.conv${i}`, c * cfg.convKernel, ch, 'he');
      c = ch;
    });
    encIn = plan.flatDim;
  }
  let d = encIn;
  cfg.hidden.forEach((h, i) => {
    denseDef(`enc.${i}`, d, h, 'he');
    if (cfg.layerNorm) lnDef(`enc.${i}.ln`, h);
    d = h;
  });
  denseDef('enc.mu', d, cfg.latentDim, 'glorot');
  denseDef('enc.logvar', d, cfg.latentDim, 'zero');
  const rev = [...cfg.hidden].reverse();
  d = cfg.latentDim;
  rev.forEach((h, i) => {
    denseDef(`dec.${i}`, d, h, 'he');
    if (cfg.layerNorm) lnDef(`dec.${i}.ln`, h);
    d = h;
  });
  if (cfg.arch === 'conv1d') {
    const plan = convPlan(cfg, inputDim);
    denseDef('dec.flat', d, plan.flatDim, 'he');
    // Transposed blocks, deepest first: channels[i] → channels[i-1] (or 1) × kernel.
    for (let i = plan.channels.length - 1; i >= 0; i--) {
      const outC = i === 0 ? 1 : plan.channels[i - 1];
      denseDef(
        `dec.deconv${i}`,
        plan.channels[i],
        outC * cfg.convKernel,
        i === 0 ? 'glorot' : 'he',
      );
    }
  } else {
    denseDef('dec.out', d, inputDim, 'glorot');
  }
  return defs;
}

function createParams(cfg: VaeConfig, inputDim: number, rng: Rng): ParamSet {
  return createParamSet('vae', vaeLayout(cfg, inputDim), rng);
}

/** Compute standardisation stats of an n×dim matrix. */
export function computeNormStats(
  vectors: Float32Array,
  n: number,
  dim: number,
  mode: VaeConfig['normalise'],
  stdFloor: number,
): VaeNormStats {
  const mean = new Float32Array(dim);
  const std = new Float32Array(dim);
  if (mode === 'none') {
    std.fill(1);
    return { mean, std };
  }
  if (mode === 'global') {
    let s = 0;
    for (let i = 0; i < vectors.length; i++) s += vectors[i];
    const m = s / vectors.length;
    let v = 0;
    for (let i = 0; i < vectors.length; i++) v += (vectors[i] - m) ** 2;
    mean.fill(m);
    std.fill(Math.max(Math.sqrt(v / vectors.length), stdFloor));
    return { mean, std };
  }
  const acc = new Float64Array(dim);
  for (let r = 0; r < n; r++) {
    const o = r * dim;
    for (let j = 0; j < dim; j++) acc[j] += vectors[o + j];
  }
  for (let j = 0; j < dim; j++) mean[j] = acc[j] / n;
  acc.fill(0);
  for (let r = 0; r < n; r++) {
    const o = r * dim;
    for (let j = 0; j < dim; j++) acc[j] += (vectors[o + j] - mean[j]) ** 2;
  }
  for (let j = 0; j < dim; j++) std[j] = Math.max(Math.sqrt(acc[j] / n), stdFloor);
  return { mean, std };
}

/** The JSON descriptor saved beside the weights. */
const VaeFileSchema = z.object({
  format: z.literal('d2nwg-weight-vae'),
  version: z.literal(VAE_FORMAT_VERSION),
  inputDim: z.number().int().positive(),
  latentDim: z.number().int().positive(),
  config: VaeConfigSchema,
  norm: z.object({ mean: z.array(z.number()), std: z.array(z.number().positive()) }),
});

/** Forward pieces shared by training (on variables) and inference. */
export class VaeNet {
  constructor(
    readonly cfg: VaeConfig,
    readonly inputDim: number,
  ) {}

  private hiddenAct(
    p: Record<string, tf.Tensor>,
    name: string,
    x: tf.Tensor2D,
    inputGrad = true,
  ): tf.Tensor2D {
    let h = dense(p, name, x, inputGrad);
    if (this.cfg.layerNorm) h = layerNorm(p, `${name}.ln`, h);
    return act(h, this.cfg.activation);
  }

  /** Normalised vectors [B, dim] → (μ, log σ²) [B, latent]. */
  encode(p: Record<string, tf.Tensor>, x: tf.Tensor2D): { mu: tf.Tensor2D; logvar: tf.Tensor2D } {
    const b = x.shape[0];
    let h = x;
    if (this.cfg.arch === 'conv1d') {
      const plan = convPlan(this.cfg, this.inputDim);
      const k = this.cfg.convKernel;
      if (plan.paddedDim > this.inputDim)
        h = tf.pad(h, [
          [0, 0],
          [0, plan.paddedDim - this.inputDim],
        ]);
      let c = 1;
      plan.channels.forEach((ch, i) => {
        // [B, L·c] → rows of one window each [B·L/k, k·c] → [B·L/k, ch].
        const rows = tf.reshape(h, [b * plan.lengths[i], k * c]) as tf.Tensor2D;
        const y = act(dense(p, `enc.conv${i}`, rows, i > 0), this.cfg.activation);
        h = tf.reshape(y, [b, plan.lengths[i] * ch]) as tf.Tensor2D;
        c = ch;
      });
    }
    const conv = this.cfg.arch === 'conv1d';
    this.cfg.hidden.forEach((_, i) => {
      h = this.hiddenAct(p, `enc.${i}`, h, conv || i > 0);
    });
    const mu = dense(p, 'enc.mu', h);
    const logvar = tf.clipByValue(dense(p, 'enc.logvar', h), LOGVAR_MIN, LOGVAR_MAX);
    return { mu, logvar };
  }

  /** Latents [B, latent] → normalised vectors [B, dim]. */
  decode(p: Record<string, tf.Tensor>, z: tf.Tensor2D): tf.Tensor2D {
    const b = z.shape[0];
    let h = z;
    this.cfg.hidden.forEach((_, i) => {
      h = this.hiddenAct(p, `dec.${i}`, h);
    });
    if (this.cfg.arch !== 'conv1d') return dense(p, 'dec.out', h);
    const plan = convPlan(this.cfg, this.inputDim);
    const k = this.cfg.convKernel;
    h = act(dense(p, 'dec.flat', h), this.cfg.activation);
    for (let i = plan.channels.length - 1; i >= 0; i--) {
      const rows = tf.reshape(h, [b * plan.lengths[i], plan.channels[i]]) as tf.Tensor2D;
      let y = dense(p, `dec.deconv${i}`, rows);
      if (i > 0) y = act(y, this.cfg.activation);
      const outC = i === 0 ? 1 : plan.channels[i - 1];
      h = tf.reshape(y, [b, plan.lengths[i] * k * outC]) as tf.Tensor2D;
    }
    if (plan.paddedDim > this.inputDim) h = tf.slice(h, [0, 0], [b, this.inputDim]);
    return h;
  }
}

export interface WeightVaeParts {
  /** Config the VAE was built with. */
  readonly config: VaeConfig;
  /** Length of a weight vector. */
  readonly inputDim: number;
  /** Standardisation stats. */
  readonly norm: VaeNormStats;
  /** Parameters (ownership passes to the WeightVae). */
  readonly params: ParamSet;
}

/**
 * A trained weight VAE. Owns its tensors: call dispose() when done. All I/O is plain Float32Array
 * in weight space (decode de-normalises), row-major with an explicit row count.
 */
export class WeightVae {
  readonly inputDim: number;
  readonly latentDim: number;
  readonly config: VaeConfig;
  readonly norm: VaeNormStats;
  private readonly params: ParamSet;
  private readonly net: VaeNet;
  private readonly meanT: tf.Tensor1D;
  private readonly stdT: tf.Tensor1D;

  constructor(parts: WeightVaeParts) {
    this.config = parts.config;
    this.inputDim = parts.inputDim;
    this.latentDim = parts.config.latentDim;
    this.norm = parts.norm;
    this.params = parts.params;
    this.net = new VaeNet(parts.config, parts.inputDim);
    this.meanT = tf.tensor1d(parts.norm.mean);
    this.stdT = tf.tensor1d(parts.norm.std);
  }

  /** Build an untrained VAE (seeded); trainVae uses it, tests may too. */
  static create(config: VaeConfig, inputDim: number, norm: VaeNormStats, rng: Rng): WeightVae {
    const params = createParams(config, inputDim, rng);
    return new WeightVae({ config, inputDim, norm, params });
  }

  /** The trainable variables, in layout order (for the trainer). */
  variables(): tf.Variable[] {
    return this.params.variables();
  }

  /** Parameter count. */
  size(): number {
    return this.params.size();
  }

  /** Forward network (for the trainer). */
  network(): VaeNet {
    return this.net;
  }

  /** Parameter map (for the trainer). */
  paramRecord(): Record<string, tf.Tensor> {
    return this.params.asRecord();
  }

  /** Weight space → normalised space. */
  normalise(x: tf.Tensor2D): tf.Tensor2D {
    return tf.div(tf.sub(x, this.meanT), this.stdT);
  }

  /** Normalised space → weight space. */
  denormalise(x: tf.Tensor2D): tf.Tensor2D {
    return tf.add(tf.mul(x, this.stdT), this.meanT);
  }

  /**
   * Values per vector at each hidden layer: the widths of the MLP, or (conv1d) at most the input
   * length times the layer's channels, a safe upper bound for sizing chunks.
   */
  private activationWidths(): number[] {
    const { hidden, arch } = this.config;
    return arch === 'conv1d' ? hidden.map((c) => c * this.inputDim) : [...hidden];
  }

  private async chunked(
    data: Float32Array,
    n: number,
    inDim: number,
    outDim: number,
    f: (x: tf.Tensor2D, rows: number, start: number) => tf.Tensor2D,
  ): Promise<Float32Array> {
    const out = new Float32Array(n * outDim);
    // Widest row of the pass: input, output or a hidden layer of the network.
    const widest = Math.max(inDim, outDim, ...this.activationWidths());
    const chunk = rowsPerDeviceBuffer(4 * widest, CHUNK);
    for (let s = 0; s < n; s += chunk) {
      const rows = Math.min(chunk, n - s);
      const y = tf.tidy(() => {
        const x = tf.tensor2d(data.subarray(s * inDim, (s + rows) * inDim), [rows, inDim]);
        return f(x, rows, s);
      });
      try {
        out.set(await y.data(), s * outDim);
      } finally {
        y.dispose();
      }
    }
    return out;
  }

  /** Latent means μ(w), n×latentDim: the deterministic code the diffusion model is trained on. */
  encodeMean(vectors: Float32Array, n: number): Promise<Float32Array> {
    checkMatrix(vectors, n, this.inputDim, 'vae.encodeMean vectors');
    const p = this.params.asRecord();
    return this.chunked(vectors, n, this.inputDim, this.latentDim, (x) => {
      const { mu } = this.net.encode(p, this.normalise(x));
      return mu;
    });
  }

  /** Latent draws z = μ + σ·ε (seeded by `rng`), n×latentDim. */
  encodeSample(vectors: Float32Array, n: number, rng: Rng): Promise<Float32Array> {
    checkMatrix(vectors, n, this.inputDim, 'vae.encodeSample vectors');
    const p = this.params.asRecord();
    const eps = rng.normalArray(n * this.latentDim);
    return this.chunked(vectors, n, this.inputDim, this.latentDim, (x, rows, start) => {
      const { mu, logvar } = this.net.encode(p, this.normalise(x));
      const e = tf.tensor2d(eps.subarray(start * this.latentDim, (start + rows) * this.latentDim), [
        rows,
        this.latentDim,
      ]);
      return tf.add(mu, tf.mul(tf.exp(tf.mul(logvar, 0.5)), e));
    });
  }

  /** Latents → weight vectors (de-normalised), n×inputDim. */
  decode(z: Float32Array, n: number): Promise<Float32Array> {
    checkMatrix(z, n, this.latentDim, 'vae.decode latents');
    const p = this.params.asRecord();
    return this.chunked(z, n, this.latentDim, this.inputDim, (x) =>
      this.denormalise(this.net.decode(p, x)),
    );
  }

  /** encode (means) then decode: what a zoo member looks like after the round trip. */
  async reconstruct(vectors: Float32Array, n: number): Promise<Float32Array> {
    return this.decode(await this.encodeMean(vectors, n), n);
  }

  /**
   * Save as a folder: vae.json (format, config, dims, normalisation stats) and
   * weights.safetensors, written into a temp folder and renamed, so no half model is ever seen.
   */
  async save(dir: string): Promise<void> {
    const descriptor: z.input<typeof VaeFileSchema> = {
      format: 'd2nwg-weight-vae',
      version: VAE_FORMAT_VERSION,
      inputDim: this.inputDim,
      latentDim: this.latentDim,
      config: this.config,
      norm: { mean: Array.from(this.norm.mean), std: Array.from(this.norm.std) },
    };
    const tensors = await this.params.toStTensors();
    await writeDirAtomic(dir, async (tmp) => {
      await writeSafetensors(`${tmp}/${WEIGHTS_NAME}`, tensors, {
        format: 'd2nwg-weight-vae',
        version: String(VAE_FORMAT_VERSION),
      });
      await fsWriteJson(`${tmp}/${JSON_NAME}`, descriptor);
    });
  }

  /** Load a folder written by save(); anything inconsistent is an InputError naming the file. */
  static async load(dir: string): Promise<WeightVae> {
    const jsonPath = `${dir}/${JSON_NAME}`;
    const desc = await readJsonFile(jsonPath, VaeFileSchema);
    if (desc.latentDim !== desc.config.latentDim) {
      throw new InputError(
        `latentDim ${desc.latentDim} disagrees with config.latentDim ${desc.config.latentDim}`,
        jsonPath,
      );
    }
    if (desc.norm.mean.length !== desc.inputDim || desc.norm.std.length !== desc.inputDim) {
      throw new InputError(`norm stats must have inputDim = ${desc.inputDim} entries`, jsonPath);
    }
    const weightsPath = `${dir}/${WEIGHTS_NAME}`;
    const { tensors } = await readSafetensors(weightsPath);
    const expected = new Map<string, number[]>();
    for (const def of vaeLayout(desc.config, desc.inputDim)) expected.set(def.name, def.shape);
    const params = paramSetFromStTensors('vae', tensors, expected, weightsPath);
    return new WeightVae({
      config: desc.config,
      inputDim: desc.inputDim,
      norm: { mean: Float32Array.from(desc.norm.mean), std: Float32Array.from(desc.norm.std) },
      params,
    });
  }

  dispose(): void {
    this.params.dispose();
    this.meanT.dispose();
    this.stdT.dispose();
  }
}

async function fsWriteJson(file: string, value: unknown): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}
