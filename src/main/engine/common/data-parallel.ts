/**
 * Data parallelism for the VAE and diffusion trainers. The wasm backend runs one thread per
 * backend under Node, so a step's batch is cut into row shards (config `shards`), each shard's
 * gradient is computed on its own thread (a worker_threads replica holding the same model), and
 * the shards' gradients are summed in shard order. Every thread then applies the same sum with
 * the same optimiser, so the replicas stay bit-identical without sending weights around.
 *
 * The numbers depend on the shard count only: with fewer threads than shards (one core, a
 * packaged build without the worker file, a trainer with a closure a worker cannot receive) the
 * shards run one after the other in this thread and sum to the very same values.
 *
 * Threads meet in a SharedArrayBuffer: each shard writes its vector (gradients, then the loss and
 * any reported parts) into its slot of the step's half of a double buffer, publishes the step in
 * its thread's counter and waits (Atomics.waitAsync, so the event loop keeps running) for the
 * other threads' counters. Two halves suffice: a thread can only reach step s+2's half after every
 * other thread has published step s+1, i.e. finished reading step s.
 */
import fs from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { MAX_SHARDS, type Shards } from '../../../shared/schemas/shards.ts';
import { currentBackend } from '../backend.ts';
import { CancelledError, InputError } from '../errors.ts';
import { heapAddress, heapMemory, wasmBackendOf } from '../kernels/simd.ts';
import { WorkerPool } from '../workers/pool.ts';

/** Rows [lo, hi) of a batch of `b` rows that shard `index` of `shards` computes. */
export function shardRows(b: number, shards: number, index: number): readonly [number, number] {
  return [Math.floor((b * index) / shards), Math.floor((b * (index + 1)) / shards)];
}

/** The environment variable that caps the threads a sharded step uses (benchmarks: 1 vs 2). */
export const SHARD_THREADS_ENV = 'D2NWG_SHARD_THREADS';

/** Backends whose tensors live in host memory, where shard threads can run. */
function hostBackend(name: string | undefined): boolean {
  return name === 'wasm' || name === 'cpu';
}

/**
 * The shard count a config asks for, at most one per row of the batch. `auto` is 1: measured on
 * an idle 2-core machine after the fused wasm kernels (bench steps, standard shapes), two shards
 * on two threads ran the VAE step at 0.66× and the diffusion step at 0.41× of one shard. A step
 * is ~15 ms and mostly per-kernel cost, which a half batch keeps, while the exchange (gradients
 * to and from the host, the sum, a replicated Adam) adds ~15 ms. Shards pay when a step's
 * arithmetic dwarfs its weights: large batches on moderate models.
 */
export function resolveShards(shards: Shards, batch: number): number {
  return shards === 'auto' ? 1 : Math.max(1, Math.min(shards, batch));
}

/** CPU time this process has used (all its threads), sampled to tell its load from others'. */
const cpuSamples: { readonly t: number; readonly cpuMs: number }[] = [];
const SAMPLE_EVERY_MS = 5_000;
const LOAD_WINDOW_MS = 60_000;

function sampleCpu(): void {
  const u = process.cpuUsage();
  const t = performance.now();
  cpuSamples.push({ t, cpuMs: (u.user + u.system) / 1000 });
  while (cpuSamples.length > 2 && cpuSamples[1].t <= t - LOAD_WINDOW_MS) cpuSamples.shift();
}
sampleCpu();
setInterval(sampleCpu, SAMPLE_EVERY_MS).unref();

/**
 * Cores other processes leave free: cores minus the 1-minute load average, after taking out the
 * cores this process kept busy over about the same minute (its zoo workers, its own training), so
 * a run does not mistake its previous stage for someone else's load.
 */
export function idleCores(): number {
  const u = process.cpuUsage();
  const now = performance.now();
  const from = cpuSamples[0];
  const ownBusy =
    from && now - from.t > 1_000 ? ((u.user + u.system) / 1000 - from.cpuMs) / (now - from.t) : 0;
  const othersLoad = Math.max(0, os.loadavg()[0] - ownBusy);
  return Math.max(1, Math.round(os.availableParallelism() - othersLoad));
}

/**
 * Threads for `shards` shards: one per shard up to the cores other processes leave idle (a
 * thread on a busy core makes every step wait for it: on a 2-core machine at load 3.8, two threads
 * ran the standard diffusion step at a third of one thread's speed) or `D2NWG_SHARD_THREADS`;
 * 1 on a GPU backend (its one device is shared anyway) or when the worker file is missing. The
 * thread count never changes the numbers, so it may follow the machine's load.
 */
export function shardThreads(shards: number, env: NodeJS.ProcessEnv = process.env): number {
  if (shards <= 1 || !hostBackend(currentBackend()?.name) || !haveShardWorker()) return 1;
  const raw = (env[SHARD_THREADS_ENV] ?? '').trim();
  let cap: number;
  if (raw === '' || raw === 'auto') cap = idleCores();
  else {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > MAX_SHARDS) {
      throw new InputError(
        `expected auto or a whole number from 1 to ${MAX_SHARDS}, got '${raw}'`,
        SHARD_THREADS_ENV,
      );
    }
    cap = n;
  }
  return Math.max(1, Math.min(shards, cap));
}

/** The worker module that runs a replica's shards. */
export const SHARD_WORKER_FILE = new URL('../workers/shard-worker.ts', import.meta.url);

/** Whether the shard worker's source is on disk (not in a bundle that dropped it). */
export function haveShardWorker(): boolean {
  return SHARD_WORKER_FILE.protocol === 'file:' && fs.existsSync(fileURLToPath(SHARD_WORKER_FILE));
}

/**
 * One thread's view of a sharded step: the shards it computes, and `reduce`, which sums every
 * shard's vector in shard order (this thread's given as tensors, the others' read from the
 * threads that computed them).
 */
export interface ShardGroup {
  readonly shards: number;
  /** Threads computing the shards (this one included). */
  readonly threads: number;
  /** Length of each shard's vector. */
  readonly length: number;
  /** The shards this thread computes, ascending. */
  readonly local: readonly number[];
  /**
   * The sum, in shard order, of all shards' vectors; `local` maps each of this thread's shards to
   * its vector (left to the caller to dispose). Returns a new tensor.
   */
  reduce(local: ReadonlyMap<number, tf.Tensor1D>): Promise<tf.Tensor1D>;
  /** Stop: free workers (main thread); idempotent. */
  close(): Promise<void>;
}

/** Sum in shard order; `vector(s)` gives shard s's tensor and whether the sum may dispose it. */
function sumInOrder(
  shards: number,
  vector: (s: number) => { t: tf.Tensor1D; temp: boolean },
): tf.Tensor1D {
  let acc: tf.Tensor1D | null = null;
  try {
    for (let s = 0; s < shards; s++) {
      const { t, temp } = vector(s);
      if (acc === null) {
        acc = temp ? t : (t.clone() as tf.Tensor1D);
        continue;
      }
      const next: tf.Tensor1D = tf.add(acc, t);
      acc.dispose();
      if (temp) t.dispose();
      acc = next;
    }
  } catch (err) {
    acc?.dispose();
    throw err;
  }
  if (acc === null) throw new Error('a shard group needs at least one shard');
  return acc;
}

function localVector(
  local: ReadonlyMap<number, tf.Tensor1D>,
  s: number,
  length: number,
): tf.Tensor1D {
  const t = local.get(s);
  if (!t) throw new Error(`shard ${s}'s vector was not given`);
  if (t.size !== length) {
    throw new Error(`shard ${s}'s vector holds ${t.size} values, the group expects ${length}`);
  }
  return t;
}

/** All shards in this thread, one after the other. */
export function localShardGroup(shards: number, length: number): ShardGroup {
  return {
    shards,
    threads: 1,
    length,
    local: Array.from({ length: shards }, (_, i) => i),
    reduce: async (local) =>
      sumInOrder(shards, (s) => ({ t: localVector(local, s, length), temp: false })),
    close: () => Promise.resolve(),
  };
}

/**
 * Copy a float32 tensor's values into `dest`: straight from the heap on wasm (one memcpy), by an
 * asynchronous read elsewhere.
 */
async function copyOut(t: tf.Tensor, dest: Float32Array): Promise<void> {
  if (tf.getBackend() === 'wasm') {
    const wasm = wasmBackendOf(tf.backend());
    dest.set(new Float32Array(heapMemory(wasm).buffer, heapAddress(wasm, t), t.size));
    return;
  }
  dest.set(await t.data<'float32'>());
}

/** What a replica thread needs to join a group (structured-cloneable; the buffer is shared). */
export interface ShardGroupInfo {
  readonly buffer: SharedArrayBuffer;
  readonly shards: number;
  readonly threads: number;
  readonly length: number;
  /** This replica's thread index (≥ 1; thread 0 is the one that opened the group). */
  readonly thread: number;
}

/** Int32 counters (one per thread) at the start of the buffer, then the float slots. */
function layout(info: Omit<ShardGroupInfo, 'thread'>): {
  ctrl: Int32Array;
  data: Float32Array;
} {
  const ctrl = new Int32Array(info.buffer, 0, info.threads);
  const offset = 4 * Math.ceil(info.threads / 4) * 4;
  const data = new Float32Array(info.buffer, offset, 2 * info.shards * info.length);
  return { ctrl, data };
}

function bufferBytes(threads: number, shards: number, length: number): number {
  return 4 * Math.ceil(threads / 4) * 4 + 4 * 2 * shards * length;
}

type AtomicsWithWaitAsync = typeof Atomics & {
  waitAsync(
    ta: Int32Array,
    index: number,
    value: number,
    timeout?: number,
  ): { async: false; value: string } | { async: true; value: Promise<string> };
};

/**
 * A group spread over threads. `failed` is polled while waiting, so a replica that dies (or a
 * cancelled run) ends the wait with its error instead of hanging.
 */
class SharedShardGroup implements ShardGroup {
  readonly shards: number;
  readonly length: number;
  readonly local: readonly number[];
  private readonly ctrl: Int32Array;
  private readonly data: Float32Array;
  readonly threads: number;
  private readonly thread: number;
  private step = 0;

  constructor(
    info: ShardGroupInfo,
    private readonly failed: () => Error | null,
    private readonly onClose: () => Promise<void>,
  ) {
    this.shards = info.shards;
    this.length = info.length;
    this.threads = info.threads;
    this.thread = info.thread;
    ({ ctrl: this.ctrl, data: this.data } = layout(info));
    this.local = Array.from({ length: info.shards }, (_, i) => i).filter(
      (s) => s % info.threads === info.thread,
    );
  }

  private slot(shard: number): Float32Array {
    const o = ((this.step % 2) * this.shards + shard) * this.length;
    return this.data.subarray(o, o + this.length);
  }

  async reduce(local: ReadonlyMap<number, tf.Tensor1D>): Promise<tf.Tensor1D> {
    for (const s of this.local) await copyOut(localVector(local, s, this.length), this.slot(s));
    const target = this.step + 1;
    Atomics.store(this.ctrl, this.thread, target);
    Atomics.notify(this.ctrl, this.thread);
    const atomics = Atomics as AtomicsWithWaitAsync;
    for (let t = 0; t < this.threads; t++) {
      for (;;) {
        const seen = Atomics.load(this.ctrl, t);
        if (seen >= target) break;
        const err = this.failed();
        if (err) throw err;
        const w = atomics.waitAsync(this.ctrl, t, seen, 250);
        if (w.async) await w.value;
      }
    }
    // Other threads' vectors are copied in (slice(): a backend may keep a view of its input, and
    // the shared slot is rewritten by its owner two steps later).
    const sum = sumInOrder(this.shards, (s) =>
      this.local.includes(s)
        ? { t: localVector(local, s, this.length), temp: false }
        : { t: tf.tensor1d(this.slot(s).slice()), temp: true },
    );
    this.step += 1;
    return sum;
  }

  close(): Promise<void> {
    return this.onClose();
  }
}

/** A replica's side of a group opened by another thread (it frees nothing on close). */
export function joinShardGroup(info: ShardGroupInfo): ShardGroup {
  return new SharedShardGroup(
    info,
    () => null,
    () => Promise.resolve(),
  );
}

/** The job a shard worker runs: which trainer, its arguments, and the group to join. */
export interface ShardJob {
  readonly stage: 'vae' | 'diffusion';
  /** The trainer's arguments, minus rng/control (structured-cloneable). */
  readonly args: Record<string, unknown>;
  /** Seed of the trainer's Rng (trainers only fork it, so the seed is its whole state). */
  readonly seed: number;
  readonly group: ShardGroupInfo;
}

export interface OpenShardGroupArgs {
  readonly stage: ShardJob['stage'];
  readonly args: Record<string, unknown>;
  readonly seed: number;
  readonly shards: number;
  readonly threads: number;
  readonly length: number;
  /** Cancels the workers with the run. */
  readonly signal?: AbortSignal;
}

/**
 * Open a group for this thread (thread 0) and start `threads − 1` replicas on worker threads,
 * each training the same model on its own shards. With one thread, the shards run here.
 */
export function openShardGroup(args: OpenShardGroupArgs): ShardGroup {
  if (args.threads <= 1) return localShardGroup(args.shards, args.length);
  const buffer = new SharedArrayBuffer(bufferBytes(args.threads, args.shards, args.length));
  const pool = new WorkerPool(SHARD_WORKER_FILE, args.threads - 1);
  const stop = new AbortController();
  let failure: Error | null = null;
  const { ctrl } = layout({
    buffer,
    shards: args.shards,
    threads: args.threads,
    length: args.length,
  });
  const fail = (err: unknown): void => {
    if (failure !== null) return;
    failure = err instanceof Error ? err : new Error(String(err));
    for (let t = 0; t < args.threads; t++) Atomics.notify(ctrl, t);
  };
  const onAbort = (): void => fail(new CancelledError());
  args.signal?.addEventListener('abort', onAbort, { once: true });
  const jobs = Array.from({ length: args.threads - 1 }, (_, i) => {
    const job: ShardJob = {
      stage: args.stage,
      args: args.args,
      seed: args.seed,
      group: {
        buffer,
        shards: args.shards,
        threads: args.threads,
        length: args.length,
        thread: i + 1,
      },
    };
    return pool.run(job, { signal: stop.signal }).catch((err: unknown) => {
      if (!stop.signal.aborted) fail(err);
    });
  });
  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      args.signal?.removeEventListener('abort', onAbort);
      stop.abort();
      await Promise.allSettled(jobs);
      await pool.close();
    })();
    return closing;
  };
  return new SharedShardGroup(
    { buffer, shards: args.shards, threads: args.threads, length: args.length, thread: 0 },
    () => failure,
    close,
  );
}
