// Chunked passes (evaluation, VAE encode/decode, PCA) cut their batches to the GPU's buffer limit.
// A fake device with a tiny limit forces many small chunks; the results must not change.
import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';
import { clearBufferGuard, installBufferGuard } from '../../../src/main/engine/backend-webgpu.ts';
import {
  resolveArchitecture,
  layoutOf,
  widestActivation,
} from '../../../src/main/engine/nn/architecture.ts';
import { initParams } from '../../../src/main/engine/nn/params.ts';
import { predictClasses } from '../../../src/main/engine/nn/train.ts';
import { Rng } from '../../../src/main/engine/rng.ts';
import { WeightVae, computeNormStats } from '../../../src/main/engine/vae/model.ts';
import { VaeConfig } from '../../../src/shared/schemas/vae.ts';
import { expectNoLeakedTensors } from '../../helpers/tf.ts';

/** Pretend a webgpu device whose buffers hold at most `bytes`. */
function limitDevice(bytes: number): void {
  installBufferGuard({
    device: {
      limits: { maxBufferSize: bytes, maxStorageBufferBindingSize: bytes },
      createBuffer: () => ({}),
    },
  });
}

afterEach(() => clearBufferGuard());

describe('widestActivation', () => {
  it('is the widest layer of an MLP and the largest feature map of a CNN', () => {
    const mlp = resolveArchitecture({ kind: 'mlp', hidden: [64, 8], activation: 'relu' }, [20], 5);
    expect(widestActivation(mlp)).toBe(64);
    // 28×28×1 input, then stride-2 blocks of 8 and 16 channels: 14×14×8 is the largest map.
    const cnn = resolveArchitecture(
      { kind: 'cnn', channels: [8, 16], kernelSize: 3, activation: 'relu' },
      [28, 28, 1],
      10,
    );
    expect(widestActivation(cnn)).toBe(Math.max(28 * 28, 14 * 14 * 8, 7 * 7 * 16));
  });
});

describe('device-limited batches', () => {
  it('classify the same with a 7-row buffer limit as without', async () => {
    const arch = resolveArchitecture({ kind: 'mlp', hidden: [16], activation: 'relu' }, [12], 4);
    const layout = layoutOf(arch);
    const rng = new Rng(3);
    const params = initParams(layout, rng);
    const x = rng.uniformArray(50 * 12, -1, 1);
    const argMaxes = async () => {
      let out: Int32Array | undefined;
      const info = await tf.profile(async () => {
        out = await predictClasses(layout, params, x);
      });
      return { out, chunks: info.kernels.filter((k) => k.name === 'ArgMax').length };
    };
    const free = await argMaxes();
    expect(free.chunks).toBe(1);
    limitDevice(4 * widestActivation(arch) * 7);
    const limited = await expectNoLeakedTensors(argMaxes);
    expect(limited.chunks).toBe(Math.ceil(50 / 7));
    expect(Array.from(limited.out ?? [])).toEqual(Array.from(free.out ?? []));
  });

  it('encode and decode the same with a small buffer limit as without', async () => {
    const dim = 30;
    const n = 23;
    const rng = new Rng(4);
    const vectors = rng.normalArray(n * dim);
    const cfg = VaeConfig.parse({ hidden: [16], latentDim: 4 });
    const vae = WeightVae.create(cfg, dim, computeNormStats(vectors, n, dim, 'per-dim', 1e-6), rng);
    try {
      const mu = await vae.encodeMean(vectors, n);
      const rec = await vae.decode(mu, n);
      limitDevice(4 * dim * 5);
      expect(Array.from(await vae.encodeMean(vectors, n))).toEqual(Array.from(mu));
      expect(Array.from(await vae.decode(mu, n))).toEqual(Array.from(rec));
    } finally {
      vae.dispose();
    }
  });
});
