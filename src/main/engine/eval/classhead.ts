/**
 * Conditioning per class: a generator of output layers that writes class c's row from class c's
 * own support samples, seen through the body. For a body and a support set [K, perClass, d] it
 * reads the body's features of the samples (what the output layer reads: headInputs), and for
 * each class c and feature unit j a small MLP, shared over classes and units, maps
 *   (μ_cj, μ_cj − m̄_j, s_j, m̄_j, (μ_cj − m̄_j)/(s_j + 0.1 r)) / r
 * (μ_c the class's mean feature, m̄ the mean over classes, s the pooled within-class std, r the
 * features' scale) to the weight w_cj and a bias share v_cj; class c's logit is (h/r)·w_c + Σ_j v_cj.
 * With `hops` it also reads the class's standardised mean walked over the units' within-class
 * correlation (classInputs), so a unit's weight can depend on how it co-varies with the others.
 * Permuting the support's classes therefore permutes the output rows (output i follows class i
 * for any class tuple), and nothing is fitted at sampling time.
 *
 * It is trained on the zoo: episodes of checkpoints, each with a fresh support set drawn from its
 * task's training samples and disjoint query samples of the same task; the loss is the query
 * cross-entropy of the generated head on the checkpoint's own body (plus, with rowWeight, the
 * squared distance to the checkpoint's own output rows).
 */
import * as tf from '@tensorflow/tfjs';
import { ClassHeadConfigSchema, type ClassHeadConfig } from '../../../shared/schemas/classhead.ts';
import { createDense, dense } from '../common/layers.ts';
import { cosineLr, makeAdam, optimStep } from '../common/optim.ts';
import { ParamSet } from '../common/params.ts';
import { readAndDispose } from '../common/readback.ts';
import { InputError, parseConfig, throwIfAborted } from '../errors.ts';
import { inputSize, type Layout } from '../nn/architecture.ts';
import { yieldToEventLoop, type RunControl } from '../progress.ts';
import type { Rng } from '../rng.ts';
import { headInputs, withHead } from './protohead.ts';

/** Inputs per (class, unit) of the generator MLP without unit hops (see classInputs). */
const N_BASE = 5;

/** Inputs per (class, unit) with `hops` hops over the units' correlation. */
export function classInputCount(hops: number): number {
  return hops > 0 ? N_BASE + 2 * (hops + 1) : N_BASE;
}

/** One zoo checkpoint with its task's training samples (labels = output positions). */
export interface ClassHeadMember {
  readonly params: Float32Array;
  readonly x: Float32Array;
  readonly y: Int32Array;
}

export interface TrainClassHeadArgs {
  readonly layout: Layout;
  /** Number of zoo checkpoints; `member(i)` gives the i-th (only maxMembers of them are read). */
  readonly members: number;
  readonly member: (i: number) => ClassHeadMember;
  /** Support samples per class, as at sampling time (the encoder's perClass). */
  readonly perClass: number;
  /** ClassHeadConfigSchema input; refused with an InputError naming the field. */
  readonly config?: unknown;
  readonly rng: Rng;
  readonly control?: RunControl;
}

/**
 * The per-(class, unit) inputs of one support set's features h [K, perClass, H], and its scale.
 *
 * Always (N_BASE): μ_cj, μ_cj − m̄_j, s_j, m̄_j over the scale r, and z_cj = (μ_cj − m̄_j)/d_j with
 * d_j = s_j + 0.1 r. With `hops` > 0 the generator also sees how the units co-vary: R is the
 * support's pooled within-class correlation (d-standardised), R̂ = R / (tr R² / tr R), and for
 * t = 0 … hops it reads u_t = (R̂ᵗ z_c)_j · r / d_j and z_cj · (R̂ᵗ z_c)_j. A linear combination of
 * the u_t is a polynomial in R̂ applied to the class's standardised mean, in the output's units,
 * and of the second kind a per-unit share of a quadratic bias: the class-conditional Gaussian
 * head's terms, left to the trained MLP to weigh. They are products of the support's features
 * (a fixed attention between units), so a head is still one forward pass: no solve, no fitting.
 */
export function classInputs(
  h: Float32Array,
  k: number,
  perClass: number,
  hops = 0,
): { inputs: Float32Array; scale: number; width: number } {
  const width = h.length / (k * perClass);
  if (!Number.isInteger(width) || width < 1) {
    throw new InputError(
      `${h.length} feature values do not hold ${k} classes × ${perClass} samples`,
      'class head',
    );
  }
  const nIn = classInputCount(hops);
  const mu = new Float64Array(k * width);
  for (let c = 0; c < k; c++) {
    for (let p = 0; p < perClass; p++) {
      const row = (c * perClass + p) * width;
      for (let j = 0; j < width; j++) mu[c * width + j] += h[row + j] / perClass;
    }
  }
  const mean = new Float64Array(width);
  const varSum = new Float64Array(width);
  let sq = 0;
  for (let c = 0; c < k; c++) {
    for (let j = 0; j < width; j++) {
      mean[j] += mu[c * width + j] / k;
      sq += mu[c * width + j] ** 2;
    }
    for (let p = 0; p < perClass; p++) {
      const row = (c * perClass + p) * width;
      for (let j = 0; j < width; j++) varSum[j] += (h[row + j] - mu[c * width + j]) ** 2;
    }
  }
  const n = k * perClass;
  const scale = Math.sqrt(sq / (k * width)) + 1e-6;
  const sd = Float64Array.from(varSum, (v) => Math.sqrt(v / n));
  const den = Float64Array.from(sd, (s) => s + 0.1 * scale);
  const inputs = new Float32Array(k * width * nIn);
  for (let c = 0; c < k; c++) {
    for (let j = 0; j < width; j++) {
      const m = mu[c * width + j];
      const o = (c * width + j) * nIn;
      inputs[o] = m / scale;
      inputs[o + 1] = (m - mean[j]) / scale;
      inputs[o + 2] = sd[j] / scale;
      inputs[o + 3] = mean[j] / scale;
      inputs[o + 4] = (m - mean[j]) / den[j];
    }
  }
  if (hops > 0) {
    // R: within-class covariance over n, standardised by d (lower triangle, then mirrored).
    const r = new Float64Array(width * width);
    const dev = new Float64Array(width);
    for (let c = 0; c < k; c++) {
      for (let p = 0; p < perClass; p++) {
        const row = (c * perClass + p) * width;
        for (let j = 0; j < width; j++) dev[j] = (h[row + j] - mu[c * width + j]) / den[j];
        for (let a = 0; a < width; a++) {
          const da = dev[a];
          for (let b = 0; b <= a; b++) r[a * width + b] += da * dev[b];
        }
      }
    }
    let tr = 0;
    let tr2 = 0;
    for (let a = 0; a < width; a++) {
      for (let b = 0; b <= a; b++) {
        const v = r[a * width + b] / n;
        r[a * width + b] = v;
        r[b * width + a] = v;
        tr2 += (a === b ? 1 : 2) * v * v;
      }
      tr += r[a * width + a];
    }
    const norm = tr2 > 0 ? tr / tr2 : 1;
    let cur = new Float64Array(width);
    let next = new Float64Array(width);
    for (let c = 0; c < k; c++) {
      for (let j = 0; j < width; j++) cur[j] = (mu[c * width + j] - mean[j]) / den[j];
      const z = Float64Array.from(cur);
      for (let t = 0; t <= hops; t++) {
        if (t > 0) {
          for (let a = 0; a < width; a++) {
            let acc = 0;
            for (let b = 0; b < width; b++) acc += r[a * width + b] * cur[b];
            next[a] = acc * norm;
          }
          [cur, next] = [next, cur];
        }
        for (let j = 0; j < width; j++) {
          const o = (c * width + j) * nIn + N_BASE + 2 * t;
          inputs[o] = (cur[j] * scale) / den[j];
          inputs[o + 1] = z[j] * cur[j];
        }
      }
    }
  }
  return { inputs, scale, width };
}

/** A trained class-head generator; dispose() frees its variables. */
export class ClassHeadGenerator {
  private constructor(
    private readonly ps: ParamSet,
    readonly layout: Layout,
    /** Mean training loss over each tenth of the steps. */
    readonly lossHistory: readonly number[],
    /** Hops over the units' correlation its inputs carry (classInputs). */
    readonly hops: number,
  ) {}

  /** Generated rows [B·K·H, 2] of per-(class, unit) inputs [B·K·H, classInputCount] (in tidy). */
  private rows(x: tf.Tensor2D): tf.Tensor2D {
    const p = this.ps.asRecord();
    const a = tf.leakyRelu(dense(p, 'l0', x, false), 0.1);
    const b = tf.leakyRelu(dense(p, 'l1', a), 0.1);
    return dense(p, 'l2', b);
  }

  /** w [B, K, H] and bias [B, K] of B support sets' inputs. */
  private heads(x: tf.Tensor2D, b: number, k: number, width: number): [tf.Tensor3D, tf.Tensor2D] {
    const out = tf.reshape(this.rows(x), [b, k, width, 2]);
    const w = tf.reshape(tf.slice(out, [0, 0, 0, 0], [b, k, width, 1]), [b, k, width]);
    const v = tf.sum(tf.slice(out, [0, 0, 0, 1], [b, k, width, 1]), [2, 3]);
    return [w as tf.Tensor3D, v as tf.Tensor2D];
  }

  /** Trains a generator on zoo checkpoints (seeded by `rng`). */
  static async train(args: TrainClassHeadArgs): Promise<ClassHeadGenerator> {
    const cfg: ClassHeadConfig = parseConfig(
      ClassHeadConfigSchema,
      args.config ?? {},
      'class head config',
    );
    const { layout, perClass } = args;
    const k = layout.arch.outputs;
    if (!Number.isInteger(perClass) || perClass < 1) {
      throw new InputError(`must be a positive integer, got ${perClass}`, 'class head perClass');
    }
    if (args.members < 1) throw new InputError('the zoo has no checkpoints', 'class head');
    const rng = args.rng;
    const chosen =
      args.members <= cfg.maxMembers
        ? Int32Array.from({ length: args.members }, (_, i) => i)
        : rng.fork('members').sample(args.members, cfg.maxMembers);
    // Every chosen checkpoint's features of its task's training samples, grouped by class.
    const data: { h: Float32Array; byClass: number[][]; rows: Float32Array }[] = [];
    let width = 0;
    let queryPerClass = cfg.queryPerClass;
    const wSpec = layout.params[layout.params.length - 2];
    const bSpec = layout.params[layout.params.length - 1];
    for (const i of chosen) {
      throwIfAborted(args.control?.signal);
      const m = args.member(i);
      const n = m.y.length;
      if (m.x.length !== n * inputSize(layout.arch)) {
        throw new InputError(
          `checkpoint ${i}: ${m.x.length} input values do not hold ${n} samples`,
          'class head',
        );
      }
      const byClass: number[][] = Array.from({ length: k }, () => []);
      m.y.forEach((c, s) => {
        if (!(c >= 0 && c < k)) {
          throw new InputError(
            `checkpoint ${i}: label ${c} is not one of ${k} outputs`,
            'class head',
          );
        }
        byClass[c].push(s);
      });
      const fewest = Math.min(...byClass.map((b) => b.length));
      if (fewest < perClass) {
        throw new InputError(
          `checkpoint ${i}: a class has ${fewest} training samples, fewer than the ${perClass} of a support set`,
          'class head perClass',
        );
      }
      // Query samples apart from the support; none left: the support is its own query.
      queryPerClass = Math.min(queryPerClass, Math.max(fewest - perClass, perClass));
      const h = await headInputs(layout, m.params, m.x, n);
      width = h.length / n;
      // The checkpoint's own rows as [K, H + 1] (weights of class c, then its bias).
      const rows = new Float32Array(k * (width + 1));
      for (let c = 0; c < k; c++) {
        for (let j = 0; j < width; j++)
          rows[c * (width + 1) + j] = m.params[wSpec.offset + j * k + c];
        rows[c * (width + 1) + width] = m.params[bSpec.offset + c];
      }
      data.push({ h, byClass, rows });
      if (data.length % 20 === 0) await yieldToEventLoop();
    }

    const ps = new ParamSet('classhead');
    const init = rng.fork('init');
    const nIn = classInputCount(cfg.hops);
    createDense(ps, 'l0', nIn, cfg.hidden, init);
    createDense(ps, 'l1', cfg.hidden, cfg.hidden, init);
    createDense(ps, 'l2', cfg.hidden, 2, init, 'glorot');
    const history: number[] = [];
    const gen = new ClassHeadGenerator(ps, layout, history, cfg.hops);
    try {
      const vars = ps.variables();
      const adam = makeAdam(vars, { lr: cfg.lr });
      const draw = rng.fork('episodes');
      const bm = Math.min(cfg.batchMembers, data.length);
      const q = queryPerClass;
      let sum = 0;
      let count = 0;
      let lastYield = Date.now();
      try {
        for (let step = 0; step < cfg.steps; step++) {
          throwIfAborted(args.control?.signal);
          const ins = new Float32Array(bm * k * width * nIn);
          const query = new Float32Array(bm * k * q * width);
          const labels = new Float32Array(bm * k * q * k);
          const targets = new Float32Array(bm * k * (width + 1));
          const support = new Float32Array(k * perClass * width);
          const pick = draw.sample(data.length, bm);
          for (let b = 0; b < bm; b++) {
            const d = data[pick[b]];
            const queryRows: number[] = [];
            for (let c = 0; c < k; c++) {
              const pool = d.byClass[c];
              const order = draw.permutation(pool.length);
              for (let p = 0; p < perClass; p++) {
                const s = pool[order[p]];
                support.set(d.h.subarray(s * width, (s + 1) * width), (c * perClass + p) * width);
              }
              const from = pool.length - perClass >= q ? perClass : 0;
              for (let t = 0; t < q; t++) queryRows.push(pool[order[from + t]]);
            }
            const ci = classInputs(support, k, perClass, cfg.hops);
            ins.set(ci.inputs, b * k * width * nIn);
            queryRows.forEach((s, t) => {
              const o = (b * k * q + t) * width;
              for (let j = 0; j < width; j++) query[o + j] = d.h[s * width + j] / ci.scale;
              labels[(b * k * q + t) * k + Math.floor(t / q)] = 1;
            });
            // Rows in the generator's units: weights × scale (its logits read h / scale).
            for (let c = 0; c < k; c++) {
              const o = (b * k + c) * (width + 1);
              for (let j = 0; j < width; j++)
                targets[o + j] = d.rows[c * (width + 1) + j] * ci.scale;
              targets[o + width] = d.rows[c * (width + 1) + width];
            }
          }
          const x = tf.tensor2d(ins, [bm * k * width, nIn]);
          const hq = tf.tensor3d(query, [bm, k * q, width]);
          const yq = tf.tensor2d(labels, [bm * k * q, k]);
          const rowT = cfg.rowWeight > 0 ? tf.tensor3d(targets, [bm, k, width + 1]) : undefined;
          try {
            const loss = await optimStep({
              optimizer: adam,
              vars,
              lr: cosineLr(cfg.lr, step, cfg.steps),
              clip: 5,
              stage: 'class head',
              step,
              loss: () =>
                tf.tidy(() => {
                  const [w, v] = gen.heads(x, bm, k, width);
                  const logits = tf.add(tf.matMul(hq, w, false, true), tf.expandDims(v, 1));
                  const ce = tf.losses.softmaxCrossEntropy(
                    yq,
                    tf.reshape(logits, [bm * k * q, k]),
                  ) as tf.Scalar;
                  if (!rowT) return ce;
                  const mine = tf.concat([w, tf.expandDims(v, 2)], 2);
                  return tf.add(
                    ce,
                    tf.mul(cfg.rowWeight, tf.mean(tf.square(tf.sub(mine, rowT)))),
                  ) as tf.Scalar;
                }),
            });
            sum += loss;
            count++;
          } finally {
            tf.dispose([x, hq, yq, ...(rowT ? [rowT] : [])]);
          }
          const tenth = Math.max(1, Math.floor(cfg.steps / 10));
          if ((step + 1) % tenth === 0 || step === cfg.steps - 1) {
            history.push(sum / Math.max(1, count));
            sum = 0;
            count = 0;
            args.control?.onProgress?.({
              value: step + 1,
              max: cfg.steps,
              unit: 'step',
              label: 'class head',
              metrics: { loss: history[history.length - 1] },
            });
          }
          if (Date.now() - lastYield > 50) {
            await yieldToEventLoop();
            lastYield = Date.now();
          }
        }
      } finally {
        adam.dispose();
      }
      return gen;
    } catch (err) {
      gen.dispose();
      throw err;
    }
  }

  /**
   * `params` with its output layer generated from `support` ([K, perClass, d] in output order):
   * row i from class i's samples alone (and the set's shared statistics).
   */
  async headFor(
    params: Float32Array,
    support: Float32Array,
    k: number,
    perClass: number,
  ): Promise<Float32Array> {
    const layout = this.layout;
    if (k !== layout.arch.outputs) {
      throw new InputError(
        `support set has ${k} classes, the architecture ${layout.arch.outputs} outputs`,
        'class head',
      );
    }
    if (params.length !== layout.size) {
      throw new InputError(
        `${params.length} weights, the architecture has ${layout.size}`,
        'class head',
      );
    }
    const n = k * perClass;
    if (
      !Number.isInteger(perClass) ||
      perClass < 1 ||
      support.length !== n * inputSize(layout.arch)
    ) {
      throw new InputError(
        `${support.length} support values do not hold ${k} classes × ${perClass} samples of ${inputSize(layout.arch)}`,
        'class head',
      );
    }
    const h = await headInputs(layout, params, support, n);
    const { inputs, scale, width } = classInputs(h, k, perClass, this.hops);
    const out = await readAndDispose(
      tf.tidy(() => this.rows(tf.tensor2d(inputs, [k * width, classInputCount(this.hops)]))),
    );
    const weights = new Float64Array(width * k);
    const bias = new Float64Array(k);
    for (let c = 0; c < k; c++) {
      for (let j = 0; j < width; j++) {
        weights[j * k + c] = out[(c * width + j) * 2] / scale;
        bias[c] += out[(c * width + j) * 2 + 1];
      }
    }
    return withHead(layout, params, weights, bias);
  }

  dispose(): void {
    this.ps.dispose();
  }
}
