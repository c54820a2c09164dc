import * as tf from '@tensorflow/tfjs';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  defaultEncoderConfig,
  type EncoderConfig,
} from '../../../../src/shared/schemas/encoder.ts';
import { ParamStore, createSab, sab } from '../../../../src/main/engine/encoder/blocks.ts';
import {
  DatasetEncoder,
  embedChunkSets,
  trainEncoder,
  type EncoderShape,
} from '../../../../src/main/engine/encoder/encoder.ts';
import { InputError } from '../../../../src/main/engine/errors.ts';
import { Rng } from '../../../../src/main/engine/rng.ts';
import { expectNoLeakedTensors } from '../../../helpers/tf.ts';

const K = 3;
const N = 4;
const D = 6;
const SHAPE: EncoderShape = { numClasses: K, perClass: N, featDim: D, latentDim: 5 };

function cfg(kind: EncoderConfig['kind'], extra: Partial<EncoderConfig> = {}): EncoderConfig {
  return {
    ...defaultEncoderConfig(),
    kind,
    dModel: 8,
    heads: 2,
    inducing: 3,
    embedDim: 6,
    ...extra,
  };
}

/** Permute samples inside each class (perm over n) or the classes themselves (perm over K). */
function permuteSet(set: Float32Array, within: Int32Array | null, classes: Int32Array | null) {
  const out = new Float32Array(set.length);
  for (let c = 0; c < K; c++) {
    for (let s = 0; s < N; s++) {
      const sc = classes ? classes[c] : c;
      const ss = within ? within[s] : s;
      out.set(set.subarray((sc * N + ss) * D, (sc * N + ss + 1) * D), (c * N + s) * D);
    }
  }
  return out;
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('dataset encoder', () => {
  const set = new Rng(3).normalArray(K * N * D);

  for (const kind of ['set-transformer', 'ordered', 'mlp'] as const) {
    it(`${kind}: embeds to embedDim without leaking tensors`, async () => {
      await expectNoLeakedTensors(async () => {
        const enc = DatasetEncoder.create(cfg(kind), SHAPE, new Rng(1));
        const e = await enc.embed(set, K, N, D);
        expect(e.length).toBe(6);
        expect(Array.from(e).every(Number.isFinite)).toBe(true);
        const batch = await enc.embedBatch(new Float32Array([...set, ...set]), 2, K, N, D);
        expect(batch.length).toBe(12);
        expect(maxDiff(batch.subarray(0, 6), batch.subarray(6))).toBeLessThan(1e-5);
        // More sets than one forward pass takes (1,024): embedded in chunks, each set as alone.
        const many = 1100;
        const sets = new Rng(4).normalArray(many * K * N * D);
        const all = await enc.embedBatch(sets, many, K, N, D);
        const head = await enc.embedBatch(sets.subarray(0, 700 * K * N * D), 700, K, N, D);
        const tail = await enc.embedBatch(sets.subarray(700 * K * N * D), 400, K, N, D);
        expect(all.length).toBe(many * 6);
        expect(maxDiff(all.subarray(0, 700 * 6), head)).toBeLessThan(1e-5);
        expect(maxDiff(all.subarray(700 * 6), tail)).toBeLessThan(1e-5);
        enc.dispose();
      });
    });
  }

  it('embeds large support sets in passes that fit the wasm heap', () => {
    // The standard MLP zoo conditioned on every training sample: 5 classes × 100 × 48 features.
    // A thousand of those in one pass aborted the wasm runtime; small sets keep the 1,024 cap.
    const big = 5 * 100 * 48;
    expect(embedChunkSets(big)).toBe(Math.floor((256 * 1024 * 1024) / (big * 4 * 16)));
    expect(embedChunkSets(big)).toBeLessThan(200);
    expect(embedChunkSets(K * N * D)).toBe(1024);
    // A set larger than the budget alone still goes through, one per pass.
    expect(embedChunkSets(10_000_000)).toBe(1);
  });

  it.each([3, 8])(
    'set-transformer (%i inducing points: ISAB or SAB intra blocks) is invariant to sample and class order',
    async (inducing) => {
      await expectNoLeakedTensors(async () => {
        const enc = DatasetEncoder.create(cfg('set-transformer', { inducing }), SHAPE, new Rng(1));
        const e0 = await enc.embed(set, K, N, D);
        const e1 = await enc.embed(permuteSet(set, new Int32Array([2, 0, 3, 1]), null), K, N, D);
        const e2 = await enc.embed(permuteSet(set, null, new Int32Array([1, 2, 0])), K, N, D);
        expect(maxDiff(e0, e1)).toBeLessThan(1e-4);
        expect(maxDiff(e0, e2)).toBeLessThan(1e-4);
        enc.dispose();
      });
    },
  );

  it('ordered is invariant within a class but changes when classes are permuted', async () => {
    await expectNoLeakedTensors(async () => {
      const enc = DatasetEncoder.create(cfg('ordered'), SHAPE, new Rng(1));
      const e0 = await enc.embed(set, K, N, D);
      const e1 = await enc.embed(permuteSet(set, new Int32Array([3, 1, 0, 2]), null), K, N, D);
      const e2 = await enc.embed(permuteSet(set, null, new Int32Array([1, 0, 2])), K, N, D);
      expect(maxDiff(e0, e1)).toBeLessThan(1e-4);
      expect(maxDiff(e0, e2)).toBeGreaterThan(1e-2);
      enc.dispose();
    });
  });

  it('SAB is permutation-equivariant', async () => {
    await expectNoLeakedTensors(() => {
      const ps = new ParamStore('t');
      createSab(ps, 's', D, 8, 2, new Rng(4));
      const x = new Rng(5).normalArray(5 * D);
      const perm = [3, 0, 4, 1, 2];
      const xp = new Float32Array(5 * D);
      perm.forEach((p, i) => xp.set(x.subarray(p * D, (p + 1) * D), i * D));
      const [y, yp] = tf.tidy(() => [
        sab(ps, 's', 2, tf.tensor3d(x, [1, 5, D])).dataSync() as Float32Array,
        sab(ps, 's', 2, tf.tensor3d(xp, [1, 5, D])).dataSync() as Float32Array,
      ]);
      const yperm = new Float32Array(5 * 8);
      perm.forEach((p, i) => yperm.set(y.subarray(p * 8, (p + 1) * 8), i * 8));
      expect(maxDiff(yperm, yp)).toBeLessThan(1e-4);
      ps.dispose();
    });
  });

  it('refuses a support set of the wrong feature dimension or class count', async () => {
    const enc = DatasetEncoder.create(cfg('ordered'), SHAPE, new Rng(1));
    await expect(enc.embed(new Float32Array(K * N * 7), K, N, 7)).rejects.toThrow(InputError);
    await expect(enc.embed(new Float32Array(4 * N * D), 4, N, D)).rejects.toThrow(
      /trained on K = 3/,
    );
    enc.dispose();
  });

  it('CLIP training lowers the loss, and save/load round-trips', async () => {
    // 6 tasks, each a distinct class-mean pattern; latents are a fixed function of the task.
    const rng = new Rng(9);
    const tasks = 6;
    const means = Array.from({ length: tasks }, () => rng.normalArray(K * D, 0, 2));
    const taskLatents = Array.from({ length: tasks }, () => rng.normalArray(5));
    const count = 18;
    const sets = new Float32Array(count * K * N * D);
    const latents = new Float32Array(count * 5);
    const groups = new Int32Array(count);
    const draw = (t: number, r: Rng) => {
      const s = new Float32Array(K * N * D);
      for (let c = 0; c < K; c++)
        for (let j = 0; j < N; j++)
          for (let f = 0; f < D; f++)
            s[(c * N + j) * D + f] = means[t][c * D + f] + 0.3 * r.normal();
      return s;
    };
    for (let i = 0; i < count; i++) {
      const t = i % tasks;
      groups[i] = t;
      sets.set(draw(t, rng), i * K * N * D);
      latents.set(
        taskLatents[t].map((v) => v + 0.05 * rng.normal()),
        i * 5,
      );
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'enc-'));
    await expectNoLeakedTensors(async () => {
      const { encoder, losses } = await trainEncoder({
        sets,
        latents,
        count,
        shape: SHAPE,
        groups,
        resample: (i, r) => draw(groups[i], r),
        config: cfg('ordered', { epochs: 25, lr: 3e-3, batchSize: 12, temperature: 0.1 }),
        rng: new Rng(2),
      });
      expect(losses.length).toBe(25);
      const first = (losses[0] + losses[1]) / 2;
      const last = (losses[23] + losses[24]) / 2;
      expect(last).toBeLessThan(first * 0.8);
      const file = path.join(dir, 'enc.safetensors');
      await encoder.save(file);
      const back = await DatasetEncoder.load(file);
      expect(
        maxDiff(await encoder.embed(set, K, N, D), await back.embed(set, K, N, D)),
      ).toBeLessThan(1e-6);
      back.dispose();
      encoder.dispose();
    });
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
