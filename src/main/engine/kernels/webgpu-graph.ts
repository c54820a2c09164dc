/**
 * Step graphs on the tfjs webgpu backend: a training step is captured once, as the list of
 * compute dispatches tfjs records for it (pipeline, bind group, workgroup counts), and every later
 * step replays that list in one compute pass, with only its per-step inputs written into the
 * captured input buffers. On a GPU a standard-size training step is several hundred small kernels
 * and tfjs spends ~40 µs of JavaScript and Dawn calls on each (tape, tensor bookkeeping, bind
 * groups, uniforms); a replayed kernel costs three Dawn calls. It is what CUDA graphs do for
 * PyTorch, built on what WebGPU allows: bind groups and pipelines are reusable objects, command
 * buffers are not, so the list is re-encoded each step.
 *
 * What makes a replay equal to running the step again:
 * - Every buffer a captured kernel binds stays reserved for the graph (a release is deferred until
 *   the graph is disposed), so no other tensor is given it between replays.
 * - The step's inputs are declared and uploaded before the capture; everything else uploaded
 *   inside the step (constants such as tf.scalar(1)) must be the same every step. Two steps are
 *   captured and compared (kernels, workgroups, constants' bytes); if they differ, the step is not
 *   a graph and runs eagerly, with the reason kept.
 * - Inside a capture ops do not run on the CPU (tfjs's CPU forwarding of small host tensors is
 *   off), and reading data back throws: a host decision inside the step would be frozen.
 * - State the step replaces (a variable assigned a new tensor: weights, Adam's moments, the EMA)
 *   is copied back into the buffer the step reads, after each replay.
 */
import * as tf from '@tensorflow/tfjs';
import { throwIfGpuRefused } from '../backend-webgpu.ts';

export type GraphArray = Float32Array | Int32Array;

/** One declared input of a step: shape and dtype fixed for the graph's life. */
export interface GraphInputSpec {
  readonly shape: readonly number[];
  readonly dtype: 'float32' | 'int32';
}

interface Dispatch {
  readonly pipeline: object;
  readonly bindGroup: object;
  readonly x: number;
  readonly y: number;
  readonly z: number;
}

/** What one capture saw. */
interface Capture {
  readonly dispatches: Dispatch[];
  /** Data of tensors uploaded inside the step (must repeat exactly). */
  readonly constants: GraphArray[];
  /** Every buffer a captured kernel bound: reserved until the graph is disposed. */
  readonly buffers: Set<object>;
  /** Set when the step tried to read data back. */
  readBack?: boolean;
}

interface GpuBufferLike {
  readonly size: number;
}
interface PassLike {
  setPipeline(p: object): void;
  setBindGroup(i: number, g: object): void;
  dispatchWorkgroups(x: number, y: number, z: number): void;
  end(): void;
}
interface EncoderLike {
  beginComputePass(d?: object): PassLike;
  copyBufferToBuffer(a: object, ao: number, b: object, bo: number, size: number): void;
}
interface TensorDataLike {
  values: unknown;
  resource: unknown;
  dtype: string;
  shape: number[];
}
interface BackendLike {
  device: Record<string, unknown>;
  queue: { writeBuffer(b: object, off: number, data: ArrayBufferView): void };
  tensorMap: { get(id: object): TensorDataLike | undefined };
  bufferManager: Record<string, unknown>;
  commandEncoder: EncoderLike | null;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  uploadToGPU(id: object): void;
  getBufferData(b: object): Promise<ArrayBuffer>;
  submitQueue(): void;
}

/** Per-backend hooks and the reservation counts of graph buffers. */
interface Hooks {
  active: Capture | null;
  lastBindGroup: object | null;
  /** Buffers reserved by live graphs: how many graphs hold each. */
  readonly owners: Map<object, number>;
  /** Reserved buffers whose tensors were released meanwhile (released for real when free). */
  readonly released: Set<object>;
  readonly release: (b: object) => void;
}

const hooksOf = new WeakMap<object, Hooks>();

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

function override(obj: object, name: string, value: unknown): void {
  Object.defineProperty(obj, name, { value, configurable: true, writable: true });
}

/** Whether step graphs are wanted on webgpu (on unless `D2NWG_WEBGPU_GRAPH=0`). */
export function stepGraphsEnabled(): boolean {
  return process.env.D2NWG_WEBGPU_GRAPH !== '0';
}

/** Process-wide counts, for tests and `bench steps`: steps captured, replayed, run eagerly. */
export const graphStats = {
  captured: 0,
  replayed: 0,
  eager: 0,
  fallbacks: 0,
  /** Kernels dispatched by replays. */
  kernelsReplayed: 0,
};

/** Buffers live graphs hold on this backend (for tests: 0 once every graph is disposed). */
export function reservedBuffers(backend: unknown): number {
  const h = isRecord(backend) ? hooksOf.get(backend) : undefined;
  return h ? h.owners.size : 0;
}

/** Whether installGraphHooks ran on this backend. */
export function graphHooksInstalled(backend: unknown): boolean {
  return isRecord(backend) && hooksOf.has(backend);
}

/** The error a step gets when it reads data back while being captured. */
export class GraphCaptureError extends Error {}

/**
 * Install the capture hooks on a tfjs webgpu backend. Idempotent. Throws when the backend lacks
 * what is wrapped, so a tfjs upgrade that renames it fails loudly in the webgpu tests.
 */
export function installGraphHooks(backend: unknown): void {
  if (!isRecord(backend)) throw new Error('step graphs: no backend');
  if (hooksOf.has(backend)) return;
  const device = backend.device;
  const bm = backend.bufferManager;
  for (const name of ['recordAndSubmit', 'uploadToGPU', 'getBufferData', 'read']) {
    if (typeof backend[name] !== 'function') {
      throw new Error(`step graphs: the webgpu backend has no ${name}`);
    }
  }
  if (
    !isRecord(device) ||
    typeof device.createBindGroup !== 'function' ||
    !isRecord(bm) ||
    typeof bm.releaseBuffer !== 'function'
  ) {
    throw new Error('step graphs: the backend does not look like tfjs-backend-webgpu');
  }
  const release = (bm.releaseBuffer as (b: object, reuse?: boolean) => void).bind(bm);
  const hooks: Hooks = {
    active: null,
    lastBindGroup: null,
    owners: new Map(),
    released: new Set(),
    release: (b) => release(b),
  };
  override(bm, 'releaseBuffer', (b: object, reuse?: boolean) => {
    if (hooks.owners.has(b) || hooks.active?.buffers.has(b)) {
      hooks.released.add(b);
      return;
    }
    release(b, reuse);
  });
  const createBindGroup = (device.createBindGroup as (d: unknown) => object).bind(device);
  override(device, 'createBindGroup', (desc: { entries?: readonly { resource?: unknown }[] }) => {
    const group = createBindGroup(desc);
    const cap = hooks.active;
    if (cap) {
      hooks.lastBindGroup = group;
      for (const e of desc.entries ?? []) {
        const r = e.resource;
        if (isRecord(r) && isRecord(r.buffer)) cap.buffers.add(r.buffer);
      }
    }
    return group;
  });
  const record = (backend.recordAndSubmit as (...a: unknown[]) => unknown).bind(backend);
  override(backend, 'recordAndSubmit', (program: Record<string, unknown>, ...rest: unknown[]) => {
    const cap = hooks.active;
    if (!cap) return record(program, ...rest);
    hooks.lastBindGroup = null;
    const out = record(program, ...rest);
    const d = program.dispatch as number[];
    if (!hooks.lastBindGroup || !isRecord(program.pipeline)) {
      throw new GraphCaptureError('step graphs: a kernel was recorded without a bind group');
    }
    cap.dispatches.push({
      pipeline: program.pipeline,
      bindGroup: hooks.lastBindGroup,
      x: d[0],
      y: d[1],
      z: d[2],
    });
    return out;
  });
  const tensorMap = backend.tensorMap as BackendLike['tensorMap'];
  const upload = (backend.uploadToGPU as (id: object) => void).bind(backend);
  override(backend, 'uploadToGPU', (dataId: object) => {
    const cap = hooks.active;
    if (cap) {
      const td = tensorMap.get(dataId);
      if (td && td.resource == null && td.values != null) {
        const v = td.values as ArrayLike<number>;
        cap.constants.push(td.dtype === 'float32' ? Float32Array.from(v) : Int32Array.from(v));
      }
    }
    upload(dataId);
  });
  for (const name of ['read', 'readSync', 'getBufferData'] as const) {
    const orig = backend[name];
    if (typeof orig !== 'function') continue;
    const fn = (orig as (...a: unknown[]) => unknown).bind(backend);
    override(backend, name, (...a: unknown[]) => {
      if (hooks.active) {
        // Also remembered: an asynchronous read fails in its promise, which the step may drop.
        hooks.active.readBack = true;
        throw new GraphCaptureError(
          'step graphs: the step reads data back while it is captured; a host decision inside a step cannot be replayed',
        );
      }
      return fn(...a);
    });
  }
  hooksOf.set(backend, hooks);
}

function hooksFor(backend: object): Hooks {
  const h = hooksOf.get(backend);
  if (!h) throw new Error('step graphs: hooks are not installed on this backend');
  return h;
}

/** Give a capture's buffers to a graph (reserved), or back to the pool (`keep` false). */
function settle(h: Hooks, buffers: Iterable<object>, keep: boolean): void {
  for (const b of buffers) {
    if (keep) {
      h.owners.set(b, (h.owners.get(b) ?? 0) + 1);
      continue;
    }
    const n = (h.owners.get(b) ?? 0) - 1;
    if (n > 0) {
      h.owners.set(b, n);
      continue;
    }
    h.owners.delete(b);
    if (h.released.delete(b)) h.release(b);
  }
}

function sameArrays(a: GraphArray, b: GraphArray): boolean {
  if (a.length !== b.length || a.constructor !== b.constructor) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** Why two captures of a step differ, or null when they are the same step. */
function difference(a: Capture, b: Capture): string | null {
  if (a.dispatches.length !== b.dispatches.length) {
    return `the step ran ${a.dispatches.length} kernels, then ${b.dispatches.length}`;
  }
  for (let i = 0; i < a.dispatches.length; i++) {
    const p = a.dispatches[i];
    const q = b.dispatches[i];
    if (p.pipeline !== q.pipeline || p.x !== q.x || p.y !== q.y || p.z !== q.z) {
      return `kernel ${i} differs between two steps`;
    }
  }
  if (a.constants.length !== b.constants.length) {
    return `the step uploaded ${a.constants.length} host tensors, then ${b.constants.length}`;
  }
  for (let i = 0; i < a.constants.length; i++) {
    if (!sameArrays(a.constants[i], b.constants[i])) {
      return `host tensor ${i} uploaded inside the step changes between steps (make it an input)`;
    }
  }
  return null;
}

/** The GPU buffer of a tensor (after its upload), or null. */
function bufferOf(be: BackendLike, t: tf.Tensor): object | null {
  const r = be.tensorMap.get(t.dataId)?.resource;
  return isRecord(r) ? r : null;
}

/** Buffers of every registered variable, by variable. */
function variableBuffers(be: BackendLike): Map<tf.Variable, object | null> {
  const out = new Map<tf.Variable, object | null>();
  for (const v of Object.values(tf.engine().state.registeredVariables)) {
    out.set(v, bufferOf(be, v));
  }
  return out;
}

interface Captured {
  readonly capture: Capture;
  readonly inputs: tf.Tensor[];
  readonly inputBuffers: (object | null)[];
  readonly outputs: tf.Tensor[];
  /**
   * State the step replaced (a variable assigned a new tensor): the buffer the step reads
   * (`before`, null when no kernel binds it) and the one it writes (`after`).
   */
  readonly state: { variable: tf.Variable; before: object | null; after: object; size: number }[];
}

/**
 * A step that runs as a graph on webgpu. `run` takes the step's inputs as host arrays (in the
 * declared order, shapes and dtypes) and returns the step's outputs as float32 arrays. The first
 * two runs execute the step with tfjs and capture it; later runs replay it. `body` must do the
 * same work every step: anything that changes per step comes in through the inputs.
 */
export class StepGraph {
  private first: Captured | null = null;
  private graph: Captured | null = null;
  private eagerReason: string | null;
  /** Tensors the step reads that live across steps (a dataset on the GPU): uploaded first. */
  private readonly resident: readonly tf.Tensor[];
  private disposed = false;
  /** Steps replayed (not run through tfjs). */
  replays = 0;

  constructor(
    private readonly specs: readonly GraphInputSpec[],
    private readonly body: (inputs: tf.Tensor[]) => tf.Tensor[],
    opts: { capture?: boolean; resident?: readonly tf.Tensor[] } = {},
  ) {
    this.resident = opts.resident ?? [];
    this.eagerReason = opts.capture === false ? 'capture is off' : null;
  }

  /** Why the step runs eagerly instead of as a graph (null while it is, or will be, a graph). */
  get reason(): string | null {
    return this.eagerReason;
  }

  /** Kernels per replayed step (0 before the graph exists). */
  get kernels(): number {
    return this.graph?.capture.dispatches.length ?? 0;
  }

  /** Run one step and wait for its outputs. */
  async run(values: readonly GraphArray[]): Promise<Float32Array[]> {
    return this.start(values);
  }

  /**
   * Run one step; the returned promise gives its outputs. All GPU work of the step, the copies of
   * its outputs included, is submitted before this returns, so a caller may start the next step
   * before awaiting (a training loop that checks its losses once an epoch).
   */
  start(values: readonly GraphArray[]): Promise<Float32Array[]> {
    if (this.disposed) throw new Error('step graph: used after dispose');
    this.checkInputs(values);
    if (this.graph) return this.replay(this.graph, values);
    if (this.eagerReason !== null) {
      graphStats.eager++;
      return this.eager(values);
    }
    graphStats.captured++;
    return this.captureStep(values);
  }

  private checkInputs(values: readonly GraphArray[]): void {
    if (values.length !== this.specs.length) {
      throw new Error(`step graph: expected ${this.specs.length} inputs, got ${values.length}`);
    }
    values.forEach((v, i) => {
      const s = this.specs[i];
      const n = s.shape.reduce((a, b) => a * b, 1);
      const ok = s.dtype === 'float32' ? v instanceof Float32Array : v instanceof Int32Array;
      if (!ok || v.length !== n) {
        throw new Error(
          `step graph: input ${i} must be ${s.dtype} of ${n} values [${s.shape.join(', ')}], got ${v.length}`,
        );
      }
    });
  }

  private makeInputs(values: readonly GraphArray[]): tf.Tensor[] {
    return values.map((v, i) => tf.tensor(v, [...this.specs[i].shape], this.specs[i].dtype));
  }

  /** One step through tfjs, no capture (the graph could not be used). */
  private async eager(values: readonly GraphArray[]): Promise<Float32Array[]> {
    const inputs = this.makeInputs(values);
    try {
      const outs = tf.tidy(() => this.body(inputs));
      try {
        return await Promise.all(outs.map(async (t) => Float32Array.from(await t.data())));
      } finally {
        tf.dispose(outs);
      }
    } finally {
      tf.dispose(inputs);
    }
  }

  private captureStep(values: readonly GraphArray[]): Promise<Float32Array[]> {
    const backend = tf.backend() as unknown as BackendLike;
    const h = hooksFor(backend);
    if (h.active) throw new Error('step graph: captures cannot nest');
    const inputs = this.makeInputs(values);
    for (const t of [...inputs, ...this.resident]) backend.uploadToGPU(t.dataId);
    // State still on the host (Adam's zero moments before their first use) goes up now, or the
    // first capture would upload it inside the step and differ from the second.
    for (const v of Object.values(tf.engine().state.registeredVariables)) {
      const td = v.isDisposed ? undefined : backend.tensorMap.get(v.dataId);
      if (td && td.resource == null && td.values != null) backend.uploadToGPU(v.dataId);
    }
    const before = variableBuffers(backend);
    const capture: Capture = { dispatches: [], constants: [], buffers: new Set() };
    const forward = tf.env().getBool('WEBGPU_CPU_FORWARD');
    let outputs: tf.Tensor[] = [];
    h.active = capture;
    tf.env().set('WEBGPU_CPU_FORWARD', false);
    try {
      outputs = tf.tidy(() => this.body(inputs));
      if (capture.readBack) {
        tf.dispose(outputs);
        throw new GraphCaptureError(
          'step graphs: the step reads data back while it is captured; a host decision inside a step cannot be replayed',
        );
      }
    } catch (err) {
      h.active = null;
      tf.env().set('WEBGPU_CPU_FORWARD', forward);
      settle(h, capture.buffers, true);
      settle(h, capture.buffers, false);
      tf.dispose(inputs);
      throw err;
    }
    h.active = null;
    tf.env().set('WEBGPU_CPU_FORWARD', forward);
    // Reserved from here: outputs, inputs and replaced state must stay where the kernels found them.
    settle(h, capture.buffers, true);
    const after = variableBuffers(backend);
    const state: Captured['state'] = [];
    for (const [variable, b0] of before) {
      const b1 = after.get(variable);
      if (!b0 || !b1 || b0 === b1) continue;
      state.push({
        variable,
        before: capture.buffers.has(b0) ? b0 : null,
        after: b1,
        size: (b1 as GpuBufferLike).size,
      });
    }
    const captured: Captured = {
      capture,
      inputs,
      inputBuffers: inputs.map((t) => bufferOf(backend, t)),
      outputs,
      state,
    };
    const result = this.readOutputs(backend, captured);
    if (!this.first) {
      this.first = captured;
      return result;
    }
    const why = difference(this.first.capture, capture);
    this.release(this.first);
    this.first = null;
    if (why !== null) {
      this.eagerReason = why;
      graphStats.fallbacks++;
      this.release(captured);
    } else {
      this.graph = captured;
    }
    return result;
  }

  /**
   * The outputs' current values: their copies to the host are submitted now (in step order with
   * later work), the promise resolves when they arrive. Reads go around tfjs's `read`, which
   * caches values a replay would make stale; GPU validation errors are raised here as there.
   */
  private readOutputs(backend: BackendLike, c: Captured): Promise<Float32Array[]> {
    const reads = c.outputs.map((t) => {
      const b = bufferOf(backend, t);
      if (!b) throw new Error('step graph: an output is not on the GPU');
      return { data: backend.getBufferData(b), size: t.size, dtype: t.dtype };
    });
    return Promise.all(
      reads.map(async (r) => {
        const data = await r.data;
        throwIfGpuRefused(backend);
        return r.dtype === 'float32'
          ? new Float32Array(data, 0, r.size).slice()
          : Float32Array.from(new Int32Array(data, 0, r.size));
      }),
    );
  }

  private replay(g: Captured, values: readonly GraphArray[]): Promise<Float32Array[]> {
    const backend = tf.backend() as unknown as BackendLike;
    values.forEach((v, i) => {
      const b = g.inputBuffers[i];
      if (b) backend.queue.writeBuffer(b, 0, v);
    });
    backend.ensureCommandEncoderReady();
    backend.endComputePassEncoder();
    const enc = backend.commandEncoder;
    if (!enc) throw new Error('step graph: no command encoder');
    // A variable's own buffer always holds its latest value (after eager steps, other graphs'
    // replays or this one's): bring it to where the kernels read it, and the result back.
    const current = g.state.map(({ variable }) => {
      const r = variable.isDisposed ? null : backend.tensorMap.get(variable.dataId)?.resource;
      if (!isRecord(r)) throw new Error('step graph: a variable of the step is gone');
      return r;
    });
    g.state.forEach((s, i) => {
      if (s.before && current[i] !== s.before) {
        enc.copyBufferToBuffer(current[i], 0, s.before, 0, s.size);
      }
    });
    const pass = enc.beginComputePass();
    let pipeline: object | null = null;
    for (const d of g.capture.dispatches) {
      if (d.pipeline !== pipeline) {
        pass.setPipeline(d.pipeline);
        pipeline = d.pipeline;
      }
      pass.setBindGroup(0, d.bindGroup);
      pass.dispatchWorkgroups(d.x, d.y, d.z);
    }
    pass.end();
    g.state.forEach((s, i) => {
      if (current[i] !== s.after) enc.copyBufferToBuffer(s.after, 0, current[i], 0, s.size);
      // A host copy tfjs may have cached of the variable is stale now.
      const td = backend.tensorMap.get(s.variable.dataId);
      if (td) td.values = null;
    });
    this.replays++;
    graphStats.replayed++;
    graphStats.kernelsReplayed += g.capture.dispatches.length;
    if (g.outputs.length === 0) {
      backend.submitQueue();
      return Promise.resolve([]);
    }
    return this.readOutputs(backend, g);
  }

  private release(c: Captured): void {
    const backend = tf.backend() as unknown as BackendLike;
    const h = hooksOf.get(backend);
    tf.dispose(c.inputs);
    tf.dispose(c.outputs);
    if (h) settle(h, c.capture.buffers, false);
  }

  /** Free the graph's reserved buffers (the variables keep their current values). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.first) this.release(this.first);
    if (this.graph) this.release(this.graph);
    this.first = null;
    this.graph = null;
  }
}
