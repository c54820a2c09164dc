/**
 * A trained latent diffusion model (D2NWG stage 4): p(z | dataset embedding) over VAE latents.
 * It keeps the EMA weights only (what sampling uses), the latent scale factor, and the schedule.
 * Samples are returned in VAE latent units, ready for WeightVae.decode.
 */
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import type {
  DiffusionConfig,
  SamplerConfig,
  SamplerConfigInput,
} from '../../../shared/schemas/diffusion.ts';
import {
  DiffusionConfig as DiffusionConfigSchema,
  SamplerConfig as SamplerConfigSchema,
} from '../../../shared/schemas/diffusion.ts';
import { InputError, parseConfig } from '../errors.ts';
import { writeFileAtomic } from '../formats/atomic.ts';
import { readSafetensors, writeSafetensors } from '../formats/safetensors.ts';
import { ParamSet, paramSetFromStTensors } from '../common/params.ts';
import { writeDirAtomic } from '../common/persist.ts';
import { readJsonFile } from '../formats/json-file.ts';
import { readAndDispose } from '../common/readback.ts';
import type { Rng } from '../rng.ts';
import { denoise, denoiserLayout } from './denoiser.ts';
import type { SamplerStepInfo } from './sampler.ts';
import { runSampler, samplerNoiseCount } from './sampler.ts';
import { StepGraph } from '../kernels/webgpu-graph.ts';
import { useDeviceSteps } from '../common/optim.ts';
import type { Schedule } from './schedule.ts';
import { makeSchedule } from './schedule.ts';

/** Version of the saved folder layout; bump on incompatible changes. */
export const DIFFUSION_FORMAT_VERSION = 1;
const JSON_NAME = 'diffusion.json';
const WEIGHTS_NAME = 'weights.safetensors';

const DiffusionFileSchema = z.object({
  format: z.literal('d2nwg-latent-diffusion'),
  version: z.literal(DIFFUSION_FORMAT_VERSION),
  latentDim: z.number().int().positive(),
  condDim: z.number().int().positive(),
  latentScale: z.number().positive(),
  config: DiffusionConfigSchema,
});

/** The schedule a config describes. */
export function scheduleFor(cfg: DiffusionConfig): Schedule {
  return makeSchedule(cfg.timesteps, cfg.schedule, {
    linearStart: cfg.linearStart,
    linearEnd: cfg.linearEnd,
  });
}

export interface SampleArgs {
  /** Condition: one row of condDim values (shared by all samples) or n rows. */
  readonly cond: Float32Array;
  /** Number of latents to draw. */
  readonly n: number;
  /** Seeds x_T and the per-step noise: same rng state → same samples. */
  readonly rng: Rng;
  /** Sampler settings (defaults: DDIM, 50 steps, η = 0, guidance 1). */
  readonly sampler?: SamplerConfig | SamplerConfigInput;
  /** Per-step callback (tests, progress). */
  readonly onStep?: (info: SamplerStepInfo) => void;
}

export interface LatentDiffusionParts {
  readonly config: DiffusionConfig;
  readonly latentDim: number;
  readonly condDim: number;
  /** Latents were multiplied by this before training (1/std); samples are divided by it. */
  readonly latentScale: number;
  /** EMA weights (ownership passes to the model). */
  readonly params: ParamSet;
}

/** Trained conditional latent diffusion model; owns its tensors (dispose() when done). */
export class LatentDiffusion {
  readonly latentDim: number;
  readonly condDim: number;
  readonly config: DiffusionConfig;
  readonly latentScale: number;
  readonly schedule: Schedule;
  private readonly params: ParamSet;

  constructor(parts: LatentDiffusionParts) {
    this.config = parts.config;
    this.latentDim = parts.latentDim;
    this.condDim = parts.condDim;
    this.latentScale = parts.latentScale;
    this.params = parts.params;
    this.schedule = scheduleFor(parts.config);
  }

  /** Parameter count. */
  size(): number {
    return this.params.size();
  }

  /** The null condition rows [n, condDim] (learned or zeros). */
  private nullCond(n: number): tf.Tensor2D {
    return tf.tidy(() => {
      if (this.params.has('null')) {
        return tf.tile(tf.reshape(this.params.get('null'), [1, this.condDim]), [n, 1]);
      }
      return tf.zeros([n, this.condDim]);
    });
  }

  /** ε̂ with classifier-free guidance: ε_u + g·(ε_c − ε_u); g = 1 skips the unconditional pass. */
  private guidedEps(xt: tf.Tensor2D, t: number, cond: tf.Tensor2D, guidance: number): tf.Tensor2D {
    const p = this.params.asRecord();
    const cfg = this.config.denoiser;
    return tf.tidy(() => {
      const n = xt.shape[0];
      if (guidance === 1) {
        return denoise(p, cfg, { xt, t: new Array<number>(n).fill(t), cond });
      }
      const nul = this.nullCond(n);
      if (guidance === 0)
        return denoise(p, cfg, { xt, t: new Array<number>(n).fill(t), cond: nul });
      const both = denoise(p, cfg, {
        xt: tf.concat([xt, xt], 0),
        t: new Array<number>(2 * n).fill(t),
        cond: tf.concat([cond, nul], 0),
      });
      const epsC = tf.slice(both, [0, 0], [n, this.latentDim]);
      const epsU = tf.slice(both, [n, 0], [n, this.latentDim]);
      return tf.add(epsU, tf.mul(tf.sub(epsC, epsU), guidance));
    });
  }

  /**
   * Draw n latents for a condition, in VAE latent units (n×latentDim). Batched over n, one tidy
   * per step; seeded by `rng`.
   */
  async sample(args: SampleArgs): Promise<Float32Array> {
    const { n } = args;
    if (!Number.isInteger(n) || n <= 0) throw new InputError(`n must be > 0, got ${n}`, 'sample');
    const sampler = parseConfig(SamplerConfigSchema, args.sampler ?? {}, 'sampler');
    const c = args.cond;
    if (c.length !== this.condDim && c.length !== n * this.condDim) {
      throw new InputError(
        `expected ${this.condDim} or ${n}×${this.condDim} values, got ${c.length}`,
        'sample cond',
      );
    }
    for (let i = 0; i < c.length; i++) {
      if (!Number.isFinite(c[i])) throw new InputError(`non-finite value at ${i}`, 'sample cond');
    }
    const cond = tf.tidy(() => {
      const rows = c.length === this.condDim ? 1 : n;
      const t = tf.tensor2d(c, [rows, this.condDim]);
      return rows === 1 ? tf.tile(t, [n, 1]) : t;
    });
    try {
      if (!args.onStep && useDeviceSteps()) {
        const dim = this.latentDim;
        // The same draws in the same order as runSampler's own: x_T, then each step's noise.
        const draws = [args.rng.normalArray(n * dim)];
        const k = samplerNoiseCount(this.schedule, sampler);
        for (let i = 0; i < k; i++) draws.push(args.rng.normalArray(n * dim));
        const rows = new Float32Array(n * this.condDim);
        for (let i = 0; i < n; i++) {
          rows.set(
            c.length === this.condDim ? c : c.subarray(i * this.condDim, (i + 1) * this.condDim),
            i * this.condDim,
          );
        }
        const [out] = await this.sampleGraph(n, sampler, k).run([...draws, rows]);
        return out;
      }
      const x = runSampler({
        schedule: this.schedule,
        n,
        dim: this.latentDim,
        rng: args.rng,
        sampler,
        eps: (xt, t) => this.guidedEps(xt, t, cond, sampler.guidance),
        onStep: args.onStep,
      });
      const out = tf.tidy(() => tf.div(x, this.latentScale));
      x.dispose();
      return await readAndDispose(out);
    } finally {
      cond.dispose();
    }
  }

  /** Sampling graphs on webgpu, by row count and sampler settings. */
  private readonly graphs = new Map<string, StepGraph>();

  /**
   * The whole reverse process as one replayed graph (kernels/webgpu-graph.ts): inputs x_T, the
   * step noises and the condition rows; output the latents. Thousands of small kernels a run, so
   * on a GPU the per-op cost of running them through tfjs is most of sampling's time.
   */
  private sampleGraph(n: number, sampler: SamplerConfig, noises: number): StepGraph {
    const key = `${n}:${JSON.stringify(sampler)}`;
    let g = this.graphs.get(key);
    if (!g) {
      const dim = this.latentDim;
      const rows = { shape: [n, dim], dtype: 'float32' as const };
      g = new StepGraph(
        [
          rows,
          ...new Array<typeof rows>(noises).fill(rows),
          { shape: [n, this.condDim], dtype: 'float32' },
        ],
        (inputs) => {
          const cond = inputs[inputs.length - 1] as tf.Tensor2D;
          const x = runSampler(
            {
              schedule: this.schedule,
              n,
              dim,
              sampler,
              eps: (xt, t) => this.guidedEps(xt, t, cond, sampler.guidance),
            },
            {
              initial: () => tf.clone(inputs[0] as tf.Tensor2D),
              noise: (i) => tf.clone(inputs[1 + i] as tf.Tensor2D),
            },
          );
          return [tf.div(x, this.latentScale)];
        },
      );
      this.graphs.set(key, g);
    }
    return g;
  }

  /** Save as a folder (diffusion.json + weights.safetensors), atomically. */
  async save(dir: string): Promise<void> {
    const desc: z.input<typeof DiffusionFileSchema> = {
      format: 'd2nwg-latent-diffusion',
      version: DIFFUSION_FORMAT_VERSION,
      latentDim: this.latentDim,
      condDim: this.condDim,
      latentScale: this.latentScale,
      config: this.config,
    };
    const tensors = await this.params.toStTensors();
    await writeDirAtomic(dir, async (tmp) => {
      await writeSafetensors(`${tmp}/${WEIGHTS_NAME}`, tensors, {
        format: 'd2nwg-latent-diffusion',
        version: String(DIFFUSION_FORMAT_VERSION),
      });
      await writeFileAtomic(`${tmp}/${JSON_NAME}`, `${JSON.stringify(desc, null, 2)}\n`);
    });
  }

  /** Load a folder written by save(); inconsistencies are InputErrors naming the file. */
  static async load(dir: string): Promise<LatentDiffusion> {
    const desc = await readJsonFile(`${dir}/${JSON_NAME}`, DiffusionFileSchema);
    const weightsPath = `${dir}/${WEIGHTS_NAME}`;
    const { tensors } = await readSafetensors(weightsPath);
    const expected = new Map<string, number[]>();
    const defs = denoiserLayout(
      desc.config.denoiser,
      desc.latentDim,
      desc.condDim,
      desc.config.nullCond === 'learned',
    );
    for (const def of defs) expected.set(def.name, def.shape);
    const params = paramSetFromStTensors('diffusion', tensors, expected, weightsPath);
    return new LatentDiffusion({
      config: desc.config,
      latentDim: desc.latentDim,
      condDim: desc.condDim,
      latentScale: desc.latentScale,
      params,
    });
  }

  dispose(): void {
    for (const g of this.graphs.values()) g.dispose();
    this.graphs.clear();
    this.params.dispose();
  }
}

/** Parse a partial diffusion config, mapping problems to InputError. */
export function parseDiffusionConfig(cfg: unknown): DiffusionConfig {
  return parseConfig(DiffusionConfigSchema, cfg, 'diffusion config');
}
