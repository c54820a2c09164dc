/**
 * What one op costs to dispatch on the active backend, and on webgpu what the dispatch caches
 * (kernels/webgpu-dispatch.ts) save, measured in one process with the caches off and on in
 * alternating rounds:
 * - `chain`: a dependent chain of tiny element-wise adds on device-resident tensors (webgpu's
 *   CPU forwarding of small ops is turned off for it), µs per op from issue to the final readback;
 * - `train-step`: an Adam step of a model batch of the standard zoo (200 MLPs 48→32→5, minibatch
 *   32), µs per step and per kernel.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs';
import { ArchitectureSchema } from '../../../shared/schemas/zoo.ts';
import { dispatchCacheStats } from '../kernels/webgpu-dispatch.ts';
import { layoutOf, resolveArchitecture } from '../nn/architecture.ts';
import { batchLossAndCorrect, forwardBatch, stackParams } from '../nn/batch.ts';
import { initParams } from '../nn/params.ts';
import { Rng } from '../rng.ts';

/** Time inside one Dawn/tfjs call during the chain, per op. */
export interface DispatchCallTime {
  readonly call: string;
  readonly calls: number;
  readonly usPerOp: number;
}

export interface DispatchRound {
  readonly round: number;
  /** Whether the webgpu dispatch caches were on (null on other backends). */
  readonly caches: boolean | null;
  readonly chainUsPerOp: number;
  readonly stepMs: number;
  readonly kernelsPerStep: number;
  readonly stepUsPerKernel: number;
  /** webgpu with breakdown: where the chain's time per op went, largest first. */
  readonly breakdown?: readonly DispatchCallTime[];
  /**
   * webgpu with breakdown: where a training step's time went, per kernel of the step (`usPerOp`
   * is µs per kernel, `calls` the calls per step), largest first. Besides the Dawn calls of the
   * chain it has the whole step, the engine's `runKernel` (outermost calls), buffer creation and
   * uploads of host-resident tensors.
   */
  readonly stepBreakdown?: readonly DispatchCallTime[];
  /** webgpu: the dispatch caches' counters per training step (hits, misses, uploads written). */
  readonly stepCacheCounts?: Readonly<Record<string, number>>;
}

export interface DispatchBenchArgs {
  /** Rounds per setting (caches off, on alternate on webgpu). */
  readonly rounds: number;
  /** Ops in the chain. */
  readonly chainOps: number;
  /** Timed training steps per round. */
  readonly steps: number;
  /** webgpu: time every Dawn call the backend makes per op during the chain (slows it a little). */
  readonly breakdown?: boolean;
  readonly log?: (line: string) => void;
}

type Timings = Map<string, { calls: number; ms: number }>;

/**
 * Wrap `obj[name]` (a native object's own property where needed) to add its time to `acc`.
 * Returns the undo.
 */
function timeCalls(obj: object, name: string, label: string, acc: Timings): () => void {
  const rec = obj as Record<string, unknown>;
  const orig = rec[name];
  if (typeof orig !== 'function') return () => undefined;
  const own = Object.getOwnPropertyDescriptor(obj, name);
  Object.defineProperty(obj, name, {
    configurable: true,
    writable: true,
    value: function (this: unknown, ...args: unknown[]) {
      const t = performance.now();
      try {
        return (orig as (...a: unknown[]) => unknown).apply(this, args);
      } finally {
        const e = acc.get(label) ?? { calls: 0, ms: 0 };
        e.calls++;
        e.ms += performance.now() - t;
        acc.set(label, e);
      }
    },
  });
  return () => {
    if (own) Object.defineProperty(obj, name, own);
    else delete rec[name];
  };
}

/**
 * Time the calls tfjs-backend-webgpu makes per op: its own recordAndSubmit, makeUniforms and
 * submitQueue, and inside them Dawn's createBindGroup, writeBuffer, submit and the compute-pass
 * commands. Returns the undo.
 */
function instrumentWebgpu(acc: Timings): () => void {
  const be = tf.backend() as unknown as Record<string, unknown>;
  const undo: (() => void)[] = [];
  const dev = be.device as object;
  const queue = be.queue as object;
  undo.push(timeCalls(be, 'recordAndSubmit', 'tfjs recordAndSubmit (all per-op work)', acc));
  undo.push(timeCalls(be, 'makeUniforms', 'tfjs makeUniforms (incl. writeBuffer)', acc));
  undo.push(timeCalls(be, 'submitQueue', 'tfjs submitQueue (incl. submit)', acc));
  undo.push(timeCalls(dev, 'createBindGroup', 'dawn createBindGroup', acc));
  undo.push(timeCalls(queue, 'writeBuffer', 'dawn queue.writeBuffer', acc));
  undo.push(timeCalls(queue, 'submit', 'dawn queue.submit', acc));
  undo.push(timeCalls(dev, 'createBuffer', 'dawn createBuffer', acc));
  undo.push(
    timeCalls(be, 'uploadToGPU', 'tfjs uploadToGPU (calls; uploads when values on host)', acc),
  );
  const bm = be.bufferManager as object | undefined;
  if (bm) undo.push(timeCalls(bm, 'acquireBuffer', 'tfjs bufferManager.acquireBuffer', acc));
  const createEncoder = (dev as Record<string, unknown>).createCommandEncoder;
  if (typeof createEncoder === 'function') {
    undo.push(timeCalls(dev, 'createCommandEncoder', 'dawn createCommandEncoder', acc));
    const timedCreate = (dev as Record<string, unknown>).createCommandEncoder as (
      ...a: unknown[]
    ) => object;
    Object.defineProperty(dev, 'createCommandEncoder', {
      configurable: true,
      writable: true,
      value: (...a: unknown[]) => {
        const enc = timedCreate.apply(dev, a) as Record<string, unknown>;
        timeCalls(enc, 'finish', 'dawn encoder.finish', acc);
        const begin = enc.beginComputePass;
        if (typeof begin === 'function') {
          Object.defineProperty(enc, 'beginComputePass', {
            configurable: true,
            writable: true,
            value: (...b: unknown[]) => {
              const pass = (begin as (...x: unknown[]) => object).apply(enc, b);
              for (const m of ['setPipeline', 'setBindGroup', 'dispatchWorkgroups', 'end']) {
                timeCalls(pass, m, `dawn pass.${m}`, acc);
              }
              return pass;
            },
          });
        }
        return enc;
      },
    });
  }
  return () => {
    for (const u of undo.reverse()) u();
  };
}

/** Time the engine's outermost `runKernel` calls (kernel lookup, bookkeeping, the backend's kernel). */
function instrumentEngine(acc: Timings): () => void {
  const engine = tf.engine() as unknown as Record<string, unknown>;
  const orig = engine.runKernel as (...a: unknown[]) => unknown;
  let depth = 0;
  Object.defineProperty(engine, 'runKernel', {
    configurable: true,
    writable: true,
    value: function (this: unknown, ...args: unknown[]) {
      const outer = depth === 0;
      const t = outer ? performance.now() : 0;
      depth++;
      try {
        return orig.apply(this, args);
      } finally {
        depth--;
        if (outer) {
          const e = acc.get('tfjs engine.runKernel (outermost)') ?? { calls: 0, ms: 0 };
          e.calls++;
          e.ms += performance.now() - t;
          acc.set('tfjs engine.runKernel (outermost)', e);
        }
      }
    },
  });
  return () => {
    delete engine.runKernel;
  };
}

async function chain(n: number): Promise<number> {
  // Made by an op (not uploaded from the host) so that they live on the device; tidy frees the
  // inputs.
  const [a, b] = tf.tidy(() => [tf.add(tf.ones([4]), 0), tf.add(tf.ones([4]), 0)]);
  await a.data();
  const t = performance.now();
  let x = a;
  for (let i = 0; i < n; i++) {
    const y = tf.add(x, b);
    if (x !== a) x.dispose();
    x = y;
  }
  await x.data();
  const us = ((performance.now() - t) * 1000) / n;
  tf.dispose([a, b, x]);
  return us;
}

/** Run the rounds; every tensor created is disposed. */
export async function measureDispatch(args: DispatchBenchArgs): Promise<DispatchRound[]> {
  const log = args.log ?? (() => undefined);
  const env = tf.env();
  const webgpu = tf.getBackend() === 'webgpu';
  const stats = dispatchCacheStats(tf.backend());
  const forward = webgpu ? env.getBool('WEBGPU_CPU_FORWARD') : false;
  if (webgpu) env.set('WEBGPU_CPU_FORWARD', false);
  const layout = layoutOf(
    resolveArchitecture(ArchitectureSchema.parse({ kind: 'mlp', hidden: [32] }), [48], 5),
  );
  const M = 200;
  const B = 32;
  const vars = stackParams(
    layout,
    Array.from({ length: M }, (_, m) => initParams(layout, new Rng(m))),
  ).map((t) => {
    const v = tf.variable(t);
    t.dispose();
    return v;
  });
  const rng = new Rng(3);
  const xb = tf.tensor3d(rng.normalArray(M * B * 48), [M, B, 48]);
  const yb = tf.tensor2d(
    Int32Array.from({ length: M * B }, (_, i) => i % 5),
    [M, B],
    'int32',
  );
  const opt = tf.train.adam(1e-3);
  const step = () =>
    opt.minimize(
      () => tf.sum(batchLossAndCorrect(forwardBatch(layout, vars, xb), yb).loss) as tf.Scalar,
      false,
      vars,
    );
  const out: DispatchRound[] = [];
  try {
    // Warm-up: pipelines compiled, pools filled.
    for (let i = 0; i < 3; i++) step();
    await chain(100);
    const profile = await tf.profile(() => {
      step();
    });
    const kernels = profile.kernels.length;
    const settings = stats ? [false, true] : [null];
    for (let round = 0; round < args.rounds; round++) {
      for (const caches of settings) {
        if (stats && caches !== null) stats.enabled = caches;
        const acc: Timings = new Map();
        const undo = webgpu && args.breakdown ? instrumentWebgpu(acc) : null;
        let chainUs: number;
        try {
          chainUs = await chain(args.chainOps);
        } finally {
          undo?.();
        }
        const breakdown = [...acc]
          .map(([call, e]) => ({
            call,
            calls: e.calls,
            usPerOp: (e.ms * 1000) / args.chainOps,
          }))
          .sort((a, b) => b.usPerOp - a.usPerOp);
        step();
        await vars[0].data();
        const t = performance.now();
        for (let i = 0; i < args.steps; i++) step();
        await vars[0].data();
        const stepMs = (performance.now() - t) / args.steps;
        let stepBreakdown: DispatchCallTime[] = [];
        let stepCacheCounts: Record<string, number> | undefined;
        if (webgpu && args.breakdown) {
          const sacc: Timings = new Map();
          const undoStep = [instrumentWebgpu(sacc), instrumentEngine(sacc)];
          const n = Math.max(1, Math.min(args.steps, 10));
          const before = stats ? { ...stats } : null;
          // Garbage collections during the issuing, from V8's own entries.
          const gcs: { start: number; ms: number }[] = [];
          const gcObserver = new PerformanceObserver((list) => {
            for (const e of list.getEntries()) gcs.push({ start: e.startTime, ms: e.duration });
          });
          gcObserver.observe({ entryTypes: ['gc'] });
          let ms = 0;
          const issueStart = performance.now();
          try {
            for (let i = 0; i < n; i++) {
              const t0 = performance.now();
              step();
              ms += performance.now() - t0;
            }
          } finally {
            for (const u of undoStep.reverse()) u();
          }
          const issueEnd = performance.now();
          await vars[0].data();
          // What the GPU still had to do once everything was issued (the readback included).
          const waitMs = performance.now() - issueEnd;
          for (const e of gcObserver.takeRecords())
            gcs.push({ start: e.startTime, ms: e.duration });
          gcObserver.disconnect();
          const gcMs = gcs
            .filter((g) => g.start >= issueStart && g.start < issueEnd)
            .reduce((a, g) => a + g.ms, 0);
          sacc.set('V8 garbage collection during the issuing', { calls: n, ms: gcMs });
          sacc.set('wait for the GPU after the last step (incl. readback)', {
            calls: n,
            ms: waitMs,
          });
          if (stats && before) {
            stepCacheCounts = Object.fromEntries(
              (
                [
                  'bindGroupHits',
                  'bindGroupMisses',
                  'uniformHits',
                  'uniformMisses',
                  'uploadsWritten',
                ] as const
              ).map((k) => [k, (stats[k] - before[k]) / n]),
            );
          }
          sacc.set('whole step (issue only, instrumented)', { calls: n, ms });
          stepBreakdown = [...sacc]
            .map(([call, e]) => ({
              call,
              calls: e.calls / n,
              usPerOp: (e.ms * 1000) / (n * kernels),
            }))
            .sort((a, b) => b.usPerOp - a.usPerOp);
        }
        const r: DispatchRound = {
          round,
          caches,
          chainUsPerOp: chainUs,
          stepMs,
          kernelsPerStep: kernels,
          stepUsPerKernel: (stepMs * 1000) / kernels,
          ...(breakdown.length ? { breakdown } : {}),
          ...(stepBreakdown.length ? { stepBreakdown } : {}),
          ...(stepCacheCounts ? { stepCacheCounts } : {}),
        };
        out.push(r);
        log(
          `round ${round}${caches === null ? '' : caches ? ' caches on ' : ' caches off'}: chain ${chainUs.toFixed(1)} µs/op, train step ${stepMs.toFixed(2)} ms (${kernels} kernels, ${r.stepUsPerKernel.toFixed(1)} µs/kernel)`,
        );
        for (const b of breakdown) {
          log(
            `    ${b.call.padEnd(40)} ${b.usPerOp.toFixed(1).padStart(8)} µs/op (${b.calls} calls)`,
          );
        }
        if (stepBreakdown.length) log('  train step, per kernel of the step:');
        if (stepCacheCounts) log(`    cache counters per step: ${JSON.stringify(stepCacheCounts)}`);
        for (const b of stepBreakdown) {
          log(
            `    ${b.call.padEnd(40)} ${b.usPerOp.toFixed(1).padStart(8)} µs/kernel (${b.calls.toFixed(1)} calls/step)`,
          );
        }
      }
    }
  } finally {
    if (stats) stats.enabled = true;
    if (webgpu) env.set('WEBGPU_CPU_FORWARD', forward);
    opt.dispose();
    tf.dispose([...vars, xb, yb]);
  }
  return out;
}
