/**
 * The simple baselines a weight generator must beat (METHOD.md, bench/QUALITY.md): S_KDE30
 * (Schürholt et al. 2022), noise-added nearest checkpoint (a fixed small noise, and noise matched
 * to the generated samples' novelty) and weight averaging (the memorisation critique,
 * arXiv 2506.07998), and a nearest-class-mean classifier that needs no
 * training at all. Plain typed arrays: no tensors, nothing to dispose.
 */
import { InputError } from '../errors.ts';
import type { Rng } from '../rng.ts';
import { nearestZoo, rowNorms2 } from './memorisation.ts';

/** A per-dimension Gaussian KDE over a set of latent vectors. */
export interface Kde {
  /** The kernel centres, count × dim. */
  readonly points: Float32Array;
  readonly count: number;
  readonly dim: number;
  /** Kernel std (the same in every dimension). */
  readonly bandwidth: number;
}

/**
 * Fit S_KDE30: keep the top `topFraction` of the rows by `scores` (best first) as kernel centres.
 * At least one row is kept.
 */
export function fitKde(
  latents: Float32Array,
  count: number,
  dim: number,
  scores: ArrayLike<number>,
  topFraction: number,
  bandwidth: number,
): Kde {
  if (latents.length !== count * dim) {
    throw new InputError(`KDE latents have ${latents.length} values, expected ${count}×${dim}`);
  }
  if (scores.length !== count)
    throw new InputError(`KDE needs ${count} scores, got ${scores.length}`);
  if (!(topFraction > 0 && topFraction <= 1)) {
    throw new InputError(`kdeTopFraction must be in (0, 1], got ${topFraction}`);
  }
  const order = Array.from({ length: count }, (_, i) => i).sort(
    (a, b) => scores[b] - scores[a] || a - b,
  );
  const keep = Math.max(1, Math.round(count * topFraction));
  const points = new Float32Array(keep * dim);
  for (let i = 0; i < keep; i++) {
    points.set(latents.subarray(order[i] * dim, (order[i] + 1) * dim), i * dim);
  }
  return { points, count: keep, dim, bandwidth };
}

/**
 * Draw from the product of independent per-dimension KDEs: each dimension picks its own random
 * centre, then adds N(0, bandwidth²). Unconditional, as in Schürholt et al.
 */
export function sampleKde(kde: Kde, n: number, rng: Rng): Float32Array {
  const out = new Float32Array(n * kde.dim);
  for (let s = 0; s < n; s++) {
    for (let j = 0; j < kde.dim; j++) {
      const c = rng.int(kde.count);
      out[s * kde.dim + j] = kde.points[c * kde.dim + j] + kde.bandwidth * rng.normal();
    }
  }
  return out;
}

/** Element-wise mean of `count` vectors of length `dim`. */
export function averageVectors(vectors: Float32Array, count: number, dim: number): Float32Array {
  if (count < 1) throw new InputError('cannot average zero weight vectors');
  const out = new Float32Array(dim);
  for (let i = 0; i < count; i++) for (let j = 0; j < dim; j++) out[j] += vectors[i * dim + j];
  for (let j = 0; j < dim; j++) out[j] /= count;
  return out;
}

/** Root mean square of a vector (the noise scale reference of noise_nearest). */
export function rms(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s / Math.max(1, v.length));
}

/** `base` + N(0, (relStd·rms(base))²) per weight. */
export function addNoise(base: Float32Array, relStd: number, rng: Rng): Float32Array {
  const std = relStd * rms(base);
  const out = new Float32Array(base.length);
  for (let i = 0; i < base.length; i++) out[i] = base[i] + std * rng.normal();
  return out;
}

/**
 * `base` + isotropic Gaussian noise rescaled to L2 norm exactly `norm`: a uniformly random
 * direction at distance `norm` from `base`. It is N(0, σ²I) with σ = norm/√D, its norm (which
 * concentrates at σ√D anyway) fixed, so the copy's distance to `base` is `norm` by construction.
 */
export function addNoiseWithNorm(base: Float32Array, norm: number, rng: Rng): Float32Array {
  if (!(norm >= 0) || !Number.isFinite(norm)) {
    throw new InputError(`the noise norm must be a finite number ≥ 0, got ${norm}`);
  }
  const dim = base.length;
  const z = new Float64Array(dim);
  let s = 0;
  for (let i = 0; i < dim; i++) {
    z[i] = rng.normal();
    s += z[i] * z[i];
  }
  const scale = s > 0 ? norm / Math.sqrt(s) : 0;
  const out = new Float32Array(dim);
  for (let i = 0; i < dim; i++) out[i] = base[i] + scale * z[i];
  return out;
}

/** One noise_matched copy: which zoo row it perturbs and how far. */
export interface NoiseMatchedCopy {
  /** The perturbed zoo checkpoint. */
  readonly vector: Float32Array;
  /** Zoo row of the source checkpoint: the generated sample's nearest zoo member (L2). */
  readonly sourceIndex: number;
  /** The generated sample's L2 distance to that member = the noise norm. */
  readonly distance: number;
}

/**
 * The novelty-matched noise baseline of the memorisation critique (arXiv 2506.07998): for each
 * generated sample, its nearest zoo checkpoint (L2 in flattened weight space, as in
 * memorisation.ts) plus isotropic Gaussian noise whose L2 norm equals the sample's distance to that
 * checkpoint. The copies are exactly as novel (as far from their nearest training checkpoint) as
 * the samples, so accuracy can be compared at equal novelty. Each copy draws from `rng` in order.
 */
export function noiseMatched(
  samples: readonly Float32Array[],
  zoo: Float32Array,
  count: number,
  dim: number,
  rng: Rng,
  zooNorms2: Float64Array = rowNorms2(zoo, count, dim),
): NoiseMatchedCopy[] {
  if (zoo.length !== count * dim) {
    throw new InputError(`the zoo has ${zoo.length} values, expected ${count}×${dim}`);
  }
  if (count < 1) throw new InputError('noise_matched needs at least one zoo checkpoint');
  return samples.map((v, s) => {
    if (v.length !== dim) {
      throw new InputError(`sample ${s} has ${v.length} weights, the zoo's members have ${dim}`);
    }
    const nn = nearestZoo(v, zoo, count, dim, zooNorms2);
    const source = zoo.subarray(nn.index * dim, (nn.index + 1) * dim);
    return {
      vector: addNoiseWithNorm(Float32Array.from(source), nn.l2, rng),
      sourceIndex: nn.index,
      distance: nn.l2,
    };
  });
}

/** Class means (K × d) of the training samples; a class without samples is an InputError. */
export function classMeans(x: Float32Array, y: Int32Array, k: number, d: number): Float32Array {
  const means = new Float32Array(k * d);
  const counts = new Int32Array(k);
  for (let i = 0; i < y.length; i++) {
    const c = y[i];
    counts[c]++;
    for (let j = 0; j < d; j++) means[c * d + j] += x[i * d + j];
  }
  for (let c = 0; c < k; c++) {
    if (counts[c] === 0) throw new InputError(`class ${c} has no training samples for NCM`);
    for (let j = 0; j < d; j++) means[c * d + j] /= counts[c];
  }
  return means;
}

/** Nearest-class-mean predictions (Euclidean) for `x` given class means. */
export function ncmPredict(means: Float32Array, k: number, d: number, x: Float32Array): Int32Array {
  const n = x.length / d;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = -1;
    let bestD = Infinity;
    for (let c = 0; c < k; c++) {
      let s = 0;
      for (let j = 0; j < d; j++) {
        const t = x[i * d + j] - means[c * d + j];
        s += t * t;
      }
      if (s < bestD) {
        bestD = s;
        best = c;
      }
    }
    out[i] = best;
  }
  return out;
}

/** Accuracy of a nearest-class-mean classifier fitted on (xTrain, yTrain), tested on (xTest, yTest). */
export function ncmAccuracy(
  xTrain: Float32Array,
  yTrain: Int32Array,
  xTest: Float32Array,
  yTest: Int32Array,
  k: number,
  d: number,
): number {
  const pred = ncmPredict(classMeans(xTrain, yTrain, k, d), k, d, xTest);
  let ok = 0;
  for (let i = 0; i < yTest.length; i++) if (pred[i] === yTest[i]) ok++;
  return yTest.length > 0 ? ok / yTest.length : 0;
}

/** One function-matched copy: its source, noise norm, and the agreement it was matched to. */
export interface FunctionMatchedCopy extends NoiseMatchedCopy {
  /** The generated sample's prediction agreement with the source, on the reference inputs. */
  readonly targetAgreement: number;
  /** The copy's prediction agreement with the source on the same inputs (≤ target, closest). */
  readonly agreement: number;
}

export interface NoiseFunctionMatchedArgs {
  /** Generated samples (flat weight vectors of length `dim`). */
  readonly samples: readonly Float32Array[];
  /** The zoo, count × dim row-major. */
  readonly zoo: Float32Array;
  readonly count: number;
  readonly dim: number;
  /**
   * Predicted classes of each weight vector on the reference inputs (the task's training
   * samples), in order: a model batch.
   */
  readonly predict: (ws: readonly Float32Array[]) => Promise<Int32Array[]>;
  /** Seeds each copy's noise direction, in order. */
  readonly rng: Rng;
  /** Bisection steps on the noise norm (default 12: the norm to 1/4096 of its bracket). */
  readonly steps?: number;
  readonly zooNorms2?: Float64Array;
}

/**
 * Noise matched in *function*: the novelty measure of the memorisation critique (arXiv
 * 2506.07998) is behavioural (which inputs a model gets wrong, compared with its nearest training
 * checkpoint), not a weight distance. For each generated sample: its nearest zoo checkpoint (L2),
 * one seeded isotropic noise direction, and the smallest noise norm (bracketed by doubling, then
 * bisected) at which the copy agrees with its source on the reference inputs no more than the
 * sample does. Reference inputs are training samples, never the test samples accuracy is scored on.
 * Weight-space flat directions make L2-matched noise nearly harmless; at equal behavioural novelty
 * the comparison asks whether the generator's differences are better than random ones.
 */
export async function noiseFunctionMatched(
  args: NoiseFunctionMatchedArgs,
): Promise<FunctionMatchedCopy[]> {
  const { samples, zoo, count, dim, predict, rng } = args;
  const steps = args.steps ?? 12;
  if (zoo.length !== count * dim) {
    throw new InputError(`the zoo has ${zoo.length} values, expected ${count}×${dim}`);
  }
  if (count < 1) throw new InputError('noise_fn_matched needs at least one zoo checkpoint');
  samples.forEach((v, s) => {
    if (v.length !== dim) {
      throw new InputError(`sample ${s} has ${v.length} weights, the zoo's members have ${dim}`);
    }
  });
  const norms2 = args.zooNorms2 ?? rowNorms2(zoo, count, dim);
  // Every sample's search runs in lockstep, so each round is one batched prediction of all the
  // copies still searching (a model batch) rather than one model at a time. Each search is the
  // same as alone: its own source, its own direction (drawn in sample order), its own bracket.
  const searches = samples.map((v) => {
    const nn = nearestZoo(v, zoo, count, dim, norms2);
    const source = Float32Array.from(zoo.subarray(nn.index * dim, (nn.index + 1) * dim));
    // One unit direction per copy, so agreement(norm) is a function of the norm alone.
    const dir = addNoiseWithNorm(new Float32Array(dim), 1, rng);
    return {
      nn,
      source,
      dir,
      ref: new Int32Array(0) as Int32Array<ArrayBufferLike>,
      target: 0,
      lo: 0,
      hi: Math.max(nn.l2, 1e-3),
      hiAgree: 0,
    };
  });
  const at = (k: number, norm: number): Float32Array => {
    const { source, dir } = searches[k];
    const w = new Float32Array(dim);
    for (let i = 0; i < dim; i++) w[i] = source[i] + norm * dir[i];
    return w;
  };
  const refs = await predict([...searches.map((x) => x.source), ...samples]);
  searches.forEach((x, k) => {
    x.ref = refs[k];
    x.target = agreementOf(refs[searches.length + k], x.ref);
  });
  /** Agreement with its source of search k's copy at each (k, norm), one batch. */
  const agreeAt = async (points: readonly (readonly [number, number])[]) => {
    if (points.length === 0) return [];
    const preds = await predict(points.map(([k, norm]) => at(k, norm)));
    return points.map(([k], j) => agreementOf(preds[j], searches[k].ref));
  };
  (await agreeAt(searches.map((x, k) => [k, x.hi] as const))).forEach((a, k) => {
    searches[k].hiAgree = a;
  });
  // Bracket: double the norm while the copy still agrees more than the sample.
  for (let i = 0; i < 30; i++) {
    const open = searches.flatMap((x, k) => (x.hiAgree > x.target ? [k] : []));
    if (open.length === 0) break;
    for (const k of open) {
      searches[k].lo = searches[k].hi;
      searches[k].hi *= 2;
    }
    (await agreeAt(open.map((k) => [k, searches[k].hi] as const))).forEach((a, j) => {
      searches[open[j]].hiAgree = a;
    });
  }
  // Bisect between the bracket's ends.
  const bracketed = searches.flatMap((x, k) => (x.hiAgree <= x.target ? [k] : []));
  for (let i = 0; i < steps && bracketed.length > 0; i++) {
    const mids = bracketed.map((k) => [k, (searches[k].lo + searches[k].hi) / 2] as const);
    (await agreeAt(mids)).forEach((a, j) => {
      const x = searches[mids[j][0]];
      if (a <= x.target) {
        x.hi = mids[j][1];
        x.hiAgree = a;
      } else {
        x.lo = mids[j][1];
      }
    });
  }
  return searches.map((x, k) => ({
    vector: at(k, x.hi),
    sourceIndex: x.nn.index,
    distance: x.hi,
    targetAgreement: x.target,
    agreement: x.hiAgree,
  }));
}

function agreementOf(a: Int32Array, b: Int32Array): number {
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return a.length > 0 ? same / a.length : 1;
}
