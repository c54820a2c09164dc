/**
 * Optimisers shared by the VAE and the diffusion trainer, and one "gradients → check → clip →
 * apply" step that stops with a NumericError at the step where a NaN appears, before any weight
 * is overwritten with it.
 *
 * Two Adam implementations behind one interface: `Adam` runs on tensors (right for big models
 * such as the weight VAE, millions of weights), `HostAdam` keeps weights, moments and an optional
 * EMA in plain Float32Arrays (right for small models such as the denoiser, where the cost of
 * ~15 tensor ops per variable per step dominates the arithmetic). makeAdam picks one by size.
 */
import * as tf from '@tensorflow/tfjs';
import { InputError, NumericError } from '../errors.ts';
import { readAll, readScalar, readScalars } from './readback.ts';
import { FUSED_ADAM } from '../kernels/simd.ts';
import { FUSED_EMA } from '../kernels/webgpu.ts';
import { shardRows, type ShardGroup } from './data-parallel.ts';
import { graphHooksInstalled, stepGraphsEnabled } from '../kernels/webgpu-graph.ts';

export interface AdamOptions {
  /** Base learning rate (a step may override it, for schedules). */
  readonly lr: number;
  /** First-moment decay. */
  readonly beta1?: number;
  /** Second-moment decay. */
  readonly beta2?: number;
  /** Denominator fuzz. */
  readonly epsilon?: number;
  /** Decoupled weight decay (AdamW); 0 = plain Adam. */
  readonly weightDecay?: number;
}

export interface ApplyOptions {
  /** Learning rate for this step (default: the base rate). */
  readonly lr?: number;
  /** Clip the global gradient L2 norm to this first (0 or absent: no clipping). */
  readonly clip?: number;
}

/** What optimStep needs from an optimiser. */
export interface GradientOptimizer {
  /**
   * Apply one step. Returns the global gradient norm before clipping; when it is not finite the
   * step is skipped (nothing changes) and the caller reports it.
   */
  apply(grads: readonly tf.Tensor[], opts?: ApplyOptions): Promise<number>;
  /** Copies of the EMA weights, aligned with the variables (null when no EMA is kept). */
  emaWeights(): Promise<Float32Array[] | null>;
  /** Copies of the current weights, aligned with the variables. */
  weights(): Promise<Float32Array[]>;
  dispose(): void;
}

/**
 * Whether trainers should run whole steps on the device (common/device-step.ts): webgpu with step
 * graphs on and our fused kernels installed.
 */
export function useDeviceSteps(): boolean {
  return (
    tf.getBackend() === 'webgpu' &&
    stepGraphsEnabled() &&
    graphHooksInstalled(tf.backend()) &&
    tf.getKernel(FUSED_ADAM, 'webgpu') !== undefined &&
    tf.getKernel(FUSED_EMA, 'webgpu') !== undefined
  );
}

/** Parameter count up to which HostAdam beats tensor Adam (per-op overhead vs. JS arithmetic). */
export const HOST_ADAM_MAX_PARAMS = 200_000;

/**
 * The faster optimiser for a model of this many parameters: on wasm (fused Adam kernel, tensors in
 * host memory) tensor Adam with one kernel per variable; elsewhere host Adam for small models
 * (a GPU step then costs a readback and an upload, against ~10 dispatches per variable) and
 * tensor Adam, fused where the backend has the kernel (webgpu), for large ones.
 */
export function makeAdam(
  vars: readonly tf.Variable[],
  opts: HostAdamOptions,
  /** The caller runs its steps with DeviceStep when it can (common/device-step.ts). */
  deviceSteps = false,
): GradientOptimizer {
  const forced = adamOverride();
  if (forced === 'host') return new HostAdam(vars, opts);
  if (forced === 'tensor') return new Adam(vars, opts);
  if (hasFusedAdam() && tf.getBackend() === 'wasm') return new Adam(vars, opts);
  // Step graphs run the whole step on the GPU, fused Adam included; trainers that step eagerly
  // (predictor, class head) keep the rule below.
  if (deviceSteps && useDeviceSteps()) return new Adam(vars, opts);
  const size = vars.reduce((s, v) => s + v.size, 0);
  return size <= HOST_ADAM_MAX_PARAMS ? new HostAdam(vars, opts) : new Adam(vars, opts);
}

/** Environment variable that overrides `makeAdam`'s choice (for before/after measurements). */
export const ADAM_ENV = 'D2NWG_ADAM';

/**
 * `D2NWG_ADAM`: `host` or `tensor` forces that optimiser for the VAE, encoder, diffusion model,
 * predictor and class-head generator; unset or `auto` keeps makeAdam's rule. Both give the same
 * update up to float rounding, so this changes speed only (a GPU's trade-off between a readback
 * per step and a few kernels per variable is what it is for).
 */
export function adamOverride(env: NodeJS.ProcessEnv = process.env): 'host' | 'tensor' | null {
  const raw = (env[ADAM_ENV] ?? '').trim();
  if (raw === '' || raw === 'auto') return null;
  if (raw === 'host' || raw === 'tensor') return raw;
  throw new InputError(`expected auto, host or tensor, got '${raw}'`, ADAM_ENV);
}

/** Whether the active backend has the fused Adam kernel (kernels/simd.ts). */
export function hasFusedAdam(): boolean {
  return tf.getKernel(FUSED_ADAM, tf.getBackend()) !== undefined;
}

/** The FUSED_ADAM kernel's attributes: c1 = 1 − β1ᵗ, c2 = 1 − β2ᵗ, decay = lr·weightDecay. */
export interface FusedAdamHyper {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly c1: number;
  readonly c2: number;
  readonly epsilon: number;
  readonly decay: number;
}

/**
 * The device form of a step's values (webgpu step graphs): hp = float32[9] [lr, β1, β2, c1, c2, ε,
 * lr·weightDecay, clip, emaDecay] and stat = float32[2] [gradient norm, loss], both tensors, so
 * clipping and the finite check happen in the kernel (kernels/webgpu.ts).
 */
export interface DeviceHyper {
  readonly hp: tf.Tensor;
  readonly stat: tf.Tensor;
}

/**
 * One fused Adam/AdamW step of a variable and its moments (the FUSED_ADAM kernel): the variable
 * and moments are replaced by the kernel's outputs.
 */
export function fusedAdamStep(
  w: tf.Variable,
  m: tf.Variable,
  v: tf.Variable,
  g: tf.Tensor,
  hp: FusedAdamHyper | DeviceHyper,
): void {
  const device = 'stat' in hp;
  const [nw, nm, nv] = tf
    .engine()
    .runKernel(
      FUSED_ADAM,
      device ? { w, m, v, g, hp: hp.hp, stat: hp.stat } : { w, m, v, g },
      device ? {} : { ...hp },
    ) as tf.Tensor[];
  w.assign(nw);
  m.assign(nm);
  v.assign(nv);
  tf.dispose([nw, nm, nv]);
}

/**
 * FUSED_ADAM's device `hp` input for step t (counted from 1): [lr, β1, β2, c1, c2, ε,
 * lr·weightDecay, clip, EMA decay warmed up as min(decay, t/(9+t))].
 */
export function deviceHyperValues(
  hp: {
    readonly beta1: number;
    readonly beta2: number;
    readonly epsilon: number;
    readonly weightDecay: number;
    readonly emaDecay: number;
  },
  t: number,
  lr: number,
  clip: number,
): Float32Array {
  const { beta1, beta2, epsilon, weightDecay, emaDecay } = hp;
  return Float32Array.of(
    lr,
    beta1,
    beta2,
    1 - Math.pow(beta1, t),
    1 - Math.pow(beta2, t),
    epsilon,
    lr * weightDecay,
    clip,
    Math.min(emaDecay, t / (9 + t)),
  );
}

/** The global L2 norm of a list of gradients, as a scalar tensor (3 kernels). */
export function globalNorm(grads: readonly tf.Tensor[]): tf.Scalar {
  // One flat vector of every gradient, then one square and one sum: 3 kernels (plus free
  // reshapes) where a square, a sum and an add per variable took 3 per variable (110 of a
  // diffusion step's ~900). webgpu's Concat binds its inputs in chunks, so any count works.
  return tf.tidy(
    () => tf.sqrt(tf.sum(tf.square(tf.concat(grads.map((g) => tf.reshape(g, [-1])))))) as tf.Scalar,
  );
}

/** e ← e·d + w·(1 − d): one kernel where the backend has FUSED_EMA (webgpu), else three ops. */
function emaStep(e: tf.Variable, w: tf.Tensor, d: number): void {
  if (tf.getKernel(FUSED_EMA, tf.getBackend())) {
    const next = tf.engine().runKernel(FUSED_EMA, { e, w }, { decay: d }) as tf.Tensor;
    e.assign(next);
    next.dispose();
    return;
  }
  tf.tidy(() => e.assign(tf.add(tf.mul(e, d), tf.mul(w, 1 - d))));
}

/** Cosine decay from `lr` to `lr·floor` over `total` steps (step counted from 0). */
export function cosineLr(lr: number, step: number, total: number, floor = 0.05): number {
  const p = Math.min(1, Math.max(0, step / Math.max(1, total)));
  return lr * (floor + (1 - floor) * 0.5 * (1 + Math.cos(Math.PI * p)));
}

export interface HostAdamOptions extends AdamOptions {
  /** Keep an exponential moving average of the weights with this decay (absent: no EMA). */
  readonly emaDecay?: number;
}

/** Adam hyperparameters with the defaults filled in, shared by the tensor and host versions. */
interface AdamHyper {
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
  /** 0 without EMA. */
  readonly emaDecay: number;
}

function adamHyper(opts: HostAdamOptions): AdamHyper {
  return {
    beta1: opts.beta1 ?? 0.9,
    beta2: opts.beta2 ?? 0.999,
    epsilon: opts.epsilon ?? 1e-8,
    weightDecay: opts.weightDecay ?? 0,
    emaDecay: opts.emaDecay ?? 0,
  };
}

/** Adam / AdamW on tensors, with an optional EMA of the weights (also on tensors). */
export class Adam implements GradientOptimizer {
  private readonly m: tf.Variable[];
  private readonly v: tf.Variable[];
  private readonly ema: tf.Variable[] | null;
  private t = 0;
  readonly lr: number;
  private readonly hp: AdamHyper;

  constructor(
    private readonly vars: readonly tf.Variable[],
    opts: HostAdamOptions,
  ) {
    this.lr = opts.lr;
    this.hp = adamHyper(opts);
    this.m = vars.map((x) => tf.tidy(() => tf.variable(tf.zerosLike(x), false)));
    this.v = vars.map((x) => tf.tidy(() => tf.variable(tf.zerosLike(x), false)));
    this.ema =
      opts.emaDecay !== undefined
        ? vars.map((x) => tf.tidy(() => tf.variable(x.clone() as tf.Tensor, false)))
        : null;
  }

  /** Copies of the EMA weights, aligned with the variables (null without EMA). */
  async emaWeights(): Promise<Float32Array[] | null> {
    return this.ema ? readAll(this.ema) : null;
  }

  /** Copies of the current weights, aligned with the variables. */
  weights(): Promise<Float32Array[]> {
    return readAll(this.vars);
  }

  /** Number of steps taken. */
  get steps(): number {
    return this.t;
  }

  async apply(grads: readonly tf.Tensor[], opts: ApplyOptions = {}): Promise<number> {
    const normT = globalNorm(grads);
    let norm: number;
    try {
      norm = await readScalar(normT);
    } finally {
      normT.dispose();
    }
    if (!Number.isFinite(norm)) return norm;
    const lr = opts.lr ?? this.lr;
    const clip = opts.clip ?? 0;
    const gScale = clip > 0 && norm > clip ? clip / norm : 1;
    this.t += 1;
    const c1 = 1 - Math.pow(this.hp.beta1, this.t);
    const c2 = 1 - Math.pow(this.hp.beta2, this.t);
    const stepSize = (lr * Math.sqrt(c2)) / c1;
    const epsHat = this.hp.epsilon * Math.sqrt(c2);
    const d = Math.min(this.hp.emaDecay, this.t / (9 + this.t));
    if (hasFusedAdam()) {
      const hp = {
        lr,
        beta1: this.hp.beta1,
        beta2: this.hp.beta2,
        c1,
        c2,
        epsilon: this.hp.epsilon,
        decay: lr * this.hp.weightDecay,
      };
      for (let i = 0; i < this.vars.length; i++) {
        const g = gScale === 1 ? grads[i] : tf.mul(grads[i], gScale);
        fusedAdamStep(this.vars[i], this.m[i], this.v[i], g, hp);
        if (g !== grads[i]) g.dispose();
        const e = this.ema?.[i];
        if (e) emaStep(e, this.vars[i], d);
      }
      return norm;
    }
    tf.tidy(() => {
      for (let i = 0; i < this.vars.length; i++) {
        const g = gScale === 1 ? grads[i] : tf.mul(grads[i], gScale);
        const m = this.m[i];
        const v = this.v[i];
        const w = this.vars[i];
        m.assign(tf.add(tf.mul(m, this.hp.beta1), tf.mul(g, 1 - this.hp.beta1)));
        v.assign(tf.add(tf.mul(v, this.hp.beta2), tf.mul(tf.square(g), 1 - this.hp.beta2)));
        let next = tf.sub(w, tf.mul(tf.div(m, tf.add(tf.sqrt(v), epsHat)), stepSize));
        if (this.hp.weightDecay > 0) next = tf.sub(next, tf.mul(w, lr * this.hp.weightDecay));
        w.assign(next);
        const e = this.ema?.[i];
        if (e) e.assign(tf.add(tf.mul(e, d), tf.mul(next, 1 - d)));
      }
    });
    return norm;
  }

  /**
   * The next step's values for applyOnDevice, as the `hp` input (counts the step): the bias
   * corrections and the EMA's warming decay of step t, the learning rate and clip of this step.
   */
  deviceHyper(lr: number = this.lr, clip = 0): Float32Array {
    this.t += 1;
    return deviceHyperValues(this.hp, this.t, lr, clip);
  }

  /**
   * One step with every decision on the device (for a step graph): `hp` from deviceHyper, `stat`
   * = [global gradient norm, loss]. Clipping scales the gradients in the kernel; when the norm or
   * the loss is not finite the weights, moments and EMA keep their values. Needs the webgpu
   * FUSED_ADAM and FUSED_EMA kernels.
   */
  applyOnDevice(grads: readonly tf.Tensor[], stat: tf.Tensor, hp: tf.Tensor): void {
    const dev: DeviceHyper = { hp, stat };
    for (let i = 0; i < this.vars.length; i++) {
      fusedAdamStep(this.vars[i], this.m[i], this.v[i], grads[i], dev);
      const e = this.ema?.[i];
      if (e) {
        const next = tf
          .engine()
          .runKernel(FUSED_EMA, { e, w: this.vars[i], hp, stat }, {}) as tf.Tensor;
        e.assign(next);
        next.dispose();
      }
    }
  }

  dispose(): void {
    for (const x of this.m) x.dispose();
    for (const x of this.v) x.dispose();
    if (this.ema) for (const x of this.ema) x.dispose();
  }
}

/**
 * Adam / AdamW with the master weights, moments and EMA in host memory; the tf.Variables are
 * refreshed from the master copy after each step. The EMA decay warms up as
 * min(decay, (1+s)/(10+s)), so short runs are not dominated by the initial weights.
 * The master copy is read from the variables on first use (readback is asynchronous), so the
 * variables must not change between construction and the first apply/weights call.
 */
export class HostAdam implements GradientOptimizer {
  private state: {
    readonly w: Float32Array[];
    readonly m: Float32Array[];
    readonly v: Float32Array[];
    readonly ema: Float32Array[] | null;
  } | null = null;
  private readonly keepEma: boolean;
  private t = 0;
  readonly lr: number;
  private readonly hp: AdamHyper;

  constructor(
    private readonly vars: readonly tf.Variable[],
    opts: HostAdamOptions,
  ) {
    this.lr = opts.lr;
    this.hp = adamHyper(opts);
    this.keepEma = opts.emaDecay !== undefined;
  }

  /** Master weights, moments and EMA, read from the variables the first time they are needed. */
  private async host(): Promise<NonNullable<HostAdam['state']>> {
    if (!this.state) {
      const w = await readAll(this.vars);
      // Another call may have finished the same read while this one awaited: keep the first.
      this.state ??= {
        w,
        m: w.map((x) => new Float32Array(x.length)),
        v: w.map((x) => new Float32Array(x.length)),
        ema: this.keepEma ? w.map((x) => Float32Array.from(x)) : null,
      };
    }
    return this.state;
  }

  /** Number of steps taken. */
  get steps(): number {
    return this.t;
  }

  async apply(grads: readonly tf.Tensor[], opts: ApplyOptions = {}): Promise<number> {
    const host = await this.host();
    // Read-only use: no copy needed.
    const g = await Promise.all(grads.map((x) => x.data()));
    let sq = 0;
    for (const gi of g) for (let j = 0; j < gi.length; j++) sq += gi[j] * gi[j];
    const norm = Math.sqrt(sq);
    if (!Number.isFinite(norm)) return norm;
    const lr = opts.lr ?? this.lr;
    const clip = opts.clip ?? 0;
    const gScale = clip > 0 && norm > clip ? clip / norm : 1;
    this.t += 1;
    const b1 = this.hp.beta1;
    const b2 = this.hp.beta2;
    const c1 = 1 - Math.pow(b1, this.t);
    const c2 = 1 - Math.pow(b2, this.t);
    const stepSize = (lr * Math.sqrt(c2)) / c1;
    const epsHat = this.hp.epsilon * Math.sqrt(c2);
    const decay = lr * this.hp.weightDecay;
    const d = Math.min(this.hp.emaDecay, this.t / (9 + this.t));
    for (let i = 0; i < this.vars.length; i++) {
      const gi = g[i];
      const w = host.w[i];
      const m = host.m[i];
      const v = host.v[i];
      for (let j = 0; j < w.length; j++) {
        const gj = gi[j] * gScale;
        const mj = b1 * m[j] + (1 - b1) * gj;
        const vj = b2 * v[j] + (1 - b2) * gj * gj;
        m[j] = mj;
        v[j] = vj;
        w[j] = w[j] - (stepSize * mj) / (Math.sqrt(vj) + epsHat) - decay * w[j];
      }
      if (host.ema) {
        const e = host.ema[i];
        for (let j = 0; j < w.length; j++) e[j] = d * e[j] + (1 - d) * w[j];
      }
      // A copy: cpu and webgpu keep the array they are given (webgpu until its upload), and `w`
      // is updated in place on the next step.
      const next = tf.tensor(Float32Array.from(w), this.vars[i].shape, 'float32');
      this.vars[i].assign(next);
      next.dispose();
    }
    return norm;
  }

  /** Copies of the EMA weights, aligned with the variables (null without EMA). */
  async emaWeights(): Promise<Float32Array[] | null> {
    if (!this.keepEma) return null;
    const { ema } = await this.host();
    return ema ? ema.map((x) => Float32Array.from(x)) : null;
  }

  /** Copies of the current weights, aligned with the variables. */
  async weights(): Promise<Float32Array[]> {
    const { w } = await this.host();
    return w.map((x) => Float32Array.from(x));
  }

  dispose(): void {
    // Host memory only; nothing to free on the backend.
  }
}

export interface OptimStepArgs {
  /** Optimiser to apply the gradients with (built over `vars`). */
  readonly optimizer: GradientOptimizer;
  /** Learning rate for this step (default: the optimiser's base rate). */
  readonly lr?: number;
  /** Trainable variables, in a fixed order. */
  readonly vars: readonly tf.Variable[];
  /** Builds the scalar loss from the variables (runs under a tape). */
  readonly loss: () => tf.Scalar;
  /** Clip the global gradient norm to this (0 or undefined: no clipping). */
  readonly clip?: number;
  /** Stage name for NumericError ('vae', 'diffusion'). */
  readonly stage: string;
  /** Step number for NumericError. */
  readonly step: number;
}

/**
 * One optimiser step; returns the loss. Throws NumericError (stage, step) when the loss or the
 * gradient norm is not finite, before the weights change.
 */
export async function optimStep(args: OptimStepArgs): Promise<number> {
  const { value, grads } = tf.variableGrads(args.loss, [...args.vars]);
  try {
    const lossValue = await readScalar(value);
    if (!Number.isFinite(lossValue)) {
      throw new NumericError(args.stage, args.step, `loss = ${lossValue}`);
    }
    const list = args.vars.map((v) => {
      const g = grads[v.name];
      if (!g) throw new Error(`${args.stage}: no gradient for variable ${v.name}`);
      return g;
    });
    const norm = await args.optimizer.apply(list, { lr: args.lr, clip: args.clip });
    if (!Number.isFinite(norm)) {
      throw new NumericError(args.stage, args.step, `gradient norm = ${norm}`);
    }
    return lossValue;
  } finally {
    value.dispose();
    tf.dispose(grads);
  }
}

export interface ShardedStepArgs extends Omit<OptimStepArgs, 'loss'> {
  /** The shards of this step and the threads computing them. */
  readonly group: ShardGroup;
  /**
   * Builds shard `shard`'s loss, already weighted by its share of the batch, so that the shards'
   * losses sum to the whole batch's. Scalars passed to `report` are summed over shards too.
   */
  readonly loss: (shard: number, report: (s: tf.Scalar) => void) => tf.Scalar;
}

/**
 * A shard with no rows (a batch smaller than the shard count): loss 0 and zero gradients for
 * every variable, and `reported` zeros, so it adds nothing to the sum.
 */
export function emptyShard(
  vars: readonly tf.Variable[],
  reported: number,
): { loss: (report: (s: tf.Scalar) => void) => tf.Scalar; dispose: () => void } {
  return {
    loss: (report) => {
      for (let i = 0; i < reported; i++) report(tf.scalar(0));
      return tf.mul(tf.addN(vars.map((v) => tf.sum(v))), 0) as tf.Scalar;
    },
    dispose: () => undefined,
  };
}

/** The summed loss of a sharded step and the summed reported scalars, in report order. */
export interface ShardedStepResult {
  readonly loss: number;
  readonly reported: number[];
}

/**
 * optimStep over data-parallel shards: each local shard's gradients, loss and reported scalars
 * go into its slot; the group sums the slots of all shards in shard order; the sum is checked
 * and applied. Every thread applies the same sum, so replicas keep identical weights.
 */
export async function shardedOptimStep(args: ShardedStepArgs): Promise<ShardedStepResult> {
  const { group, vars } = args;
  const sizes = vars.map((v) => v.size);
  const weights = sizes.reduce((n, k) => n + k, 0);
  const vectors = new Map<number, tf.Tensor1D>();
  let sum: tf.Tensor1D;
  try {
    let reportedCount = -1;
    for (const shard of group.local) {
      const reported: tf.Scalar[] = [];
      const { value, grads } = tf.variableGrads(
        () => args.loss(shard, (s) => reported.push(tf.keep(s))),
        [...vars],
      );
      try {
        if (reportedCount >= 0 && reportedCount !== reported.length) {
          throw new Error(`${args.stage}: shards reported different numbers of scalars`);
        }
        reportedCount = reported.length;
        if (group.length !== weights + 1 + reported.length) {
          throw new Error(
            `${args.stage}: shard vectors hold ${group.length} values, the step makes ${weights + 1 + reported.length}`,
          );
        }
        const parts = vars.map((v) => {
          const g = grads[v.name];
          if (!g) throw new Error(`${args.stage}: no gradient for variable ${v.name}`);
          return g;
        });
        // One vector per shard: the gradients, the loss, the reported scalars.
        vectors.set(
          shard,
          tf.tidy(() =>
            tf.concat([...parts, value, ...reported].map((t) => tf.reshape(t, [-1]))),
          ) as tf.Tensor1D,
        );
      } finally {
        value.dispose();
        tf.dispose(grads);
        tf.dispose(reported);
      }
    }
    sum = await group.reduce(vectors);
  } finally {
    tf.dispose([...vectors.values()]);
  }
  // The sum comes back to the host once and each variable's gradient is copied out of it: wasm's
  // SplitV is a slow per-element path (~75 ms for a diffusion model's 38 pieces).
  let flat: Float32Array;
  try {
    flat = await sum.data<'float32'>();
  } finally {
    sum.dispose();
  }
  const loss = flat[weights];
  if (!Number.isFinite(loss)) throw new NumericError(args.stage, args.step, `loss = ${loss}`);
  const list: tf.Tensor[] = [];
  try {
    let o = 0;
    vars.forEach((v, i) => {
      list.push(tf.tensor(flat.subarray(o, o + sizes[i]), v.shape, 'float32'));
      o += sizes[i];
    });
    const norm = await args.optimizer.apply(list, { lr: args.lr, clip: args.clip });
    if (!Number.isFinite(norm)) {
      throw new NumericError(args.stage, args.step, `gradient norm = ${norm}`);
    }
  } finally {
    tf.dispose(list);
  }
  return { loss, reported: Array.from(flat.subarray(weights + 1)) };
}

/** A step's rows [lo, hi) of the batch as a loss (weighted by its share) and its inputs' disposal. */
export interface RowsLoss {
  readonly loss: (report: (s: tf.Scalar) => void) => tf.Scalar;
  readonly dispose: () => void;
}

export interface BatchStepArgs extends Omit<OptimStepArgs, 'loss'> {
  /** Rows in this step's batch. */
  readonly rows: number;
  /** Data-parallel shards of the step, or null for the whole batch in one pass. */
  readonly group: ShardGroup | null;
  /** Builds the loss of rows [lo, hi). */
  readonly rowsOf: (lo: number, hi: number) => RowsLoss;
}

/**
 * One optimiser step over a batch: in one pass (optimStep) without a group, else cut into the
 * group's shards (shardedOptimStep). Returns the loss and the reported scalars, whole-batch
 * values either way.
 */
export async function batchStep(args: BatchStepArgs): Promise<ShardedStepResult> {
  const { group, rows, rowsOf, ...step } = args;
  if (!group) {
    const whole = rowsOf(0, rows);
    const reported: tf.Scalar[] = [];
    try {
      const loss = await optimStep({
        ...step,
        loss: () => whole.loss((s) => reported.push(tf.keep(s))),
      });
      return { loss, reported: Array.from(await readScalars(reported)) };
    } finally {
      tf.dispose(reported);
      whole.dispose();
    }
  }
  const parts = new Map(
    group.local.map((s) => {
      const [lo, hi] = shardRows(rows, group.shards, s);
      return [s, rowsOf(lo, hi)] as const;
    }),
  );
  try {
    return await shardedOptimStep({
      ...step,
      group,
      loss: (s, report) => {
        const part = parts.get(s);
        if (!part) throw new Error(`${args.stage}: shard ${s} is not computed here`);
        return part.loss(report);
      },
    });
  } finally {
    for (const part of parts.values()) part.dispose();
  }
}
