/**
 * Linear discriminant analysis with a shrunk shared covariance: the closed-form linear classifier
 * of K Gaussian classes with one covariance. It is the zero-training reference one step above the
 * nearest class mean (which is LDA with an isotropic covariance, shrinkage 1), and the head fitted
 * on a generated body's hidden features (`discriminantHead` in protohead.ts). Plain typed arrays,
 * float64 accumulation: no tensors, nothing to dispose.
 */
import { InputError } from '../errors.ts';
import { agreement } from './memorisation.ts';

/** A linear classifier: logits = x·weights + bias, weights p × k (row-major), bias k. */
export interface LinearClassifier {
  readonly weights: Float64Array;
  readonly bias: Float64Array;
  readonly inputs: number;
  readonly classes: number;
}

/** Default shrinkage of the pooled covariance toward a scaled identity. */
export const DEFAULT_SHRINKAGE = 0.1;

/**
 * Fits LDA on `x` (n × p) with labels `y` in [0, k): class means μ_c, the pooled within-class
 * covariance S, shrunk to Σ = (1 − λ)·S + λ·(tr S / p)·I, then w_c = Σ⁻¹μ_c, b_c = −μ_cᵀΣ⁻¹μ_c / 2
 * (equal priors). λ > 0 keeps Σ invertible when there are fewer samples than features.
 */
export function fitDiscriminant(
  x: Float32Array,
  y: Int32Array,
  k: number,
  p: number,
  shrinkage = DEFAULT_SHRINKAGE,
): LinearClassifier {
  const n = y.length;
  if (!(shrinkage >= 0 && shrinkage <= 1)) {
    throw new InputError(`LDA shrinkage must be in [0, 1], got ${shrinkage}`);
  }
  if (!Number.isInteger(k) || k < 2) throw new InputError(`LDA needs at least 2 classes, got ${k}`);
  if (x.length !== n * p) {
    throw new InputError(`LDA: ${x.length} feature values do not hold ${n} samples of ${p}`);
  }
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) {
      throw new InputError(`LDA: feature ${i % p} of sample ${Math.floor(i / p)} is ${x[i]}`);
    }
  }
  const mu = new Float64Array(k * p);
  const counts = new Int32Array(k);
  for (let i = 0; i < n; i++) {
    const c = y[i];
    if (!(c >= 0 && c < k))
      throw new InputError(`LDA: label ${c} of sample ${i} is not in [0, ${k})`);
    counts[c]++;
    for (let f = 0; f < p; f++) mu[c * p + f] += x[i * p + f];
  }
  for (let c = 0; c < k; c++) {
    if (counts[c] === 0) throw new InputError(`LDA: class ${c} has no samples`);
    for (let f = 0; f < p; f++) mu[c * p + f] /= counts[c];
  }
  // Pooled within-class covariance (lower triangle, then mirrored).
  const cov = new Float64Array(p * p);
  const dev = new Float64Array(p);
  for (let i = 0; i < n; i++) {
    const c = y[i];
    for (let f = 0; f < p; f++) dev[f] = x[i * p + f] - mu[c * p + f];
    for (let a = 0; a < p; a++) {
      const da = dev[a];
      for (let b = 0; b <= a; b++) cov[a * p + b] += da * dev[b];
    }
  }
  const dof = Math.max(1, n - k);
  let trace = 0;
  for (let a = 0; a < p; a++) {
    for (let b = 0; b <= a; b++) {
      cov[a * p + b] /= dof;
      cov[b * p + a] = cov[a * p + b];
    }
    trace += cov[a * p + a];
  }
  // A floor keeps Σ positive definite when every feature is constant (e.g. dead hidden units).
  const ridge = Math.max((shrinkage * trace) / p, 1e-9 * Math.max(1, trace / p), 1e-12);
  for (let a = 0; a < p; a++) {
    for (let b = 0; b < p; b++) cov[a * p + b] *= 1 - shrinkage;
    cov[a * p + a] += ridge;
  }
  const chol = cholesky(cov, p);
  const weights = new Float64Array(p * k);
  const bias = new Float64Array(k);
  for (let c = 0; c < k; c++) {
    const m = mu.subarray(c * p, (c + 1) * p);
    const w = choleskySolve(chol, p, m);
    let q = 0;
    for (let f = 0; f < p; f++) {
      weights[f * k + c] = w[f];
      q += w[f] * m[f];
    }
    bias[c] = -q / 2;
  }
  return { weights, bias, inputs: p, classes: k };
}

/** Arg-max class of each row of `x` (n × p) under a linear classifier. */
export function linearPredict(model: LinearClassifier, x: Float32Array): Int32Array {
  const { weights, bias, inputs: p, classes: k } = model;
  const n = Math.floor(x.length / p);
  const out = new Int32Array(n);
  const z = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    z.set(bias);
    for (let f = 0; f < p; f++) {
      const v = x[i * p + f];
      for (let c = 0; c < k; c++) z[c] += v * weights[f * k + c];
    }
    let best = 0;
    for (let c = 1; c < k; c++) if (z[c] > z[best]) best = c;
    out[i] = best;
  }
  return out;
}

/**
 * Accuracy of LDA fitted on (xTrain, yTrain) and tested on (xTest, yTest), on raw features (NaN
 * for an empty test set).
 */
export function ldaAccuracy(
  xTrain: Float32Array,
  yTrain: Int32Array,
  xTest: Float32Array,
  yTest: Int32Array,
  k: number,
  d: number,
  shrinkage = DEFAULT_SHRINKAGE,
): number {
  if (xTest.length !== yTest.length * d) {
    throw new InputError(
      `LDA: ${xTest.length} test values do not hold ${yTest.length} samples of ${d}`,
    );
  }
  return agreement(linearPredict(fitDiscriminant(xTrain, yTrain, k, d, shrinkage), xTest), yTest);
}

/** Lower-triangular L with L·Lᵀ = a (a symmetric positive definite, p × p). */
function cholesky(a: Float64Array, p: number): Float64Array {
  const l = new Float64Array(p * p);
  for (let i = 0; i < p; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * p + j];
      for (let q = 0; q < j; q++) s -= l[i * p + q] * l[j * p + q];
      if (i === j) {
        if (!(s > 0)) throw new InputError('LDA: the covariance is not positive definite');
        l[i * p + i] = Math.sqrt(s);
      } else {
        l[i * p + j] = s / l[j * p + j];
      }
    }
  }
  return l;
}

/** Solves L·Lᵀ·x = b. */
function choleskySolve(l: Float64Array, p: number, b: ArrayLike<number>): Float64Array {
  const y = new Float64Array(p);
  for (let i = 0; i < p; i++) {
    let s = b[i];
    for (let q = 0; q < i; q++) s -= l[i * p + q] * y[q];
    y[i] = s / l[i * p + i];
  }
  const x = new Float64Array(p);
  for (let i = p - 1; i >= 0; i--) {
    let s = y[i];
    for (let q = i + 1; q < p; q++) s -= l[q * p + i] * x[q];
    x[i] = s / l[i * p + i];
  }
  return x;
}
