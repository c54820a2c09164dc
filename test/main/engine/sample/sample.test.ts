import { describe, expect, it } from 'vitest';
import { defaultEncoderConfig } from '../../../../src/shared/schemas/encoder.ts';
import { VaeConfig } from '../../../../src/shared/schemas/vae.ts';
import { SamplerConfig } from '../../../../src/shared/schemas/diffusion.ts';
import { DatasetEncoder } from '../../../../src/main/engine/encoder/encoder.ts';
import { InputError } from '../../../../src/main/engine/errors.ts';
import { layoutOf } from '../../../../src/main/engine/nn/architecture.ts';
import { Rng } from '../../../../src/main/engine/rng.ts';
import { evaluateMany } from '../../../../src/main/engine/nn/train.ts';
import {
  greedySoup,
  rankByAccuracy,
  sampleWeights,
  soup,
  supportFromLabelled,
  type ConditionalLatentSampler,
  type GeneratorParts,
} from '../../../../src/main/engine/sample/sample.ts';
import { computeNormStats, WeightVae } from '../../../../src/main/engine/vae/model.ts';
import { expectNoLeakedTensors } from '../../../helpers/tf.ts';

const K = 3;
const N = 2;
const D = 4;
const layout = layoutOf({ kind: 'mlp', inputDim: D, hidden: [3], outputs: K, activation: 'relu' });

/** Records the condition it was given; latents are seeded normals. */
class RecordingSampler implements ConditionalLatentSampler {
  readonly latentDim = 6;
  readonly condDim = 5;
  lastCond: Float32Array | null = null;
  sample(args: { cond: Float32Array; n: number; rng: Rng }): Float32Array {
    this.lastCond = args.cond;
    return args.rng.normalArray(args.n * this.latentDim);
  }
}

function makeParts(): { parts: GeneratorParts; sampler: RecordingSampler } {
  // The VAE works on vectors padded past the layout's size, as zoos of mixed sizes are.
  const padded = layout.size + 7;
  const cfg = VaeConfig.parse({ hidden: [8], latentDim: 6 });
  const vecs = new Rng(1).normalArray(4 * padded);
  const vae = WeightVae.create(
    cfg,
    padded,
    computeNormStats(vecs, 4, padded, 'per-dim', 1e-3),
    new Rng(2),
  );
  const encoder = DatasetEncoder.create(
    {
      ...defaultEncoderConfig(),
      kind: 'ordered',
      dModel: 4,
      heads: 2,
      inducing: 2,
      embedDim: 5,
      perClass: N,
    },
    { numClasses: K, perClass: N, featDim: D, latentDim: 6 },
    new Rng(3),
  );
  const sampler = new RecordingSampler();
  return { parts: { layout, vae, encoder, diffusion: sampler }, sampler };
}

describe('sampleWeights', () => {
  it('encodes the support set, decodes N vectors and cuts the padding', async () => {
    await expectNoLeakedTensors(async () => {
      const { parts, sampler } = makeParts();
      const support = new Rng(4).normalArray(K * N * D);
      const out = await sampleWeights({
        parts,
        support,
        numClasses: K,
        perClass: N,
        featDim: D,
        count: 4,
        sampler: SamplerConfig.parse({}),
        rng: new Rng(5),
      });
      expect(out.vectors.length).toBe(4);
      for (const v of out.vectors) expect(v.length).toBe(layout.size);
      expect(out.latents.length).toBe(24);
      expect(Array.from(sampler.lastCond ?? [])).toEqual(Array.from(out.embedding));
      expect(Array.from(out.embedding)).toEqual(
        Array.from(await parts.encoder.embed(support, K, N, D)),
      );
      // Soup of two is their mean; ranking on labelled data returns a permutation.
      const s = soup(out.vectors, [0, 1]);
      expect(s[0]).toBeCloseTo((out.vectors[0][0] + out.vectors[1][0]) / 2, 6);
      const x = new Rng(6).normalArray(9 * D);
      const y = new Int32Array([0, 1, 2, 0, 1, 2, 0, 1, 2]);
      const r = await rankByAccuracy(layout, out.vectors, x, y);
      expect([...r.order].sort()).toEqual([0, 1, 2, 3]);
      expect(r.accuracy[r.order[0]]).toBeGreaterThanOrEqual(r.accuracy[r.order[3]]);
      parts.vae.dispose();
      parts.encoder.dispose();
    });
  });

  it('refuses a target whose class count or feature dimension does not fit', async () => {
    const { parts } = makeParts();
    const base = {
      parts,
      perClass: N,
      count: 2,
      sampler: SamplerConfig.parse({}),
      rng: new Rng(1),
    };
    await expect(
      sampleWeights({ ...base, support: new Float32Array(4 * N * D), numClasses: 4, featDim: D }),
    ).rejects.toThrow(/4 classes but the generator makes 3-way/);
    await expect(
      sampleWeights({ ...base, support: new Float32Array(K * N * 5), numClasses: K, featDim: 5 }),
    ).rejects.toThrow(InputError);
    parts.vae.dispose();
    parts.encoder.dispose();
  });
});

describe('supportFromLabelled', () => {
  it('draws perClass samples per class in the given class order', () => {
    const x = new Float32Array([0, 0, 1, 1, 2, 2, 10, 10, 11, 11]);
    const data = {
      x,
      sampleShape: [2],
      labels: new Int32Array([0, 0, 0, 1, 1]),
      classNames: ['a', 'b'],
      source: 'test.csv',
    };
    const s = supportFromLabelled(data, 2, new Rng(1), [1, 0]);
    expect(s.length).toBe(8);
    expect(s[0]).toBeGreaterThanOrEqual(10);
    expect(s[4]).toBeLessThan(3);
    expect(() => supportFromLabelled(data, 3, new Rng(1))).toThrow(/class 'b' has 2 samples/);
  });

  it('greedy soup leaves out a sample from another mode that a uniform soup would average in', async () => {
    // Two equally perfect classifiers of sign(x0) whose hidden units are swapped (two modes of
    // the same function), and a slightly perturbed copy of the first. Averaging across the modes
    // zeroes the hidden layer (the uniform top-2 soup); the greedy soup keeps only the first mode.
    const L = layoutOf({ kind: 'mlp', inputDim: 2, hidden: [2], outputs: 2, activation: 'relu' });
    // [W1 (2×2, in×out), b1, W2 (2×2), b2]
    const modeA = Float32Array.from([1, -1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0]);
    const modeB = Float32Array.from([-1, 1, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0]);
    const nearA = modeA.map((v, i) => v + 0.01 * Math.sin(i + 1));
    const vectors = [modeA, modeB, nearA];
    const rng = new Rng(8);
    const x = rng.normalArray(40 * 2);
    const y = new Int32Array(40).map((_, i) => (x[2 * i] > 0 ? 1 : 0));
    const ranked = await rankByAccuracy(L, vectors, x, y);
    expect(ranked.accuracy).toEqual([1, 1, 1]);
    const g = await expectNoLeakedTensors(() => greedySoup(L, vectors, ranked, x, y));
    expect(g.members).toEqual([0, 2]);
    expect(Array.from(g.vector)).toEqual(Array.from(soup(vectors, [0, 2])));
    const [greedyAcc, uniformAcc] = await evaluateMany(L, [g.vector, soup(vectors, [0, 1])], x, y);
    expect(greedyAcc.accuracy).toBe(1);
    expect(uniformAcc.accuracy).toBeLessThan(0.9);
    await expect(greedySoup(L, [], { order: [], accuracy: [] }, x, y)).rejects.toThrow(
      /at least one sample/,
    );
  });
});
