/**
 * Row-major matrix helpers on Float32Arrays: the engine passes zoos, latents and conditions
 * between stages as flat arrays with an explicit row count, and checks them once at the door.
 */
import { InputError } from '../errors.ts';

/** Copy rows `idx` of an n×dim matrix into a new idx.length×dim array. */
export function gatherRows(data: Float32Array, dim: number, idx: ArrayLike<number>): Float32Array {
  const out = new Float32Array(idx.length * dim);
  for (let i = 0; i < idx.length; i++) {
    const r = idx[i];
    out.set(data.subarray(r * dim, (r + 1) * dim), i * dim);
  }
  return out;
}

/**
 * Check that `data` is an n×dim matrix of finite numbers; the InputError names `what` and the
 * first offending row and column.
 */
export function checkMatrix(data: Float32Array, n: number, dim: number, what: string): void {
  if (!Number.isInteger(n) || n <= 0) throw new InputError(`row count must be > 0, got ${n}`, what);
  if (!Number.isInteger(dim) || dim <= 0) {
    throw new InputError(`row length must be > 0, got ${dim}`, what);
  }
  if (data.length !== n * dim) {
    throw new InputError(`expected ${n}×${dim} = ${n * dim} values, got ${data.length}`, what);
  }
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      throw new InputError(
        `non-finite value ${data[i]} at row ${Math.floor(i / dim)}, column ${i % dim}`,
        what,
      );
    }
  }
}
