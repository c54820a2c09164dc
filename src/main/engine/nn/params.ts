/**
 * Flat parameter vectors: default initialisation, conversion to and from named tensors, and
 * zero-padding of vectors of different lengths into one matrix (as the paper does when zoo members
 * have different sizes).
 */
import type { Rng } from '../rng.ts';
import { InputError } from '../errors.ts';
import type { Layout } from './architecture.ts';

/**
 * The architecture's default initialisation, PyTorch-style: kernels ~ U(-1/√fanIn, 1/√fanIn)
 * (kaiming-uniform with a = √5) and biases ~ U(-1/√fanIn, 1/√fanIn). This is the "RandInit"
 * baseline and the start of every zoo run.
 */
export function initParams(layout: Layout, rng: Rng): Float32Array {
  const out = new Float32Array(layout.size);
  for (const p of layout.params) {
    const bound = 1 / Math.sqrt(p.fanIn);
    for (let i = 0; i < p.size; i++) out[p.offset + i] = (2 * rng.next() - 1) * bound;
  }
  return out;
}

/** Named parameter tensors as plain arrays, keyed by ParamSpec.name. */
export type NamedParams = Record<string, { readonly shape: readonly number[]; data: Float32Array }>;

/** Pack named tensors into one flat vector in layout order; refuses missing or mis-sized ones. */
export function flattenParams(layout: Layout, named: NamedParams, where = 'params'): Float32Array {
  const out = new Float32Array(layout.size);
  for (const p of layout.params) {
    const t = named[p.name];
    if (!t) throw new InputError(`missing parameter tensor '${p.name}'`, where);
    const same = t.shape.length === p.shape.length && t.shape.every((d, i) => d === p.shape[i]);
    if (!same || t.data.length !== p.size) {
      throw new InputError(
        `parameter '${p.name}' has shape [${t.shape.join(', ')}] (${t.data.length} values), expected [${p.shape.join(', ')}]`,
        where,
      );
    }
    out.set(t.data, p.offset);
  }
  return out;
}

/** Split a flat vector into named tensors (copies, so the result owns its memory). */
export function unflattenParams(layout: Layout, flat: Float32Array, where = 'params'): NamedParams {
  checkLength(layout, flat, where);
  const named: NamedParams = {};
  for (const p of layout.params) {
    named[p.name] = { shape: [...p.shape], data: flat.slice(p.offset, p.offset + p.size) };
  }
  return named;
}

/** Throw an InputError unless `flat` has exactly the layout's length. */
export function checkLength(layout: Layout, flat: ArrayLike<number>, where = 'params'): void {
  if (flat.length !== layout.size) {
    throw new InputError(
      `weight vector has ${flat.length} values, the architecture needs ${layout.size}`,
      where,
    );
  }
}

/** Vectors of different lengths stacked as one zero-padded row-major matrix. */
export interface PaddedVectors {
  /** `rows × dim` values, row-major; row i is vector i followed by zeros. */
  readonly data: Float32Array;
  /** Number of vectors. */
  readonly rows: number;
  /** Row length: the longest vector's length. */
  readonly dim: number;
  /** Original length of each vector, to cut the padding back off. */
  readonly sizes: readonly number[];
}

/** Zero-pad every vector to the longest one (or to `dim` if given and long enough). */
export function padVectors(vectors: readonly Float32Array[], dim?: number): PaddedVectors {
  const longest = vectors.reduce((m, v) => Math.max(m, v.length), 0);
  const d = dim ?? longest;
  if (d < longest) {
    throw new InputError(`cannot pad a vector of length ${longest} to ${d}`, 'padVectors');
  }
  const data = new Float32Array(vectors.length * d);
  vectors.forEach((v, i) => data.set(v, i * d));
  return { data, rows: vectors.length, dim: d, sizes: vectors.map((v) => v.length) };
}

/** Row `i` of a padded matrix cut back to `size` values (a copy). */
export function unpadVector(
  data: Float32Array,
  dim: number,
  i: number,
  size: number,
): Float32Array {
  if (size > dim) throw new InputError(`size ${size} exceeds the padded row length ${dim}`);
  if ((i + 1) * dim > data.length) {
    throw new InputError(`row ${i} is outside a matrix of ${data.length / dim} rows`);
  }
  return data.slice(i * dim, i * dim + size);
}
