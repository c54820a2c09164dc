import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../../../src/main/engine/backend.ts';
import {
  NO_GPU_DEVICE_REASON,
  gpuDeviceFiles,
  prepareWebgpu,
} from '../../../src/main/engine/backend-webgpu.ts';
import { InputError } from '../../../src/main/engine/errors.ts';

describe('initBackend', () => {
  afterAll(async () => {
    vi.unstubAllEnvs();
    await initBackend({ backend: 'wasm', quiet: true });
  });

  it('switches to a forced cpu backend and back to wasm', async () => {
    const cpu = await initBackend({ backend: 'cpu', quiet: true });
    expect(cpu.name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(cpu.skipped.map((s) => s.name)).toEqual([
      'tfjs-node-gpu',
      'webgpu',
      'tfjs-node',
      'wasm',
    ]);
    const wasm = await initBackend({ backend: 'WASM', quiet: true });
    expect(wasm.name).toBe('wasm');
    expect(wasm.provider).toBe('@tensorflow/tfjs-backend-wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(tf.tidy(() => Array.from(tf.add(tf.tensor1d([1, 2]), 1).dataSync()))).toEqual([2, 3]);
  });

  it('rejects an unknown name from the environment with an InputError naming D2NWG_BACKEND', async () => {
    vi.stubEnv('D2NWG_BACKEND', 'cuda');
    const err = await initBackend({ quiet: true }).catch((e: unknown) => e);
    vi.unstubAllEnvs();
    expect(err).toBeInstanceOf(InputError);
    expect(String(err)).toMatch(/D2NWG_BACKEND/);
    expect(String(err)).toMatch(/unknown backend 'cuda'/);
  });

  it('rejects an unknown forced name too, naming D2NWG_BACKEND', async () => {
    await expect(initBackend({ backend: 'gpu', quiet: true })).rejects.toThrow(
      /D2NWG_BACKEND.*'gpu'/,
    );
  });

  it("says tfjs-node is not installed when 'tensorflow' is forced without it", async () => {
    const err = await initBackend({ backend: 'tensorflow', quiet: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect(String(err)).toMatch(/tfjs-node: not installed/);
    expect(String(err)).toMatch(/tfjs-node-gpu: not installed/);
    expect(tf.getBackend()).toBe('wasm');
  });

  it('says the webgpu package is not installed when it is missing from the project and D2NWG_WEBGPU_PATH', async () => {
    const missing = (specifier: string) =>
      Promise.reject(
        Object.assign(new Error(`Cannot find package '${specifier}' imported from x.ts`), {
          code: 'ERR_MODULE_NOT_FOUND',
        }),
      );
    vi.stubEnv('D2NWG_WEBGPU_PATH', '');
    const probe = await prepareWebgpu(true, missing);
    vi.unstubAllEnvs();
    expect(probe.ok).toBe(false);
    expect(!probe.ok && probe.reason).toBe(
      "package 'webgpu' not installed (npm i -D webgpu @tensorflow/tfjs-backend-webgpu@4.22.0)",
    );
  });

  it('passes on an import failure that is not a missing package', async () => {
    const broken = () =>
      Promise.reject(new Error('dawn.node: undefined symbol vkGetInstanceProcAddr'));
    await expect(prepareWebgpu(true, broken)).rejects.toThrow(/undefined symbol/);
  });

  it('picks wasm automatically here, saying why the native backends were skipped', async () => {
    vi.resetModules();
    // A fresh copy of the module has made no choice yet, so 'auto' really selects.
    const fresh = await import('../../../src/main/engine/backend.ts');
    expect(fresh.currentBackend()).toBeNull();
    vi.stubEnv('D2NWG_BACKEND', '');
    vi.stubEnv('D2NWG_WEBGPU_PATH', '');
    const info = await fresh.initBackend({ quiet: true });
    vi.unstubAllEnvs();
    expect(info.name).toBe('wasm');
    expect(info.tfjsVersion).toBe(tf.version.tfjs);
    // This machine has no GPU device file, so auto does not even load Dawn (no GPU, no probe).
    expect(gpuDeviceFiles()).toEqual([]);
    expect(info.skipped).toEqual([
      { name: 'tfjs-node-gpu', reason: 'not installed' },
      { name: 'webgpu', reason: NO_GPU_DEVICE_REASON },
      { name: 'tfjs-node', reason: 'not installed' },
    ]);
  });
});
