/**
 * The ε-prediction network, in two families:
 * - 'resmlp', the CPU default: a residual MLP. Input is the noisy latent concatenated with the
 *   dataset embedding (Eq. 3's conditioning by concatenation); the sinusoidal time embedding goes
 *   through a small MLP and is added at the input and inside every residual block.
 * - 'unet1d', closer to the paper's UNet: the latent is a sequence of latentDim positions with
 *   one channel, and the dataset embedding, projected to the same length, is concatenated as a
 *   second channel. Kernel-3 convolutions in residual blocks, a down path that halves the length
 *   per level, an MLP that mixes the whole bottleneck, and an up path with skip connections.
 * In both, the condition is also embedded and added to the time embedding that feeds each block,
 * and branch outputs and the head start at zero, so the untrained network is the identity-plus-
 * zero map and training starts stable.
 */
import * as tf from '@tensorflow/tfjs';
import type { DenoiserConfig } from '../../../shared/schemas/diffusion.ts';
import { act, dense, layerNorm } from '../common/layers.ts';
import { sinusoidalEmbeddingValues } from '../common/embedding.ts';
import { createParamSet, ParamSet, type ParamDef } from '../common/params.ts';
import { InputError } from '../errors.ts';
import { conv2d } from '../kernels/conv.ts';
import type { Rng } from '../rng.ts';

/** One parameter of the layout: name, shape and initialisation. */
export type DenoiserParamDef = ParamDef;

/** Adds the parameters of a dense layer (`.w`, `.b`) or a layer norm (`.g`, `.b`) to a layout. */
interface LayoutBuilder {
  dense(name: string, inDim: number, outDim: number, init: DenoiserParamDef['init']): void;
  norm(name: string, dim: number): void;
}

/** Every parameter of a denoiser, in a fixed order (used to build, save and validate loads). */
export function denoiserLayout(
  cfg: DenoiserConfig,
  latentDim: number,
  condDim: number,
  learnedNull: boolean,
): DenoiserParamDef[] {
  const defs: DenoiserParamDef[] = [];
  const b: LayoutBuilder = {
    dense(name, i, o, init) {
      defs.push({ name: `${name}.w`, shape: [i, o], init });
      defs.push({ name: `${name}.b`, shape: [o], init: 'zero' });
    },
    norm(name, dim) {
      defs.push({ name: `${name}.g`, shape: [dim], init: 'one' });
      defs.push({ name: `${name}.b`, shape: [dim], init: 'zero' });
    },
  };
  const w = cfg.width;
  // The time embedding's MLP and the condition's embedding, which drive every block.
  b.dense('time.0', cfg.timeEmbDim, w, 'he');
  b.dense('time.1', w, w, 'glorot');
  b.dense('cond', condDim, w, 'glorot');
  if (cfg.kind === 'unet1d') {
    unetLayout(b, cfg, latentDim, condDim);
  } else {
    b.dense('in', latentDim + condDim, w, 'glorot');
    for (let i = 0; i < cfg.depth; i++) {
      b.norm(`blk${i}.ln`, w);
      b.dense(`blk${i}.fc1`, w, w, 'he');
      b.dense(`blk${i}.t`, w, w, 'glorot');
      b.dense(`blk${i}.fc2`, w, w, 'zero');
    }
    b.norm('out.ln', w);
    b.dense('out', w, latentDim, 'zero');
  }
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
  /**
   * Integer timestep of each row, or their sinusoidal embedding [B, timeEmbDim] as a tensor
   * (a step graph's input: built on the host, uploaded with the step's other inputs).
   */
  readonly t: ArrayLike<number> | tf.Tensor2D;
  /** Condition rows [B, condDim] (already swapped for the null condition where wanted). */
  readonly cond: tf.Tensor2D;
  /** Random dropout masks (training only), [B, w] for each width w of dropoutSites(cfg). */
  readonly dropoutMasks?: readonly tf.Tensor2D[];
}

/** The width of each place dropout applies, in forward order (one mask per entry). */
export function dropoutSites(cfg: DenoiserConfig): number[] {
  if (cfg.kind === 'unet1d') return unetBlocks(cfg).map((b) => b.out);
  return new Array<number>(cfg.depth).fill(cfg.width);
}

/** ε̂(x_t, t, c). Call inside tf.tidy. */
export function denoise(
  p: Record<string, tf.Tensor>,
  cfg: DenoiserConfig,
  inp: DenoiseInputs,
): tf.Tensor2D {
  const b = inp.xt.shape[0];
  const tEmb =
    inp.t instanceof tf.Tensor
      ? inp.t
      : tf.tensor2d(sinusoidalEmbeddingValues(inp.t, cfg.timeEmbDim), [b, cfg.timeEmbDim]);
  const temb = dense(p, 'time.1', act(dense(p, 'time.0', tEmb, false), 'silu'));
  // Condition and time together drive every block (the concatenation at the input alone
  // conditions too weakly at high noise levels, where x_t carries almost no signal).
  const eAct = act(tf.add(temb, dense(p, 'cond', inp.cond)) as tf.Tensor2D, 'silu');
  if (cfg.kind === 'unet1d') return denoiseUnet(p, cfg, inp, eAct);
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

// ---- 1-D UNet ---------------------------------------------------------------------------------

/** One residual block of the UNet: its name, and its channels in and out. */
interface UnetBlock {
  readonly name: string;
  readonly in: number;
  readonly out: number;
}

/** The residual blocks in forward order: down path, middle, up path (fed with skips). */
function unetBlocks(cfg: DenoiserConfig): UnetBlock[] {
  const ch = cfg.channels;
  const last = ch[ch.length - 1];
  // Channel counts change only between levels (pool / unpool) and where a skip is concatenated.
  return [
    ...ch.map((c, i) => ({ name: `down${i}`, in: c, out: c })),
    { name: 'mid', in: last, out: last },
    ...ch.map((c, i) => ({ name: `up${i}`, in: 2 * c, out: c })).reverse(),
  ];
}

/** Checks that the latent length halves cleanly at every level; returns the level count. */
function unetLevels(cfg: DenoiserConfig, latentDim: number): number {
  const levels = cfg.channels.length;
  const factor = 2 ** (levels - 1);
  if (latentDim % factor !== 0) {
    throw new InputError(
      `a unet1d denoiser with ${levels} levels halves the latent ${levels - 1} times, so ` +
        `latentDim must be divisible by ${factor}; it is ${latentDim}`,
      'diffusion.denoiser.channels',
    );
  }
  return levels;
}

/** The UNet's parameters after the shared time and condition embeddings. */
function unetLayout(b: LayoutBuilder, cfg: DenoiserConfig, latentDim: number, condDim: number) {
  const levels = unetLevels(cfg, latentDim);
  const ch = cfg.channels;
  // The condition as a second input channel, one value per latent position.
  b.dense('condmap', condDim, latentDim, 'glorot');
  b.dense('in', 3 * 2, ch[0], 'glorot');
  for (const blk of unetBlocks(cfg)) {
    b.norm(`${blk.name}.ln1`, blk.in);
    b.dense(`${blk.name}.conv1`, 3 * blk.in, blk.out, 'he');
    b.dense(`${blk.name}.t`, cfg.width, blk.out, 'glorot');
    b.norm(`${blk.name}.ln2`, blk.out);
    b.dense(`${blk.name}.conv2`, 3 * blk.out, blk.out, 'zero');
    if (blk.in !== blk.out) b.dense(`${blk.name}.skip`, blk.in, blk.out, 'glorot');
  }
  for (let i = 0; i < levels - 1; i++) {
    // Down: pairs of positions → one (a stride-2, kernel-2 convolution). Up: the reverse.
    b.dense(`down${i}.pool`, 2 * ch[i], ch[i + 1], 'glorot');
    b.dense(`up${i + 1}.unpool`, ch[i + 1], 2 * ch[i], 'glorot');
  }
  // Global mixing at the bottleneck: every latent position can depend on every other (the
  // entries of a weight VAE's latent have no locality for kernel-3 convolutions to exploit).
  const flat = (latentDim / 2 ** (levels - 1)) * ch[levels - 1];
  b.norm('mid.mixln', flat);
  b.dense('mid.mix1', flat, cfg.width, 'he');
  b.dense('mid.mixt', cfg.width, cfg.width, 'glorot');
  b.dense('mid.mix2', cfg.width, flat, 'zero');
  b.norm('out.ln', ch[0]);
  b.dense('out', 3 * ch[0], 1, 'zero');
}

/** A per-position dense layer over [B, L, C] (a kernel-1 convolution). */
function pointwise(p: Record<string, tf.Tensor>, name: string, x: tf.Tensor3D): tf.Tensor3D {
  const [b, l, c] = x.shape;
  const y = dense(p, name, tf.reshape(x, [b * l, c]) as tf.Tensor2D);
  return tf.reshape(y, [b, l, y.shape[1]]);
}

/**
 * A kernel-3, stride-1 convolution with zero padding over [B, L, C]. The weight is stored as
 * [3·C, C_out] (taps stacked, tap k reading position i + k − 1), the layout of a dense layer over
 * the three shifted copies side by side.
 */
function conv3(p: Record<string, tf.Tensor>, name: string, x: tf.Tensor3D): tf.Tensor3D {
  const [b, l, c] = x.shape;
  const w = p[`${name}.w`];
  const bias = p[`${name}.b`];
  if (!w || !bias) throw new Error(`convolution '${name}' has no parameters`);
  const out = w.shape[1] ?? 0;
  const filter = tf.reshape(w, [1, 3, c, out]) as tf.Tensor4D;
  const y = conv2d(tf.reshape(x, [b, 1, l, c]) as tf.Tensor4D, filter, 1, 'same');
  return tf.add(tf.reshape(y, [b, l, out]), bias) as tf.Tensor3D;
}

/** Layer norm over the channels at each position of [B, L, C]. */
function channelNorm(p: Record<string, tf.Tensor>, name: string, x: tf.Tensor3D): tf.Tensor3D {
  const [b, l, c] = x.shape;
  return tf.reshape(layerNorm(p, name, tf.reshape(x, [b * l, c]) as tf.Tensor2D), [b, l, c]);
}

function resBlock(
  p: Record<string, tf.Tensor>,
  blk: UnetBlock,
  x: tf.Tensor3D,
  e: tf.Tensor2D,
  mask: tf.Tensor2D | undefined,
): tf.Tensor3D {
  const [b] = x.shape;
  let a = conv3(p, `${blk.name}.conv1`, act(channelNorm(p, `${blk.name}.ln1`, x), 'silu'));
  a = tf.add(a, tf.reshape(dense(p, `${blk.name}.t`, e), [b, 1, blk.out]));
  a = act(channelNorm(p, `${blk.name}.ln2`, a), 'silu');
  if (mask) a = tf.mul(a, tf.reshape(mask, [b, 1, blk.out]));
  const skip = blk.in === blk.out ? x : pointwise(p, `${blk.name}.skip`, x);
  return tf.add(skip, conv3(p, `${blk.name}.conv2`, a));
}

function denoiseUnet(
  p: Record<string, tf.Tensor>,
  cfg: DenoiserConfig,
  inp: DenoiseInputs,
  e: tf.Tensor2D,
): tf.Tensor2D {
  const [b, latentDim] = inp.xt.shape;
  const levels = unetLevels(cfg, latentDim);
  const ch = cfg.channels;
  const blocks = unetBlocks(cfg);
  let site = 0;
  const block = (x: tf.Tensor3D) => {
    const i = site++;
    return resBlock(p, blocks[i], x, e, inp.dropoutMasks?.[i]);
  };
  const condMap = tf.reshape(dense(p, 'condmap', inp.cond), [b, latentDim, 1]);
  const x0 = tf.concat([tf.reshape(inp.xt, [b, latentDim, 1]), condMap], 2) as tf.Tensor3D;
  let h = conv3(p, 'in', x0);
  let len = latentDim;
  const skips: tf.Tensor3D[] = [];
  for (let i = 0; i < levels; i++) {
    h = block(h);
    skips.push(h);
    if (i < levels - 1) {
      len /= 2;
      h = pointwise(p, `down${i}.pool`, tf.reshape(h, [b, len, 2 * ch[i]]));
    }
  }
  h = block(h);
  {
    const flat = tf.reshape(h, [b, len * ch[levels - 1]]) as tf.Tensor2D;
    let m = dense(p, 'mid.mix1', act(layerNorm(p, 'mid.mixln', flat), 'silu'));
    m = act(tf.add(m, dense(p, 'mid.mixt', e)) as tf.Tensor2D, 'silu');
    h = tf.add(h, tf.reshape(dense(p, 'mid.mix2', m), h.shape)) as tf.Tensor3D;
  }
  for (let i = levels - 1; i >= 0; i--) {
    h = block(tf.concat([h, skips[i]], 2) as tf.Tensor3D);
    if (i > 0) {
      h = tf.reshape(pointwise(p, `up${i}.unpool`, h), [b, 2 * len, ch[i - 1]]);
      len *= 2;
    }
  }
  const out = conv3(p, 'out', act(channelNorm(p, 'out.ln', h), 'silu'));
  return tf.reshape(out, [b, latentDim]);
}
