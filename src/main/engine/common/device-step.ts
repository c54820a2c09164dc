/**
 * A whole optimiser step on the device, for webgpu: loss, gradients, global norm, clipping, the
 * finite check and fused Adam (with EMA) all run as kernels, with no readback inside the step, so
 * the step can be captured once and replayed as a step graph (kernels/webgpu-graph.ts). The host
 * reads one small vector per step ([loss, gradient norm, reported scalars…]) and stops with a
 * NumericError naming the stage and step when the loss or the norm is not finite; the kernels have
 * then left the weights, moments and EMA as they were.
 *
 * The VAE and diffusion trainers use it on webgpu when step graphs are on (`D2NWG_WEBGPU_GRAPH`,
 * default on) and the step is not sharded; elsewhere they keep batchStep (common/optim.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { NumericError } from '../errors.ts';
import { StepGraph, type GraphArray, type GraphInputSpec } from '../kernels/webgpu-graph.ts';
import { globalNorm, type Adam } from './optim.ts';

export interface DeviceStepArgs {
  /** Trainable variables, in the optimiser's order. */
  readonly vars: readonly tf.Variable[];
  /** Tensor Adam over `vars` (its fused kernels do the update). */
  readonly optimizer: Adam;
  /** The step's per-step inputs (data, noise, masks…), in the order `loss` receives them. */
  readonly inputs: readonly GraphInputSpec[];
  /**
   * The scalar loss from the inputs (runs under a tape). Scalars passed to `report` come back
   * with the loss, in order. It must do the same work every step: what changes is an input.
   */
  readonly loss: (inputs: tf.Tensor[], report: (s: tf.Scalar) => void) => tf.Scalar;
  /** Stage name for NumericError. */
  readonly stage: string;
  /** Capture and replay (default) or run every step through tfjs (the reference in tests). */
  readonly capture?: boolean;
  /** Tensors `loss` reads that live across steps (a dataset kept on the GPU). */
  readonly resident?: readonly tf.Tensor[];
}

export interface DeviceStepResult {
  /** The step's number, as passed in. */
  readonly step: number;
  readonly loss: number;
  readonly reported: number[];
}

/** One trainer's device step; `dispose` when training ends. */
export class DeviceStep {
  private readonly graph: StepGraph;

  constructor(private readonly args: DeviceStepArgs) {
    const { vars, optimizer } = args;
    const hpSpec: GraphInputSpec = { shape: [9], dtype: 'float32' };
    this.graph = new StepGraph(
      [...args.inputs, hpSpec],
      (inputs) => {
        const hp = inputs[inputs.length - 1];
        const data = inputs.slice(0, -1);
        const reported: tf.Scalar[] = [];
        const { value, grads } = tf.variableGrads(
          () => args.loss(data, (s) => reported.push(tf.keep(s))),
          [...vars],
        );
        const list = vars.map((v) => {
          const g = grads[v.name];
          if (!g) throw new Error(`${args.stage}: no gradient for variable ${v.name}`);
          return g;
        });
        const stat = tf.stack([globalNorm(list), value]);
        optimizer.applyOnDevice(list, stat, hp);
        const out = tf.concat([stat, ...reported.map((r) => tf.reshape(r, [1]))]);
        // Kept so they outlive variableGrads' scope; the tidy around the body does not free them.
        tf.dispose(reported);
        return [out];
      },
      { capture: args.capture ?? true, resident: args.resident ?? [] },
    );
  }

  /** Kernels per replayed step (0 until the graph is captured). */
  get kernels(): number {
    return this.graph.kernels;
  }

  /** Why the step is not replayed (null while it is). */
  get eagerReason(): string | null {
    return this.graph.reason;
  }

  /** Steps replayed so far. */
  get replays(): number {
    return this.graph.replays;
  }

  /** Run step `step` on these inputs with this learning rate and gradient clip (0: none). */
  async step(
    values: readonly GraphArray[],
    opts: { lr: number; clip?: number; step: number },
  ): Promise<DeviceStepResult> {
    return this.submit(values, opts);
  }

  /**
   * Submit step `step`: all its GPU work is queued before this returns, so the host can prepare
   * and submit the next step while the GPU runs this one (StepPipeline). The promise gives the
   * checked result; a NumericError rejects it (the kernels left that step's weights alone).
   */
  submit(
    values: readonly GraphArray[],
    opts: { lr: number; clip?: number; step: number },
  ): Promise<DeviceStepResult> {
    const hp = this.args.optimizer.deviceHyper(opts.lr, opts.clip ?? 0);
    return this.graph.start([...values, hp]).then(([out]) => {
      const loss = out[1];
      const norm = out[0];
      if (!Number.isFinite(loss)) {
        throw new NumericError(this.args.stage, opts.step, `loss = ${loss}`);
      }
      if (!Number.isFinite(norm)) {
        throw new NumericError(this.args.stage, opts.step, `gradient norm = ${norm}`);
      }
      return { step: opts.step, loss, reported: Array.from(out.subarray(2)) };
    });
  }

  dispose(): void {
    this.graph.dispose();
  }
}

/**
 * One device step in flight: `push` takes the next submitted step and returns the previous one's
 * result, so the host prepares step k+1 while the GPU runs step k. After a NumericError the run
 * stops; the step submitted after the bad one may have run, but only on weights the bad step left
 * as they were, and a stopped run saves nothing.
 */
export class StepPipeline {
  private pending: Promise<DeviceStepResult> | null = null;

  /** Queue `next` (from DeviceStep.submit); the previous step's result, or null for the first. */
  async push(next: Promise<DeviceStepResult>): Promise<DeviceStepResult | null> {
    // A rejection is handled where it is awaited; this keeps it from counting as unhandled while
    // it waits its turn (or when the loop stops first).
    next.catch(() => undefined);
    const prev = this.pending;
    this.pending = next;
    return prev ? await prev : null;
  }

  /** The last queued step's result (null when none is queued). */
  async flush(): Promise<DeviceStepResult | null> {
    const p = this.pending;
    this.pending = null;
    return p ? await p : null;
  }
}
