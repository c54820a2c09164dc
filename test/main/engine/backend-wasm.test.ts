import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MAX_WASM_THREADS,
  WASM_THREADS_ENV,
  wasmThreadsWanted,
} from '../../../src/main/engine/backend-wasm.ts';
import { currentBackend, type BackendInfo } from '../../../src/main/engine/backend.ts';
import { InputError } from '../../../src/main/engine/errors.ts';
import { WorkerPool } from '../../../src/main/engine/workers/pool.ts';
import { kernelResults, trainingResults, type Results } from './fixtures/threads-work.ts';

describe('wasmThreadsWanted', () => {
  it('defaults to 1; auto takes the idle cores (at most 8) on the main thread, and 1 under vitest', () => {
    const cores = os.availableParallelism();
    expect(wasmThreadsWanted({}, 0)).toBe(1);
    expect(wasmThreadsWanted({ [WASM_THREADS_ENV]: '' }, 0)).toBe(1);
    expect(wasmThreadsWanted({ [WASM_THREADS_ENV]: 'auto' }, 0)).toBe(
      Math.min(cores, MAX_WASM_THREADS),
    );
    // Busy cores are not counted (load rounded), and there is always one thread.
    const auto = { [WASM_THREADS_ENV]: 'auto' };
    expect(wasmThreadsWanted(auto, cores - 1.2)).toBe(1);
    expect(wasmThreadsWanted(auto, cores - 1.6)).toBe(Math.min(2, cores));
    expect(wasmThreadsWanted(auto, 3 * cores)).toBe(1);
    expect(wasmThreadsWanted({ VITEST: 'true' }, 0)).toBe(1);
    expect(wasmThreadsWanted({ VITEST: 'true', [WASM_THREADS_ENV]: ' Auto ' }, 0)).toBe(1);
  });

  it('takes a thread count, or off / 0 for the single-threaded binary', () => {
    // An explicit count holds whatever the load.
    expect(wasmThreadsWanted({ VITEST: 'true', [WASM_THREADS_ENV]: '2' }, 100)).toBe(2);
    expect(wasmThreadsWanted({ [WASM_THREADS_ENV]: '8' })).toBe(8);
    expect(wasmThreadsWanted({ [WASM_THREADS_ENV]: '1' })).toBe(1);
    expect(wasmThreadsWanted({ [WASM_THREADS_ENV]: 'off' })).toBe(1);
    expect(wasmThreadsWanted({ [WASM_THREADS_ENV]: '0' })).toBe(1);
  });

  it.each(['9', '-1', '1.5', 'many', '2x'])(
    'refuses %j with an InputError naming the variable',
    (v) => {
      let err: unknown;
      try {
        wasmThreadsWanted({ [WASM_THREADS_ENV]: v });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InputError);
      expect(String(err)).toMatch(
        /^InputError: D2NWG_WASM_THREADS: expected auto, off or a whole number from 1 to 8/,
      );
    },
  );
});

/** Largest |a − b| relative to the largest |b| (1 when b is all zeros). */
function relDiff(a: readonly number[], b: readonly number[]): number {
  expect(a.length).toBe(b.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / (scale || 1);
}

function expectSameResults(threaded: Results, single: Results): void {
  expect(Object.keys(threaded).sort()).toEqual(Object.keys(single).sort());
  for (const key of Object.keys(single)) {
    const a = threaded[key];
    expect(a.every(Number.isFinite), key).toBe(true);
    expect(relDiff(a, single[key]), key).toBe(0);
  }
}

// The threaded build in a worker thread (its own wasm instance), the stock binary here.
describe('the threaded wasm build', () => {
  const before = process.env[WASM_THREADS_ENV];
  // After the setup file started this process's backend (workers copy the env when they start).
  beforeAll(() => {
    process.env[WASM_THREADS_ENV] = '2';
  });
  const pool = new WorkerPool(new URL('./fixtures/threads-worker.ts', import.meta.url), 1, {
    backend: 'wasm',
  });

  afterAll(async () => {
    await pool.close();
    if (before === undefined) delete process.env[WASM_THREADS_ENV];
    else process.env[WASM_THREADS_ENV] = before;
  });

  it('starts with two XNNPACK threads, while this process stays on one', async () => {
    const info = await pool.run<unknown, BackendInfo>({ op: 'info' });
    expect(info.name).toBe('wasm');
    expect(info.threads).toBe(2);
    expect(info.skipped.map((s) => s.name)).not.toContain('wasm-threads');
    expect(currentBackend()?.threads).toBe(1);
  });

  it('gives the single-threaded results for every custom kernel and large stock ops', async () => {
    const threaded = await pool.run<unknown, Results>({ op: 'kernels' });
    expectSameResults(threaded, kernelResults());
  });

  it('trains the VAE and the diffusion model to the single-threaded losses and outputs', async () => {
    const threaded = await pool.run<unknown, Results>({ op: 'training' });
    const single = await trainingResults();
    expect(threaded.vaeLoss).toHaveLength(3);
    expectSameResults(threaded, single);
  });
});
