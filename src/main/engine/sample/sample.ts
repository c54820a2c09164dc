/**
 * D2NWG inference (stage 5): encode a target dataset's support set, draw latents from the
 * conditional diffusion model, decode them with the weight VAE, cut the zero padding, and hand back
 * flat weight vectors of the target architecture. Ranking on the support data and model soups
 * (Table 4 of the paper) are optional post-steps. Works for a TaskSpec of any split and for a
 * user's own labelled features.
 */
import type { SamplerConfig } from '../../../shared/schemas/diffusion.ts';
import type { DatasetEncoder } from '../encoder/encoder.ts';
import { InputError } from '../errors.ts';
import type { LabelledData } from '../data/types.ts';
import { sampleSize } from '../data/types.ts';
import type { Layout } from '../nn/architecture.ts';
import { evaluateMany } from '../nn/train.ts';
import type { Rng } from '../rng.ts';
import type { WeightVae } from '../vae/model.ts';

/** What the sampler needs from a latent diffusion model (D1's LatentDiffusion satisfies it). */
export interface ConditionalLatentSampler {
  readonly latentDim: number;
  readonly condDim: number;
  sample(args: {
    readonly cond: Float32Array;
    readonly n: number;
    readonly rng: Rng;
    readonly sampler?: Partial<SamplerConfig>;
  }): Float32Array | Promise<Float32Array>;
}

/** The trained parts of a D2NWG generator. */
export interface GeneratorParts {
  /** Architecture of the generated models (the zoo's). */
  readonly layout: Layout;
  readonly vae: WeightVae;
  readonly encoder: DatasetEncoder;
  readonly diffusion: ConditionalLatentSampler;
}

export interface SampleWeightsArgs {
  readonly parts: GeneratorParts;
  /** Support set [K, perClass, d], classes in output order. */
  readonly support: Float32Array;
  readonly numClasses: number;
  readonly perClass: number;
  readonly featDim: number;
  /** Number of weight vectors to draw (N). */
  readonly count: number;
  readonly sampler: SamplerConfig;
  readonly rng: Rng;
}

/** Generated weights for one dataset. */
export interface SampledWeights {
  /** Flat weight vectors of `layout`, padding removed. */
  readonly vectors: Float32Array[];
  /** The latents they were decoded from, count × latentDim. */
  readonly latents: Float32Array;
  /** The dataset embedding used as the condition. */
  readonly embedding: Float32Array;
  readonly layout: Layout;
}

/** Refuse a target the generator cannot serve, saying what it expects and what it was given. */
export function checkTargetFits(
  parts: GeneratorParts,
  numClasses: number,
  featDim: number,
  where: string,
): void {
  const arch = parts.layout.arch;
  if (numClasses !== arch.outputs) {
    throw new InputError(
      `the target has ${numClasses} classes but the generator makes ${arch.outputs}-way classifiers`,
      where,
    );
  }
  if (arch.kind === 'mlp' && featDim !== arch.inputDim) {
    throw new InputError(
      `the target's features have dimension ${featDim} but the generated models take ${arch.inputDim}`,
      where,
    );
  }
  parts.encoder.checkGeometry(numClasses, parts.encoder.shape.perClass, featDim, where);
  if (parts.vae.inputDim < parts.layout.size) {
    throw new InputError(
      `the weight VAE makes vectors of ${parts.vae.inputDim} values, fewer than the ${parts.layout.size} the architecture needs`,
      where,
    );
  }
}

/** Draw `count` weight vectors conditioned on a support set. */
export async function sampleWeights(args: SampleWeightsArgs): Promise<SampledWeights> {
  const { parts, numClasses: k, perClass: n, featDim: d, count } = args;
  if (!Number.isInteger(count) || count < 1) {
    throw new InputError(`sample count must be a positive integer, got ${count}`, 'samples');
  }
  checkTargetFits(parts, k, d, 'conditioning dataset');
  const embedding = await parts.encoder.embed(args.support, k, n, d);
  if (embedding.length !== parts.diffusion.condDim) {
    throw new InputError(
      `the dataset encoder gives ${embedding.length}-d embeddings but the diffusion model was trained on ${parts.diffusion.condDim}-d conditions`,
      'generator',
    );
  }
  const latents = await parts.diffusion.sample({
    cond: embedding,
    n: count,
    rng: args.rng,
    sampler: args.sampler,
  });
  const decoded = await parts.vae.decode(latents, count);
  const dim = parts.vae.inputDim;
  const size = parts.layout.size;
  const vectors: Float32Array[] = [];
  for (let i = 0; i < count; i++) vectors.push(decoded.slice(i * dim, i * dim + size));
  return { vectors, latents, embedding, layout: parts.layout };
}

/**
 * Support set [K, perClass, d] from a user's labelled features, classes in `classOrder` (default:
 * label order). Too few samples in a class, or the wrong class count, is an InputError.
 */
export function supportFromLabelled(
  data: LabelledData,
  perClass: number,
  rng: Rng,
  classOrder?: readonly number[],
): Float32Array {
  const d = sampleSize(data);
  const order = classOrder ?? data.classNames.map((_, i) => i);
  const byClass = new Map<number, number[]>();
  for (const c of order) byClass.set(c, []);
  for (let i = 0; i < data.labels.length; i++) byClass.get(data.labels[i])?.push(i);
  const out = new Float32Array(order.length * perClass * d);
  order.forEach((c, p) => {
    const pool = byClass.get(c) ?? [];
    if (pool.length < perClass) {
      throw new InputError(
        `class '${data.classNames[c] ?? c}' has ${pool.length} samples, fewer than the ${perClass} per class the dataset encoder needs`,
        data.source,
      );
    }
    const pick = rng.sample(pool.length, perClass);
    for (let j = 0; j < perClass; j++) {
      const s = pool[pick[j]];
      out.set(data.x.subarray(s * d, (s + 1) * d), (p * perClass + j) * d);
    }
  });
  return out;
}

/** Samples ordered best first by accuracy on labelled data the user has (never the test set). */
export interface RankedSamples {
  /** Indices into the vectors, best first. */
  readonly order: number[];
  /** Accuracy of each vector (same order as the input vectors). */
  readonly accuracy: number[];
}

/** Rank weight vectors by accuracy on (x, y), e.g. the task's training support data. */
export async function rankByAccuracy(
  layout: Layout,
  vectors: readonly Float32Array[],
  x: Float32Array,
  y: Int32Array,
): Promise<RankedSamples> {
  const accuracy = (await evaluateMany(layout, vectors, x, y)).map((e) => e.accuracy);
  const order = accuracy.map((_, i) => i).sort((a, b) => accuracy[b] - accuracy[a] || a - b);
  return { order, accuracy };
}

/** Model soup: the element-wise mean of the vectors at `indices`. */
export function soup(vectors: readonly Float32Array[], indices: readonly number[]): Float32Array {
  if (indices.length === 0) throw new InputError('a soup needs at least one sample');
  const out = new Float32Array(vectors[indices[0]].length);
  for (const i of indices) {
    const v = vectors[i];
    for (let j = 0; j < out.length; j++) out[j] += v[j];
  }
  for (let j = 0; j < out.length; j++) out[j] /= indices.length;
  return out;
}

/**
 * Greedy model soup (Wortsman et al. 2022): walk the samples best first and keep each one whose
 * addition to the running average does not lower accuracy on (x, y), the task's own labelled
 * data. Samples from different modes (e.g. zoo runs from different seeds, whose hidden units are
 * not aligned) do not average well; the greedy rule leaves them out where a uniform soup would
 * not. Returns the soup and the indices it averages, best first.
 */
export async function greedySoup(
  layout: Layout,
  vectors: readonly Float32Array[],
  ranked: RankedSamples,
  x: Float32Array,
  y: Int32Array,
): Promise<{ readonly vector: Float32Array; readonly members: number[] }> {
  if (ranked.order.length === 0) throw new InputError('a soup needs at least one sample');
  const members = [ranked.order[0]];
  let best = ranked.accuracy[ranked.order[0]];
  let current = soup(vectors, members);
  for (const i of ranked.order.slice(1)) {
    const candidate = soup(vectors, [...members, i]);
    const [e] = await evaluateMany(layout, [candidate], x, y);
    if (e.accuracy >= best) {
      members.push(i);
      best = e.accuracy;
      current = candidate;
    }
  }
  return { vector: current, members };
}
