/**
 * Evaluation work spread over worker threads on CPU backends. The fine-tuning of many inits
 * (every Evaluate node, the report's extras) and the scoring of many checkpoints
 * (noise_nearest's pick) are model batches whose members do not depend on each other: each gets
 * exactly what it gets alone, in any batch. On wasm one thread runs one core, so cutting the
 * members into one contiguous chunk per idle core and running the chunks in worker threads gives
 * the same numbers sooner. The CNN presets spend most of their time here.
 *
 * One pool serves the process: its threads start at the first large job and stay (idle ones do
 * not keep the process alive) until nothing has used them for IDLE_CLOSE_MS. Work below
 * MIN_THREADED_MACS stays on the calling thread, where it costs no copy and no start-up.
 * `D2NWG_EVAL_THREADS=1` turns this off; `=N` sets the thread count; `auto` (the default) uses
 * the cores other processes leave idle, on the wasm and cpu backends only (a GPU or tfjs-node
 * backend already uses the hardware from one thread).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { fileURLToPath } from 'node:url';
import { currentBackend } from '../backend.ts';
import { idleCores } from '../common/data-parallel.ts';
import { InputError, throwIfAborted } from '../errors.ts';
import type { Layout } from '../nn/architecture.ts';
import type { Evaluation } from '../nn/batch.ts';
import type { RunControl } from '../progress.ts';
import type { RngState } from '../rng.ts';
import { WorkerPool } from '../workers/pool.ts';

export const EVAL_THREADS_ENV = 'D2NWG_EVAL_THREADS';
export const EVAL_WORKER_FILE = new URL('./eval-worker.ts', import.meta.url);

/**
 * Least work (multiply-adds of forward passes, a backward pass counted as two) worth threads:
 * about half a second on one wasm core, against ~1 s to start a thread once and the copy of the
 * chunk's samples each time.
 */
export const MIN_THREADED_MACS = 2e9;
/** A pool nobody used for this long is closed (its threads' memory returned). */
const IDLE_CLOSE_MS = 30_000;

/** One fine-tuning member as plain data (its shuffling stream's position, not the Rng). */
export interface FinetuneMemberData {
  readonly init: Float32Array;
  readonly xTrain: Float32Array;
  readonly yTrain: Int32Array;
  readonly xTest: Float32Array;
  readonly yTest: Int32Array;
  readonly rng: RngState;
}

/** Jobs of the evaluation worker (eval-worker.ts). */
export type EvalJob =
  | {
      readonly kind: 'evaluate';
      readonly layout: Layout;
      readonly rows: readonly Float32Array[];
      readonly x: Float32Array;
      readonly y: Int32Array;
    }
  | {
      readonly kind: 'finetune';
      readonly layout: Layout;
      readonly members: readonly FinetuneMemberData[];
      readonly maxEpoch: number;
      readonly lr: number;
      readonly batchSize: number;
    };

/** A fine-tuning chunk's progress message: the epoch its members finished, their mean test acc. */
export interface FinetuneProgressMessage {
  readonly epoch: number;
  readonly testAcc?: number;
}

/** Whether the worker entry ships next to this module (it runs from the sources, via tsx). */
export function haveEvalWorker(): boolean {
  return EVAL_WORKER_FILE.protocol === 'file:' && fs.existsSync(fileURLToPath(EVAL_WORKER_FILE));
}

/**
 * Threads for `macs` multiply-adds of independent model work: 1 when it is small, on a backend
 * other than wasm/cpu, or when D2NWG_EVAL_THREADS says so; otherwise the idle cores (or the
 * variable's count), at most one per `chunks`.
 */
export function evalThreads(
  macs: number,
  chunks: number,
  env: NodeJS.ProcessEnv = process.env,
): number {
  const raw = (env[EVAL_THREADS_ENV] ?? '').trim();
  let want: number;
  if (raw === '' || raw === 'auto') {
    const backend = currentBackend()?.name;
    if (backend !== 'wasm' && backend !== 'cpu') return 1;
    if (macs < MIN_THREADED_MACS) return 1;
    want = idleCores();
  } else {
    want = Number(raw);
    if (!Number.isInteger(want) || want < 1) {
      throw new InputError(
        `${EVAL_THREADS_ENV} must be 'auto' or a positive integer, got '${raw}'`,
        EVAL_THREADS_ENV,
      );
    }
  }
  const cap = Math.min(want, chunks, os.availableParallelism() * 2);
  return cap >= 2 && haveEvalWorker() ? cap : 1;
}

let shared: {
  pool: WorkerPool;
  backend: string | undefined;
  timer: NodeJS.Timeout | null;
  users: number;
} | null = null;

/** Run `body` with the process's evaluation pool (of `threads` threads when it starts). */
async function withPool<T>(threads: number, body: (pool: WorkerPool) => Promise<T>): Promise<T> {
  const backend = currentBackend()?.name;
  const stale = shared && (shared.pool.size < threads || shared.backend !== backend);
  if (shared && stale && shared.users === 0) {
    // Too small, or started on another backend, and idle: start a fresh one.
    const old = shared;
    shared = null;
    if (old.timer) clearTimeout(old.timer);
    await old.pool.close();
  }
  if (!shared) {
    shared = {
      pool: new WorkerPool(EVAL_WORKER_FILE, threads, { unrefIdle: true }),
      backend,
      timer: null,
      users: 0,
    };
  }
  const mine = shared;
  if (mine.timer) clearTimeout(mine.timer);
  mine.timer = null;
  mine.users += 1;
  try {
    return await body(mine.pool);
  } finally {
    mine.users -= 1;
    if (mine.users === 0 && shared === mine) {
      mine.timer = setTimeout(() => {
        if (shared === mine && mine.users === 0) {
          shared = null;
          void mine.pool.close();
        }
      }, IDLE_CLOSE_MS);
      mine.timer.unref();
    }
  }
}

/** Close the evaluation pool now (tests; a host shutting down). */
export async function closeEvalPool(): Promise<void> {
  const s = shared;
  shared = null;
  if (s?.timer) clearTimeout(s.timer);
  await s?.pool.close();
}

/**
 * Arrays as they should cross postMessage: a view into a larger buffer (a zoo row, a cached
 * dataset) would take its whole buffer along, so it is copied to its own; the same array passed
 * twice becomes the same copy, so members sharing a task's samples still share them.
 */
function compactor(): <T extends Float32Array | Int32Array>(a: T) => T {
  const seen = new Map<Float32Array | Int32Array, Float32Array | Int32Array>();
  return <T extends Float32Array | Int32Array>(a: T): T => {
    if (a.byteOffset === 0 && a.byteLength === a.buffer.byteLength) return a;
    const known = seen.get(a);
    if (known) return known as T;
    const copy = a.slice() as T;
    seen.set(a, copy);
    return copy;
  };
}

/** Cut `count` items into `parts` contiguous chunks of near-equal size: [start, end) each. */
export function chunkRanges(count: number, parts: number): [number, number][] {
  const out: [number, number][] = [];
  for (let p = 0; p < parts; p++) {
    const a = Math.floor((p * count) / parts);
    const b = Math.floor(((p + 1) * count) / parts);
    if (b > a) out.push([a, b]);
  }
  return out;
}

/**
 * Loss and accuracy of every row on (x, y), the rows cut into `threads` chunks evaluated in the
 * evaluation pool; the same numbers as evaluating them on this thread.
 */
export async function evaluateRowsThreaded(
  layout: Layout,
  rows: readonly Float32Array[],
  x: Float32Array,
  y: Int32Array,
  threads: number,
): Promise<Evaluation[]> {
  const own = compactor();
  const parts = await withPool(threads, (pool) =>
    Promise.all(
      chunkRanges(rows.length, threads).map(([a, b]) =>
        pool.run<EvalJob, Evaluation[]>({
          kind: 'evaluate',
          layout,
          rows: rows.slice(a, b).map((r) => Float32Array.from(r)),
          x: own(x),
          y: own(y),
        }),
      ),
    ),
  );
  return parts.flat();
}

/**
 * Fine-tuning curves of `members`, cut into `threads` chunks run in the evaluation pool. The
 * progress is the slowest chunk's epoch. Raises what the chunk raised (a NumericError names the
 * member); cancelling stops every chunk.
 */
export async function finetuneThreaded<TCurve>(
  args: {
    readonly layout: Layout;
    readonly members: readonly FinetuneMemberData[];
    readonly maxEpoch: number;
    readonly lr: number;
    readonly batchSize: number;
    readonly control?: RunControl;
  },
  threads: number,
): Promise<TCurve[]> {
  const { layout, maxEpoch, lr, batchSize, control } = args;
  throwIfAborted(control?.signal);
  const own = compactor();
  const members = args.members.map((m) => ({
    ...m,
    init: own(m.init),
    xTrain: own(m.xTrain),
    yTrain: own(m.yTrain),
    xTest: own(m.xTest),
    yTest: own(m.yTest),
  }));
  const ranges = chunkRanges(members.length, threads);
  const epochOf = ranges.map(() => 0);
  let reported = 0;
  const stop = new AbortController();
  const onOuter = (): void => stop.abort(control?.signal?.reason);
  control?.signal?.addEventListener('abort', onOuter, { once: true });
  try {
    const parts = await withPool(threads, (pool) =>
      Promise.all(
        ranges.map(([a, b], ci) =>
          pool
            .run<EvalJob, TCurve[]>(
              { kind: 'finetune', layout, members: members.slice(a, b), maxEpoch, lr, batchSize },
              {
                signal: stop.signal,
                onMessage: (data) => {
                  const m = data as FinetuneProgressMessage;
                  epochOf[ci] = Math.max(epochOf[ci], m.epoch);
                  const done = Math.min(...epochOf);
                  if (done > reported) {
                    reported = done;
                    control?.onProgress?.({
                      value: done,
                      max: maxEpoch,
                      unit: 'epoch',
                      ...(m.testAcc !== undefined ? { metrics: { testAcc: m.testAcc } } : {}),
                    });
                  }
                },
              },
            )
            .catch((err: unknown) => {
              stop.abort(err);
              throw err;
            }),
        ),
      ),
    );
    return parts.flat();
  } finally {
    control?.signal?.removeEventListener('abort', onOuter);
  }
}
