/**
 * Tensor backend selection. Order: tfjs-node-gpu, tfjs-node, wasm, cpu (webgpu joins in the GPU
 * issue). `D2NWG_BACKEND` or an explicit option overrides it. Optional native packages are loaded
 * with dynamic imports so an install without them works.
 */
import * as tf from '@tensorflow/tfjs';
import { InputError } from './errors.ts';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

export interface BackendInfo {
  /** tfjs backend name actually in use. */
  readonly name: string;
  /** Package that provided it. */
  readonly provider: string;
  /** Why other candidates were skipped, for `d2nwg doctor`. */
  readonly skipped: readonly { name: string; reason: string }[];
  /** tfjs version. */
  readonly tfjsVersion: string;
}

export interface InitBackendArgs {
  /** Force a backend: 'tensorflow' (tfjs-node[-gpu]), 'wasm' or 'cpu'. Default: env, then auto. */
  readonly backend?: string;
  /** Do not log the choice. */
  readonly quiet?: boolean;
}

let current: BackendInfo | null = null;

async function tryImport(specifier: string): Promise<string | null> {
  try {
    await import(/* @vite-ignore */ specifier);
    return null;
  } catch (err) {
    return err instanceof Error ? err.message.split('\n')[0] : String(err);
  }
}

async function initWasm(): Promise<void> {
  await import('@tensorflow/tfjs-backend-wasm');
  const ok = await tf.setBackend('wasm');
  if (!ok) throw new Error('tf.setBackend("wasm") returned false');
  await tf.ready();
}

/** Pick and initialise the tensor backend once per process (or thread); returns what was chosen. */
export async function initBackend(args: InitBackendArgs = {}): Promise<BackendInfo> {
  const wanted = (args.backend ?? process.env.D2NWG_BACKEND ?? 'auto').toLowerCase();
  if (current && (wanted === 'auto' || wanted === current.name)) return current;
  const skipped: { name: string; reason: string }[] = [];
  const valid = ['auto', 'tensorflow', 'wasm', 'cpu'];
  if (!valid.includes(wanted)) {
    throw new InputError(
      `unknown backend '${wanted}'; expected one of ${valid.join(', ')}`,
      'D2NWG_BACKEND',
    );
  }

  let chosen: { name: string; provider: string } | null = null;
  if (wanted === 'auto' || wanted === 'tensorflow') {
    for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
      const err = await tryImport(pkg);
      if (err === null && (await tf.setBackend('tensorflow'))) {
        chosen = { name: 'tensorflow', provider: pkg };
        break;
      }
      skipped.push({ name: pkg, reason: err ?? 'setBackend failed' });
    }
    if (!chosen && wanted === 'tensorflow') {
      throw new InputError(
        `backend 'tensorflow' requested but neither tfjs-node-gpu nor tfjs-node loads (${skipped.map((s) => s.reason).join('; ')})`,
      );
    }
  }
  if (!chosen && (wanted === 'auto' || wanted === 'wasm')) {
    try {
      await initWasm();
      chosen = { name: 'wasm', provider: '@tensorflow/tfjs-backend-wasm' };
    } catch (err) {
      if (wanted === 'wasm') throw err;
      skipped.push({ name: 'wasm', reason: err instanceof Error ? err.message : String(err) });
    }
  }
  if (!chosen) {
    await tf.setBackend('cpu');
    await tf.ready();
    chosen = { name: 'cpu', provider: '@tensorflow/tfjs-backend-cpu' };
  }
  current = { ...chosen, skipped, tfjsVersion: tf.version.tfjs };
  if (!args.quiet) console.error(`d2nwg: tensor backend ${current.name} (${current.provider})`);
  return current;
}

/** The backend chosen by initBackend, or null before it ran. */
export function currentBackend(): BackendInfo | null {
  return current;
}
