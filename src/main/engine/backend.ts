/**
 * Tensor backend selection. Order: tfjs-node-gpu, webgpu (real hardware only), tfjs-node, wasm,
 * cpu. `D2NWG_BACKEND` or an explicit option overrides it. Optional native packages are loaded
 * with dynamic imports so an install without them works, and the reason each candidate was
 * skipped is kept for `d2nwg doctor`.
 */
import * as tf from '@tensorflow/tfjs';
import {
  NO_GPU_DEVICE_REASON,
  clearBufferGuard,
  gpuDeviceFiles,
  installBufferGuard,
  installValidationCheck,
  prepareWebgpu,
  type GpuAdapterSummary,
} from './backend-webgpu.ts';
import { dispatchCacheEnabled, installDispatchCaches } from './kernels/webgpu-dispatch.ts';
import { InputError } from './errors.ts';
import { registerThreadedWasm, wasmThreadsWanted } from './backend-wasm.ts';
import { installWasmKernels } from './kernels/wasm.ts';
import { installAddNChunks, installWebgpuKernels, webgpuKernelsEnabled } from './kernels/webgpu.ts';
import { installGraphHooks, stepGraphsEnabled } from './kernels/webgpu-graph.ts';
import { errorMessage } from '../../shared/errors.ts';

/** Names accepted by `D2NWG_BACKEND` / `--backend`. */
export const BACKEND_NAMES = ['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as const;

export type BackendName = Exclude<(typeof BACKEND_NAMES)[number], 'auto'>;

/** A candidate that was not used, and why: shown by `d2nwg doctor`. */
export interface SkippedBackend {
  /** Candidate, e.g. 'tfjs-node' or 'wasm'. */
  readonly name: string;
  /** Why it was not used, e.g. 'not installed'. */
  readonly reason: string;
}

export interface BackendInfo {
  /** tfjs backend name actually in use. */
  readonly name: string;
  /** Package that provided it. */
  readonly provider: string;
  /** Why other candidates were skipped, for `d2nwg doctor`. */
  readonly skipped: readonly SkippedBackend[];
  /** tfjs version. */
  readonly tfjsVersion: string;
  /** The WebGPU adapter, when one was probed (in use or skipped). */
  readonly gpu?: GpuAdapterSummary;
  /** wasm only: threads each operator runs on (`D2NWG_WASM_THREADS`, see backend-wasm.ts). */
  readonly threads?: number;
}

export interface InitBackendArgs {
  /** Force 'tensorflow' (tfjs-node[-gpu]), 'webgpu', 'wasm' or 'cpu'. Default: env, then auto. */
  readonly backend?: string;
  /** Do not log the choice. */
  readonly quiet?: boolean;
}

let current: BackendInfo | null = null;

/** Short name used in messages: '@tensorflow/tfjs-node' → 'tfjs-node'. */
function shortName(pkg: string): string {
  return pkg.replace(/^@tensorflow\//, '');
}

/** Import an optional package; null when it loaded, else a one-line reason. */
async function tryImport(specifier: string): Promise<string | null> {
  try {
    await import(/* @vite-ignore */ specifier);
    return null;
  } catch (err) {
    const code =
      typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;
    const message = errorMessage(err);
    if (
      (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') &&
      message.includes(specifier)
    ) {
      return 'not installed';
    }
    return message.split('\n')[0] ?? message;
  }
}

/**
 * Start the wasm backend, on the threaded build when `D2NWG_WASM_THREADS` asks for more than one
 * thread and it starts (else the stock binary, with the reason in `skipped`); returns the number
 * of threads in use.
 */
async function initWasm(skipped: SkippedBackend[]): Promise<number> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const threads = wasmThreadsWanted();
  let started = false;
  // A wasm backend that already runs (set up before initBackend) is kept as it is. (Not
  // tf.findBackend: that starts the registered factory.)
  if (threads > 1 && !('wasm' in tf.engine().registry)) {
    try {
      await registerThreadedWasm(threads);
      started = true;
    } catch (err) {
      skipped.push({ name: 'wasm-threads', reason: errorMessage(err) });
    }
  }
  if (!started && !(await tf.setBackend('wasm'))) {
    throw new Error('tf.setBackend("wasm") returned false');
  }
  await tf.ready();
  installWasmKernels();
  return Math.max(1, wasm.getThreadsCount());
}

function parseWanted(raw: string | undefined, fromEnv: boolean): (typeof BACKEND_NAMES)[number] {
  const wanted = (raw === undefined || raw === '' ? 'auto' : raw).toLowerCase();
  const valid: readonly string[] = BACKEND_NAMES;
  if (!valid.includes(wanted)) {
    throw new InputError(
      `unknown backend '${raw ?? ''}'; expected one of ${BACKEND_NAMES.join(', ')}`,
      fromEnv ? 'D2NWG_BACKEND' : 'D2NWG_BACKEND / --backend',
    );
  }
  return wanted as (typeof BACKEND_NAMES)[number];
}

/** Pick and initialise the tensor backend once per process (or thread); returns what was chosen. */
export async function initBackend(args: InitBackendArgs = {}): Promise<BackendInfo> {
  const fromEnv = args.backend === undefined;
  const wanted = parseWanted(args.backend ?? process.env.D2NWG_BACKEND, fromEnv);
  if (current && (wanted === 'auto' || wanted === current.name)) return current;
  const skipped: SkippedBackend[] = [];
  const notTried = (name: string) =>
    skipped.push({ name, reason: `not tried (forced '${wanted}')` });

  let chosen: { name: string; provider: string } | null = null;
  let gpu: GpuAdapterSummary | undefined;
  const tryNative = async (pkg: string): Promise<boolean> => {
    const err = await tryImport(pkg);
    if (err === null && (await tf.setBackend('tensorflow'))) {
      await tf.ready();
      chosen = { name: 'tensorflow', provider: pkg };
      return true;
    }
    skipped.push({ name: shortName(pkg), reason: err ?? 'setBackend("tensorflow") failed' });
    return false;
  };

  if (wanted === 'auto' || wanted === 'tensorflow') await tryNative('@tensorflow/tfjs-node-gpu');
  else notTried('tfjs-node-gpu');

  const deviceFiles = wanted === 'auto' ? gpuDeviceFiles() : null;
  if (!chosen && wanted === 'auto' && deviceFiles !== null && deviceFiles.length === 0) {
    skipped.push({ name: 'webgpu', reason: NO_GPU_DEVICE_REASON });
  } else if (!chosen && (wanted === 'auto' || wanted === 'webgpu')) {
    let reason: string;
    try {
      const probe = await prepareWebgpu(wanted === 'webgpu');
      gpu = probe.adapter;
      if (probe.ok && (await tf.setBackend('webgpu'))) {
        await tf.ready();
        installBufferGuard(tf.backend());
        installValidationCheck(tf.backend());
        installAddNChunks(tf.backend());
        if (dispatchCacheEnabled()) installDispatchCaches(tf.backend());
        if (webgpuKernelsEnabled()) installWebgpuKernels();
        if (stepGraphsEnabled()) installGraphHooks(tf.backend());
        chosen = { name: 'webgpu', provider: '@tensorflow/tfjs-backend-webgpu' };
      }
      reason = probe.ok ? 'setBackend("webgpu") failed' : probe.reason;
    } catch (err) {
      reason = err instanceof Error ? (err.message.split('\n')[0] ?? err.message) : String(err);
    }
    if (!chosen) {
      if (wanted === 'webgpu') {
        throw new InputError(
          `backend 'webgpu' requested but ${reason}`,
          fromEnv ? 'D2NWG_BACKEND' : undefined,
        );
      }
      skipped.push({ name: 'webgpu', reason });
    }
  } else if (!chosen && wanted !== 'tensorflow') {
    notTried('webgpu');
  }

  if (!chosen && (wanted === 'auto' || wanted === 'tensorflow')) {
    await tryNative('@tensorflow/tfjs-node');
    if (!chosen && wanted === 'tensorflow') {
      throw new InputError(
        `backend 'tensorflow' requested but ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}` +
          ' (install @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu 4.22, or pick wasm/cpu)',
        fromEnv ? 'D2NWG_BACKEND' : undefined,
      );
    }
  } else if (!chosen) {
    notTried('tfjs-node');
  }
  let threads: number | undefined;
  if (!chosen && (wanted === 'auto' || wanted === 'wasm')) {
    try {
      threads = await initWasm(skipped);
      chosen = { name: 'wasm', provider: '@tensorflow/tfjs-backend-wasm' };
    } catch (err) {
      if (wanted === 'wasm' || err instanceof InputError) throw err;
      skipped.push({ name: 'wasm', reason: errorMessage(err) });
    }
  } else if (!chosen && wanted !== 'tensorflow') {
    notTried('wasm');
  }
  if (!chosen) {
    if (!(await tf.setBackend('cpu'))) throw new Error('tf.setBackend("cpu") returned false');
    await tf.ready();
    chosen = { name: 'cpu', provider: '@tensorflow/tfjs-backend-cpu' };
  }
  if ((chosen as { name: string }).name !== 'webgpu') clearBufferGuard();
  current = {
    ...chosen,
    skipped,
    tfjsVersion: tf.version.tfjs,
    ...(gpu ? { gpu } : {}),
    ...(threads !== undefined ? { threads } : {}),
  };
  if (!args.quiet) {
    const on = threads !== undefined && threads > 1 ? `, ${threads} threads` : '';
    console.error(`d2nwg: tensor backend ${current.name} (${current.provider}${on})`);
  }
  return current;
}

/** The backend chosen by initBackend, or null before it ran. */
export function currentBackend(): BackendInfo | null {
  return current;
}
