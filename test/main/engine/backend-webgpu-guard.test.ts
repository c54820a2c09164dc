// Opt-in like backend-webgpu.test.ts (D2NWG_WEBGPU_TESTS=1 and an adapter). A real webgpu device
// with its buffer limit capped at 1 MiB: a larger tensor fails with a clear error, not garbage.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../../../src/main/engine/backend.ts';
import { DeviceLimitError } from '../../../src/main/engine/errors.ts';

describe.skipIf(process.env.D2NWG_WEBGPU_TESTS !== '1')('webgpu buffer guard', () => {
  beforeAll(async () => {
    vi.stubEnv('D2NWG_WEBGPU_MAX_BUFFER', String(2 ** 20));
    const info = await initBackend({ backend: 'webgpu', quiet: true });
    vi.unstubAllEnvs();
    expect(info.name).toBe('webgpu');
  });
  afterAll(async () => {
    await initBackend({ backend: 'wasm', quiet: true });
  });

  it('refuses a 2 MiB tensor on a 1 MiB device and keeps working afterwards', async () => {
    const big = tf.zeros([512, 1024]); // 2 MiB of float32
    let err: unknown;
    try {
      const y = tf.add(big, 1);
      await y.data();
      y.dispose();
    } catch (e) {
      err = e;
    }
    big.dispose();
    expect(err).toBeInstanceOf(DeviceLimitError);
    expect(String(err)).toMatch(/2\.0 MiB exceeds this device's max\w+ \(1\.0 MiB\)/);
    const small = tf.tidy(() => tf.add(tf.tensor1d([1, 2, 3]), 1));
    expect(Array.from(await small.data())).toEqual([2, 3, 4]);
    small.dispose();
  });
});
