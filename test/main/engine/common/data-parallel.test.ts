import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  idleCores,
  localShardGroup,
  resolveShards,
  SHARD_THREADS_ENV,
  shardRows,
  shardThreads,
} from '../../../../src/main/engine/common/data-parallel.ts';
import { trainDiffusion } from '../../../../src/main/engine/diffusion/train.ts';
import { CancelledError, InputError, NumericError } from '../../../../src/main/engine/errors.ts';
import { Rng } from '../../../../src/main/engine/rng.ts';
import { trainVae } from '../../../../src/main/engine/vae/train.ts';
import * as tf from '@tensorflow/tfjs';
import { VaeConfig } from '../../../../src/shared/schemas/vae.ts';
import { expectNoLeakedTensors } from '../../../helpers/tf.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-dp-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
afterEach(() => {
  delete process.env[SHARD_THREADS_ENV];
});

/** Train with `shards` shards on at most `threads` threads. */
function withThreads<T>(threads: number, fn: () => Promise<T>): Promise<T> {
  process.env[SHARD_THREADS_ENV] = String(threads);
  return fn();
}

describe('shard arithmetic', () => {
  it('cuts a batch into contiguous row ranges that cover it once', () => {
    for (const [b, shards] of [
      [64, 2],
      [7, 3],
      [1, 2],
      [5, 8],
    ] as const) {
      let next = 0;
      for (let s = 0; s < shards; s++) {
        const [lo, hi] = shardRows(b, shards, s);
        expect(lo).toBe(next);
        expect(hi - lo).toBeGreaterThanOrEqual(Math.floor(b / shards));
        expect(hi - lo).toBeLessThanOrEqual(Math.ceil(b / shards));
        next = hi;
      }
      expect(next).toBe(b);
    }
  });

  it('resolves auto to one shard and caps a number at the batch', () => {
    expect(resolveShards('auto', 64)).toBe(1);
    expect(resolveShards(4, 3)).toBe(3);
    expect(resolveShards(3, 64)).toBe(3);
  });

  it('takes the thread cap from the environment and rejects a bad one', () => {
    expect(shardThreads(1)).toBe(1);
    expect(shardThreads(2, { [SHARD_THREADS_ENV]: '1' })).toBe(1);
    expect(shardThreads(2, { [SHARD_THREADS_ENV]: '2' })).toBe(2);
    // auto: never more threads than shards or than the cores others leave idle.
    const idle = idleCores();
    expect(Number.isInteger(idle) && idle >= 1 && idle <= os.availableParallelism()).toBe(true);
    expect(shardThreads(2, { [SHARD_THREADS_ENV]: 'auto' })).toBe(Math.min(2, idle));
    expect(() => shardThreads(2, { [SHARD_THREADS_ENV]: 'two' })).toThrow(InputError);
    expect(() => shardThreads(2, { [SHARD_THREADS_ENV]: '0' })).toThrow(/1 to 8/);
  });

  it('rejects a shard count outside 1..8 in a config', () => {
    expect(VaeConfig.safeParse({ shards: 0 }).success).toBe(false);
    expect(VaeConfig.safeParse({ shards: 9 }).success).toBe(false);
    expect(VaeConfig.safeParse({ shards: 'many' }).success).toBe(false);
    expect(VaeConfig.parse({}).shards).toBe('auto');
  });

  it('sums local vectors in shard order without leaking', async () => {
    const g = localShardGroup(3, 4);
    const vs = [
      [1, 2, 3, 4],
      [10, 20, 30, 40],
      [0.5, 0.5, 0.5, 0.5],
    ].map((v) => tf.tensor1d(v));
    const sum = await expectNoLeakedTensors(async () => {
      const t = await g.reduce(new Map(vs.map((v, i) => [i, v])));
      const out = Array.from(await t.data());
      t.dispose();
      return out;
    });
    expect(sum).toEqual([11.5, 22.5, 33.5, 44.5]);
    await expectNoLeakedTensors(() =>
      expect(g.reduce(new Map([[0, vs[0]]]))).rejects.toThrow(/shard 1.s vector was not given/),
    );
    tf.dispose(vs);
  });
});

// A VAE sized so two shards of 16 rows each do real work, small enough for the suite.
const N = 40;
const DIM = 96;
const vaeConfig = {
  hidden: [48],
  latentDim: 8,
  batchSize: 32,
  epochs: 3,
  lr: 3e-3,
};

function zoo(): Float32Array {
  return new Rng(3).normalArray(N * DIM, 0.1, 0.5);
}

async function vaeRun(
  shards: number,
  threads: number,
  n = N,
  batchSize: number = vaeConfig.batchSize,
) {
  const vectors = zoo().subarray(0, n * DIM);
  return withThreads(threads, async () => {
    const {
      vae,
      history,
      shards: used,
      threads: ran,
    } = await trainVae({
      vectors,
      n,
      dim: DIM,
      config: { ...vaeConfig, batchSize, shards },
      rng: new Rng(11),
    });
    try {
      return { mu: await vae.encodeMean(vectors, n), history, shards: used, threads: ran };
    } finally {
      vae.dispose();
    }
  });
}

describe('data-parallel VAE training', () => {
  it('gives the same weights on two threads as on one, and close to one shard', async () => {
    const one = await vaeRun(1, 1);
    const seq = await expectNoLeakedTensors(() => vaeRun(2, 1));
    const par = await expectNoLeakedTensors(() => vaeRun(2, 2));
    expect([seq.shards, seq.threads]).toEqual([2, 1]);
    expect([par.shards, par.threads]).toEqual([2, 2]);
    // Bit for bit: the shards, not the threads, define the arithmetic.
    expect(Array.from(par.mu)).toEqual(Array.from(seq.mu));
    expect(par.history).toEqual(seq.history);
    // Against one shard only the summation order differs.
    expect(one.shards).toBe(1);
    const l1 = one.history.map((h) => h.loss);
    const l2 = seq.history.map((h) => h.loss);
    for (let i = 0; i < l1.length; i++) expect(l2[i]).toBeCloseTo(l1[i], 2);
    let maxDiff = 0;
    for (let i = 0; i < one.mu.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(one.mu[i] - seq.mu[i]));
    }
    expect(maxDiff).toBeLessThan(1e-3);
  });

  it('handles a last batch with fewer rows than shards (an empty shard adds nothing)', async () => {
    // 33 vectors in batches of 32: the last batch has 1 row, so shard 0 of 2 is empty there.
    const seq = await expectNoLeakedTensors(() => vaeRun(2, 1, 33));
    const par = await vaeRun(2, 2, 33);
    expect(Array.from(par.mu)).toEqual(Array.from(seq.mu));
    for (const h of seq.history) expect(Number.isFinite(h.loss)).toBe(true);
  });
});

/** Two conditions, two clusters of latents. */
function latentData(n: number): { latents: Float32Array; conds: Float32Array } {
  const rng = new Rng(5);
  const latents = new Float32Array(n * 4);
  const conds = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    const s = i % 2 === 0 ? 1 : -1;
    for (let j = 0; j < 4; j++) latents[i * 4 + j] = 3 * s + 0.3 * rng.normal();
    conds.set(s > 0 ? [1, 0, 0.5] : [0, 1, 0.5], i * 3);
  }
  return { latents, conds };
}

const diffusionConfig = {
  timesteps: 100,
  denoiser: { width: 32, depth: 2, timeEmbDim: 16 },
  steps: 40,
  batchSize: 32,
  lr: 2e-3,
} as const;

async function diffusionRun(
  shards: number,
  threads: number,
  extra: Record<string, unknown> = {},
  signal?: AbortSignal,
) {
  const { latents, conds } = latentData(64);
  return withThreads(threads, async () => {
    const {
      model,
      history,
      shards: used,
      threads: ran,
    } = await trainDiffusion({
      latents,
      conds,
      n: 64,
      latentDim: 4,
      condDim: 3,
      config: { ...diffusionConfig, shards, ...extra },
      rng: new Rng(8),
      ...(signal ? { control: { signal } } : {}),
    });
    const dir = path.join(tmp, `diffusion-${shards}-${threads}-${Math.random()}`);
    try {
      await model.save(dir);
    } finally {
      model.dispose();
    }
    return {
      bytes: fs.readFileSync(path.join(dir, 'weights.safetensors')),
      history,
      shards: used,
      threads: ran,
    };
  });
}

describe('data-parallel diffusion training', () => {
  it('saves the same EMA weights on two threads as on one, without leaks', async () => {
    const seq = await expectNoLeakedTensors(() => diffusionRun(2, 1));
    const par = await expectNoLeakedTensors(() => diffusionRun(2, 2));
    expect([seq.shards, seq.threads]).toEqual([2, 1]);
    expect([par.shards, par.threads]).toEqual([2, 2]);
    expect(par.bytes.equals(seq.bytes)).toBe(true);
    expect(par.history).toEqual(seq.history);
    const one = await diffusionRun(1, 1);
    expect(one.bytes.equals(seq.bytes)).toBe(false);
    const a = one.history.at(-1)?.loss ?? NaN;
    const b = seq.history.at(-1)?.loss ?? NaN;
    expect(Math.abs(a - b) / a).toBeLessThan(0.05);
  });

  it('stops every thread with a NumericError naming the stage and step', async () => {
    const err = await diffusionRun(2, 2, { lr: 1e30, gradClip: 0, weightDecay: 0 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(NumericError);
    expect((err as NumericError).stage).toBe('diffusion');
  });

  it('cancels the replicas with the run', async () => {
    const ctl = new AbortController();
    const t0 = Date.now();
    const run = diffusionRun(2, 2, { steps: 100_000 }, ctl.signal);
    setTimeout(() => ctl.abort(), 1500);
    await expect(run).rejects.toBeInstanceOf(CancelledError);
    expect(Date.now() - t0).toBeLessThan(60_000);
  });
});
