/**
 * The ε-prediction network: a residual MLP, the CPU stand-in for the paper's UNet. Input is the
 * noisy latent concatenated with the dataset embedding (Eq. 3's conditioning by concatenation);
 * the sinusoidal time embedding goes through a small MLP and is added at the input and inside
 * every residual block. Branch outputs and the head start at zero, so the untrained network is
 * the identity-plus-zero map and training starts stable. The condition is also embedded and added
 * to the time embedding that feeds each block.
 */
import * as tf from '@tensorflow/tfjs';
import type { DenoiserConfig } from '../../../shared/schemas/diffusion.ts';
import { act, dense, layerNorm } from '../common/layers.ts';
import { sinusoidalEmbeddingValues } from '../common/embedding.ts';
import { createParamSet, ParamSet, type ParamDef } from '../common/params.ts';
import type { Rng } from '../rng.ts';

/** One parameter of the layout: name, shape and initialisation. */
export type DenoiserParamDef = ParamDef;

/** Every parameter of a denoiser, in a fixed order (used to build, save and validate loads). */
export function denoiserLayout(
  cfg: DenoiserConfig,
  latentDim: number,
  condDim: number,
  learnedNull: boolean,
): DenoiserParamDef[] {
  const defs: DenoiserParamDef[] = [];
  const d = (name: string, i: number, o: number, init: DenoiserParamDef['init']) => {
    defs.push({ name: `${name}.w`, shape: [i, o], init });
    defs.push({ name: `${name}.b`, shape: [o], init: 'zero' });
  };
  const ln = (name: string, dim: number) => {
    defs.push({ name: `${name}.g`, shape: [dim], init: 'one' });
    defs.push({ name: `${name}.b`, shape: [dim], init: 'zero' });
  };
  const w = cfg.width;
  d('time.0', cfg.timeEmbDim, w, 'he');
  d('time.1', w, w, 'glorot');
  d('cond', condDim, w, 'glorot');
  d('in', latentDim + condDim, w, 'glorot');
  for (let i = 0; i < cfg.depth; i++) {
    ln(`blk${i}.ln`, w);
    d(`blk${i}.fc1`, w, w, 'he');
    d(`blk${i}.t`, w, w, 'glorot');
    d(`blk${i}.fc2`, w, w, 'zero');
  }
  ln('out.ln', w);
  d('out', w, latentDim, 'zero');
  if (learnedNull) defs.push({ name: 'null', shape: [condDim], init: 'zero' });
  return defs;
}

/** Build freshly initialised denoiser parameters from `rng`. */
export function createDenoiserParams(defs: readonly DenoiserParamDef[], rng: Rng): ParamSet {
  return createParamSet('denoiser', defs, rng);
}

export interface DenoiseInputs {
  /** Noisy latents x_t [B, latentDim] (scaled units). */
  readonly xt: tf.Tensor2D;
  /** Integer timestep of each row. */
  readonly t: ArrayLike<number>;
  /** Condition rows [B, condDim] (already swapped for the null condition where wanted). */
  readonly cond: tf.Tensor2D;
  /** Dropout rate and its random masks (training only), [B, width] per block. */
  readonly dropoutMasks?: readonly tf.Tensor2D[];
}

/** ε̂(x_t, t, c). Call inside tf.tidy. */
export function denoise(
  p: Record<string, tf.Tensor>,
  cfg: DenoiserConfig,
  inp: DenoiseInputs,
): tf.Tensor2D {
  const b = inp.xt.shape[0];
  const tEmb = tf.tensor2d(sinusoidalEmbeddingValues(inp.t, cfg.timeEmbDim), [b, cfg.timeEmbDim]);
  const temb = dense(p, 'time.1', act(dense(p, 'time.0', tEmb, false), 'silu'));
  // Condition and time together drive every block (the concatenation at the input alone
  // conditions too weakly at high noise levels, where x_t carries almost no signal).
  const eAct = act(tf.add(temb, dense(p, 'cond', inp.cond)) as tf.Tensor2D, 'silu');
  let h = tf.add(dense(p, 'in', tf.concat([inp.xt, inp.cond], 1)), temb) as tf.Tensor2D;
  for (let i = 0; i < cfg.depth; i++) {
    let a = act(layerNorm(p, `blk${i}.ln`, h), 'silu');
    a = tf.add(dense(p, `blk${i}.fc1`, a), dense(p, `blk${i}.t`, eAct));
    a = act(a, 'silu');
    const mask = inp.dropoutMasks?.[i];
    if (mask) a = tf.mul(a, mask);
    h = tf.add(h, dense(p, `blk${i}.fc2`, a));
  }
  return dense(p, 'out', act(layerNorm(p, 'out.ln', h), 'silu'));
}
