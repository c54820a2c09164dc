/**
 * Set Transformer building blocks (Lee et al. 2019): multi-head attention block (MAB), SAB, ISAB
 * and PMA, written functionally over a named parameter store so a whole encoder can be saved as
 * one flat list of tensors and trained with one optimiser. Inputs are batched sets [B, S, d].
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.ts';
import { ParamSet } from '../common/params.ts';
import { affine } from '../common/matmul.ts';
import { createLayerNorm, layerNorm as rowLayerNorm } from '../common/layers.ts';

export { createLayerNorm };

/** The encoder's parameters live in the shared ParamSet (engine/common), one name per tensor. */
export { ParamSet as ParamStore } from '../common/params.ts';

/** Glorot-uniform matrix [fanIn, fanOut] (or [rows, cols] for seeds), drawn from `rng`. */
export function addGlorot(ps: ParamSet, name: string, shape: [number, number], rng: Rng): void {
  const limit = Math.sqrt(6 / (shape[0] + shape[1]));
  ps.addValues(name, shape, rng.uniformArray(shape[0] * shape[1], -limit, limit));
}

/** Create the weight and bias of a dense layer `prefix`. */
export function createDense(
  ps: ParamSet,
  prefix: string,
  inDim: number,
  outDim: number,
  rng: Rng,
): void {
  addGlorot(ps, `${prefix}.w`, [inDim, outDim], rng);
  ps.addConst(`${prefix}.b`, [outDim], 0);
}

/** x[..., in] · W + b over the last axis. */
export function dense(ps: ParamSet, prefix: string, x: tf.Tensor): tf.Tensor {
  const w = ps.get(`${prefix}.w`);
  const b = ps.get(`${prefix}.b`);
  const shape = x.shape;
  const inDim = shape[shape.length - 1] ?? 0;
  const flat = x.reshape([-1, inDim]);
  const y = affine(flat as tf.Tensor2D, w as tf.Tensor2D, b);
  const outDim = w.shape[1] ?? 0;
  return y.reshape([...shape.slice(0, -1), outDim]);
}

/** Layer norm over the last axis (the engine's, fused on wasm, on the rows of any rank). */
export function layerNorm(ps: ParamSet, prefix: string, x: tf.Tensor): tf.Tensor {
  const dim = x.shape[x.rank - 1] ?? 0;
  const p = { [`${prefix}.g`]: ps.get(`${prefix}.g`), [`${prefix}.b`]: ps.get(`${prefix}.b`) };
  return rowLayerNorm(p, prefix, x.reshape([-1, dim]) as tf.Tensor2D).reshape(x.shape);
}

/** Shape of a MAB: query dim, key/value dim, output dim, heads. */
export interface MabDims {
  readonly dimQ: number;
  readonly dimK: number;
  readonly dimV: number;
  readonly heads: number;
}

/** Create the parameters of MAB `prefix`. */
export function createMab(ps: ParamSet, prefix: string, dims: MabDims, rng: Rng): void {
  if (dims.dimV % dims.heads !== 0) {
    throw new Error(`MAB ${prefix}: width ${dims.dimV} is not divisible by ${dims.heads} heads`);
  }
  createDense(ps, `${prefix}.q`, dims.dimQ, dims.dimV, rng);
  createDense(ps, `${prefix}.k`, dims.dimK, dims.dimV, rng);
  createDense(ps, `${prefix}.v`, dims.dimK, dims.dimV, rng);
  createDense(ps, `${prefix}.o`, dims.dimV, dims.dimV, rng);
  createLayerNorm(ps, `${prefix}.ln0`, dims.dimV);
  createLayerNorm(ps, `${prefix}.ln1`, dims.dimV);
}

/**
 * MAB(X, Y) = LN(H + relu(H·Wo)), H = LN(X·Wq + Multihead(X·Wq, Y·Wk, Y·Wv)).
 * x: [B, Sq, dimQ], y: [B, Sk, dimK] → [B, Sq, dimV].
 */
export function mab(ps: ParamSet, prefix: string, heads: number, x: tf.Tensor3D, y: tf.Tensor3D) {
  const q = dense(ps, `${prefix}.q`, x);
  const k = dense(ps, `${prefix}.k`, y);
  const v = dense(ps, `${prefix}.v`, y);
  const [b, sq, dv] = q.shape as [number, number, number];
  const sk = y.shape[1];
  const dh = dv / heads;
  const split = (t: tf.Tensor, s: number) =>
    t
      .reshape([b, s, heads, dh])
      .transpose([0, 2, 1, 3])
      .reshape([b * heads, s, dh]) as tf.Tensor3D;
  const qh = split(q, sq);
  const kh = split(k, sk);
  const vh = split(v, sk);
  const scores = tf.div(tf.matMul(qh, kh, false, true), Math.sqrt(dv));
  const att = tf.softmax(scores, -1);
  const oh = tf.matMul(att, vh);
  const merged = oh.reshape([b, heads, sq, dh]).transpose([0, 2, 1, 3]).reshape([b, sq, dv]);
  const h = layerNorm(ps, `${prefix}.ln0`, tf.add(q, merged));
  const ff = tf.relu(dense(ps, `${prefix}.o`, h));
  return layerNorm(ps, `${prefix}.ln1`, tf.add(h, ff)) as tf.Tensor3D;
}

/** SAB(X) = MAB(X, X): permutation-equivariant self-attention over the set. */
export function createSab(
  ps: ParamSet,
  prefix: string,
  dIn: number,
  dOut: number,
  heads: number,
  rng: Rng,
) {
  createMab(ps, prefix, { dimQ: dIn, dimK: dIn, dimV: dOut, heads }, rng);
}

export function sab(ps: ParamSet, prefix: string, heads: number, x: tf.Tensor3D): tf.Tensor3D {
  return mab(ps, prefix, heads, x, x);
}

/** ISAB(X) = MAB(X, MAB(I, X)) with m learned inducing points: O(S·m) instead of O(S²). */
export function createIsab(
  ps: ParamSet,
  prefix: string,
  dIn: number,
  dOut: number,
  heads: number,
  inducing: number,
  rng: Rng,
): void {
  addGlorot(ps, `${prefix}.I`, [inducing, dOut], rng);
  createMab(ps, `${prefix}.mab0`, { dimQ: dOut, dimK: dIn, dimV: dOut, heads }, rng);
  createMab(ps, `${prefix}.mab1`, { dimQ: dIn, dimK: dOut, dimV: dOut, heads }, rng);
}

export function isab(ps: ParamSet, prefix: string, heads: number, x: tf.Tensor3D): tf.Tensor3D {
  const b = x.shape[0];
  const ind = ps.get(`${prefix}.I`);
  const i = tf.tile(ind.expandDims(0), [b, 1, 1]) as tf.Tensor3D;
  const h = mab(ps, `${prefix}.mab0`, heads, i, x);
  return mab(ps, `${prefix}.mab1`, heads, x, h);
}

/** PMA(X) = MAB(S, X) with k learned seed vectors: permutation-invariant pooling to k vectors. */
export function createPma(
  ps: ParamSet,
  prefix: string,
  dim: number,
  heads: number,
  seeds: number,
  rng: Rng,
): void {
  addGlorot(ps, `${prefix}.S`, [seeds, dim], rng);
  createMab(ps, `${prefix}.mab`, { dimQ: dim, dimK: dim, dimV: dim, heads }, rng);
}

export function pma(ps: ParamSet, prefix: string, heads: number, x: tf.Tensor3D): tf.Tensor3D {
  const b = x.shape[0];
  const seeds = ps.get(`${prefix}.S`);
  const s = tf.tile(seeds.expandDims(0), [b, 1, 1]) as tf.Tensor3D;
  return mab(ps, `${prefix}.mab`, heads, s, x);
}
