/**
 * The wasm backend on several cores under Node. tfjs-backend-wasm ships an XNNPACK build with
 * pthreads (`tfjs-backend-wasm-threaded-simd.wasm`) but reports no thread support under Node and
 * loads the single-threaded binary, for three reasons we work around here:
 *
 * - its Emscripten glue starts each pthread with `new Worker(url)`, and tfjs hands it a `blob:`
 *   URL, which Node's worker_threads do not load: we write the worker script (a string the
 *   package exports) to a private temporary folder and point `locateFile` at that file;
 * - the pthread workers re-evaluate the glue from `mainScriptUrlOrBlob`, again a Blob in tfjs:
 *   we pass the glue's path in node_modules;
 * - the C++ side sizes its thread pool as min(requested, logical cores / 2), which is one thread on
 *   a 2-core machine: we instantiate the module ourselves and answer its core-count import with
 *   twice the requested count, so the pool gets exactly the threads asked for.
 *
 * The module is then wrapped in the package's own BackendWasm and registered as 'wasm', so every
 * stock and custom wasm kernel runs unchanged. XNNPACK splits each operator's output into tiles
 * across threads without changing any element's arithmetic, so results match the single-threaded
 * binary.
 *
 * `D2NWG_WASM_THREADS` sets the thread count: a number, `1`/`0`/`off` (the default) for the
 * single-threaded binary, or `auto`: on the main thread the cores idle at start-up (cores minus the
 * 1-minute load average, rounded; at least 1, at most 8); 1 in worker threads, which already split
 * work across cores, and under vitest, so tests keep their timing. Idle cores, because XNNPACK's
 * pool waits for its slowest thread at every operator and spins between operators: on a shared
 * 2-core machine at load 10–15, two threads ran the standard VAE and diffusion steps at 0.5× and
 * 0.45× the speed of one (medians of interleaved runs); on the same machine idle (load 2), 1.04×
 * and 1.00×, because our own SIMD kernels, not XNNPACK, run those steps' largest matmuls. So
 * threads are opt-in.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { isMainThread } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { BackendWasm, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { InputError } from './errors.ts';

/** The environment variable that sets the wasm thread count. */
export const WASM_THREADS_ENV = 'D2NWG_WASM_THREADS';

/** XNNPACK's pool in tfjs-backend-wasm 4.22 is capped at its 8 pre-started pthread workers. */
export const MAX_WASM_THREADS = 8;

const GLUE = 'tfjs-backend-wasm-threaded-simd.js';
const WORKER = 'tfjs-backend-wasm-threaded-simd.worker.js';
const BINARY = 'tfjs-backend-wasm-threaded-simd.wasm';
/** Name of the glue's core-count import (function names survive the glue's minification). */
const CORES_IMPORT = '_emscripten_num_logical_cores';

/** The default thread count: see the file comment. */
function defaultThreads(env: NodeJS.ProcessEnv, load: number): number {
  if (!isMainThread || env.VITEST !== undefined) return 1;
  const cores = os.availableParallelism();
  const idle = Math.min(cores, Math.round(cores - Math.max(0, load)));
  return Math.max(1, Math.min(idle, MAX_WASM_THREADS));
}

/**
 * Threads the wasm backend should use, from `D2NWG_WASM_THREADS` (see the file comment); 1 means
 * the stock single-threaded binary.
 */
export function wasmThreadsWanted(
  env: NodeJS.ProcessEnv = process.env,
  /** The 1-minute load average (a parameter for tests; 0 where the OS has none). */
  load: number = os.loadavg()[0] ?? 0,
): number {
  const raw = (env[WASM_THREADS_ENV] ?? '').trim().toLowerCase();
  if (raw === 'auto') return defaultThreads(env, load);
  if (raw === '' || raw === 'off' || raw === '0') return 1;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > MAX_WASM_THREADS) {
    throw new InputError(
      `expected auto, off or a whole number from 1 to ${MAX_WASM_THREADS}, got '${raw}'`,
      WASM_THREADS_ENV,
    );
  }
  return n;
}

// ---- the parts of the Emscripten module we touch ----------------------------------------------

interface NodeWorkerLike {
  unref(): void;
  terminate(): unknown;
}

/** What BackendWasm needs of the module (its `tfjs` bridge is added by loadThreadedModule). */
interface ThreadedModule {
  cwrap(name: string, ret: string | null, args: string[]): (...args: number[]) => unknown;
  tfjs?: Record<string, (...args: number[]) => unknown>;
  readonly PThread?: { runningWorkers?: NodeWorkerLike[]; unusedWorkers?: NodeWorkerLike[] };
}

/** WebAssembly as far as this file uses it (Node's global; the lib has no DOM types). */
type WasmImports = Record<string, Record<string, unknown>>;
interface WasmInstantiate {
  instantiate(
    bytes: Uint8Array,
    imports: WasmImports,
  ): Promise<{ instance: object; module: object }>;
}
const WA = (globalThis as unknown as { WebAssembly: WasmInstantiate }).WebAssembly;

interface FactoryConfig {
  locateFile(file: string, prefix: string): string;
  mainScriptUrlOrBlob: string;
  instantiateWasm(
    imports: WasmImports,
    receive: (instance: object, module: object) => void,
  ): Record<string, never>;
  onAbort(reason: unknown): void;
}

type Factory = (config: FactoryConfig) => Promise<ThreadedModule>;

function isFactory(v: unknown): v is Factory {
  return typeof v === 'function';
}

const requireHere = createRequire(import.meta.url);

/** The folder of tfjs-backend-wasm's Emscripten outputs. */
function wasmOutDir(): string {
  const pkg = requireHere.resolve('@tensorflow/tfjs-backend-wasm/package.json');
  return path.join(path.dirname(pkg), 'wasm-out');
}

let workerScript: string | null = null;

/**
 * The pthread worker script as a file Node can start: written once per process into a folder
 * only this user can write to, removed when the process exits.
 */
function workerScriptFile(outDir: string): string {
  if (workerScript !== null) return workerScript;
  const exported: unknown = requireHere(path.join(outDir, WORKER));
  const contents =
    typeof exported === 'object' && exported !== null && 'wasmWorkerContents' in exported
      ? exported.wasmWorkerContents
      : undefined;
  if (typeof contents !== 'string') throw new Error(`${WORKER} exports no worker script`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-wasm-threads-'));
  const file = path.join(dir, 'pthread-worker.cjs');
  // The package keeps the script in a template literal, so its "\n" escapes arrived as real
  // newlines inside string literals; escape them again, as tfjs does before making its Blob.
  fs.writeFileSync(file, contents.replace(/\n/g, '\\n'), { mode: 0o600 });
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  workerScript = file;
  return file;
}

/** How long the threaded build may take to start (its 8 pthread workers each load the glue). */
const START_TIMEOUT_MS = 60_000;

/**
 * Instantiate the threaded build with `threads` XNNPACK threads and add the JS bridge tfjs's own
 * loader adds. Rejects when the build cannot start, or has not started within START_TIMEOUT_MS.
 */
async function loadThreadedModule(threads: number): Promise<ThreadedModule> {
  const outDir = wasmOutDir();
  const factory: unknown = requireHere(path.join(outDir, GLUE));
  if (!isFactory(factory)) throw new Error(`${GLUE} does not export a module factory`);
  const worker = workerScriptFile(outDir);
  const binary = fs.readFileSync(path.join(outDir, BINARY));
  const module = await new Promise<ThreadedModule>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(new Error(`the threaded wasm build did not start within ${START_TIMEOUT_MS} ms`)),
      START_TIMEOUT_MS,
    );
    timer.unref();
    factory({
      locateFile: (file, prefix) => (file.endsWith('.worker.js') ? worker : prefix + file),
      mainScriptUrlOrBlob: path.join(outDir, GLUE),
      instantiateWasm: (imports, receive) => {
        const env = imports.env;
        if (env === undefined) throw new Error(`${BINARY}: no 'env' imports`);
        const patched: Record<string, unknown> = { ...env };
        const key = Object.keys(env).find((k) => {
          const f = env[k];
          return typeof f === 'function' && f.name === CORES_IMPORT;
        });
        if (key === undefined) throw new Error(`${GLUE}: core-count import not found`);
        patched[key] = () => 2 * threads;
        WA.instantiate(binary, { ...imports, env: patched, wasi_snapshot_preview1: patched })
          .then((r) => receive(r.instance, r.module))
          .catch(reject);
        return {};
      },
      onAbort: (reason) => reject(new Error(`threaded wasm aborted: ${String(reason)}`)),
    })
      .then(resolve, reject)
      .finally(() => clearTimeout(timer));
  });
  const w = (name: string, ret: string | null, args: string[]) => module.cwrap(name, ret, args);
  module.tfjs = {
    init: w('init', null, []),
    initWithThreadsCount: w('init_with_threads_count', null, ['number']),
    getThreadsCount: w('get_threads_count', 'number', []),
    registerTensor: w('register_tensor', null, ['number', 'number', 'number']),
    disposeData: w('dispose_data', null, ['number']),
    dispose: w('dispose', null, []),
  };
  return module;
}

/** BackendWasm as a constructor of our module type (the package types its own module). */
const ThreadedBackend = BackendWasm as unknown as new (module: ThreadedModule) => tf.KernelBackend;

/**
 * Replace the 'wasm' backend registration with the threaded build; returns the thread count the
 * XNNPACK pool reports. Call before `tf.setBackend('wasm')`. On failure the stock registration
 * is left in place and the error says why.
 */
export async function registerThreadedWasm(threads: number): Promise<number> {
  const module = await loadThreadedModule(threads);
  const stock = tf.findBackendFactory('wasm');
  const priority = 2; // tfjs-backend-wasm's own WASM_PRIORITY
  let actual = 0;
  tf.removeBackend('wasm');
  tf.registerBackend(
    'wasm',
    () => {
      setThreadsCount(threads);
      const backend = new ThreadedBackend(module);
      const count = module.tfjs?.getThreadsCount?.();
      actual = typeof count === 'number' ? count : 0;
      // XNNPACK's pool threads live as long as the backend and would keep the event loop (and a
      // finished CLI) alive; the main thread blocks on them while an operator runs anyway.
      for (const worker of module.PThread?.runningWorkers ?? []) worker.unref();
      // The glue starts 8 workers whatever the count; the pool has taken its threads, and a
      // later pthread would start a fresh worker, so the idle ones (an isolate each) can go.
      const pthreads = module.PThread;
      if (pthreads?.unusedWorkers) {
        for (const worker of pthreads.unusedWorkers) void worker.terminate();
        pthreads.unusedWorkers = [];
      }
      return backend;
    },
    priority,
  );
  if (await tf.setBackend('wasm')) return actual;
  tf.removeBackend('wasm');
  if (stock) tf.registerBackend('wasm', stock, priority);
  throw new Error('the threaded wasm backend failed to start');
}
