import { describe, expect, it } from 'vitest';
import { ArchitectureSchema } from '../../../../src/shared/schemas/zoo.ts';
import {
  describeLayout,
  layoutOf,
  resolveArchitecture,
} from '../../../../src/main/engine/nn/architecture.ts';
import {
  flattenParams,
  initParams,
  padVectors,
  unflattenParams,
  unpadVector,
} from '../../../../src/main/engine/nn/params.ts';
import { InputError } from '../../../../src/main/engine/errors.ts';
import { Rng } from '../../../../src/main/engine/rng.ts';

describe('layoutOf', () => {
  it('lays out an MLP as kernel/bias pairs with contiguous offsets', () => {
    const arch = resolveArchitecture(ArchitectureSchema.parse({ kind: 'mlp' }), [16], 5);
    const layout = layoutOf(arch);
    expect(layout.params.map((p) => [p.name, p.shape, p.offset])).toEqual([
      ['dense0.kernel', [16, 32], 0],
      ['dense0.bias', [32], 512],
      ['dense1.kernel', [32, 5], 544],
      ['dense1.bias', [5], 704],
    ]);
    expect(layout.size).toBe(16 * 32 + 32 + 32 * 5 + 5);
    expect(describeLayout(layout)).toContain('16→32→5');
  });

  it('gives the default CNN about 2.5k parameters on 28×28×1 with 10 outputs', () => {
    const arch = resolveArchitecture(ArchitectureSchema.parse({ kind: 'cnn' }), [28, 28, 1], 10);
    const layout = layoutOf(arch);
    expect(layout.size).toBe(80 + (8 * 16 * 9 + 16) + (16 * 8 * 9 + 8) + (8 * 10 + 10));
    expect(layout.params[0]).toMatchObject({ name: 'conv0.kernel', shape: [3, 3, 1, 8] });
    expect(layout.params.at(-2)).toMatchObject({ name: 'dense.kernel', shape: [8, 10] });
  });

  it('refuses a CNN on feature vectors and fewer than 2 outputs', () => {
    const cnn = ArchitectureSchema.parse({ kind: 'cnn' });
    expect(() => resolveArchitecture(cnn, [64], 5)).toThrow(InputError);
    const mlp = ArchitectureSchema.parse({ kind: 'mlp' });
    expect(() => resolveArchitecture(mlp, [64], 1)).toThrow(/at least 2 outputs/);
  });

  it('flattens image inputs for an MLP', () => {
    const arch = resolveArchitecture(
      ArchitectureSchema.parse({ kind: 'mlp', hidden: [] }),
      [4, 4, 1],
      3,
    );
    expect(layoutOf(arch).size).toBe(16 * 3 + 3);
  });
});

describe('initParams', () => {
  const layout = layoutOf(
    resolveArchitecture(ArchitectureSchema.parse({ kind: 'mlp', hidden: [64] }), [100], 10),
  );

  it('draws U(-1/sqrt(fanIn), 1/sqrt(fanIn)) per tensor (PyTorch defaults)', () => {
    const p = initParams(layout, new Rng(1));
    for (const spec of layout.params) {
      const v = p.subarray(spec.offset, spec.offset + spec.size);
      const bound = 1 / Math.sqrt(spec.fanIn);
      let max = 0;
      let sum = 0;
      let sq = 0;
      for (const x of v) {
        max = Math.max(max, Math.abs(x));
        sum += x;
        sq += x * x;
      }
      expect(max).toBeLessThanOrEqual(bound);
      if (spec.size >= 500) {
        // Uniform on [-b, b]: mean 0, variance b²/3.
        const mean = sum / spec.size;
        const variance = sq / spec.size - mean * mean;
        expect(Math.abs(mean)).toBeLessThan(0.1 * bound);
        expect(variance / ((bound * bound) / 3)).toBeGreaterThan(0.9);
        expect(variance / ((bound * bound) / 3)).toBeLessThan(1.1);
        expect(max).toBeGreaterThan(0.95 * bound);
      }
    }
  });

  it('is deterministic per seed and differs across seeds', () => {
    expect(initParams(layout, new Rng(7))).toEqual(initParams(layout, new Rng(7)));
    expect(initParams(layout, new Rng(7))).not.toEqual(initParams(layout, new Rng(8)));
  });
});

describe('flatten / unflatten / padding', () => {
  const layout = layoutOf(
    resolveArchitecture(ArchitectureSchema.parse({ kind: 'mlp', hidden: [3] }), [2], 2),
  );

  it('round-trips a flat vector through named tensors', () => {
    const flat = initParams(layout, new Rng(3));
    const named = unflattenParams(layout, flat);
    expect(Object.keys(named)).toEqual([
      'dense0.kernel',
      'dense0.bias',
      'dense1.kernel',
      'dense1.bias',
    ]);
    expect(named['dense0.kernel'].shape).toEqual([2, 3]);
    expect(Array.from(named['dense1.bias'].data)).toEqual(Array.from(flat.subarray(15, 17)));
    expect(flattenParams(layout, named)).toEqual(flat);
    // The named tensors are copies: mutating them does not touch the flat vector.
    named['dense0.bias'].data[0] = 123;
    expect(flat[6]).not.toBe(123);
  });

  it('refuses wrong lengths and missing or mis-shaped tensors', () => {
    expect(() => unflattenParams(layout, new Float32Array(3), 'x.safetensors')).toThrow(
      /x\.safetensors: weight vector has 3 values, the architecture needs 17/,
    );
    const named = unflattenParams(layout, new Float32Array(17));
    const { 'dense1.bias': _dropped, ...missing } = named;
    expect(() => flattenParams(layout, missing)).toThrow(/missing parameter tensor 'dense1.bias'/);
    expect(() =>
      flattenParams(layout, {
        ...named,
        'dense0.kernel': { shape: [3, 2], data: new Float32Array(6) },
      }),
    ).toThrow(/expected \[2, 3\]/);
  });

  it('zero-pads vectors to the longest and cuts them back', () => {
    const a = Float32Array.from([1, 2, 3]);
    const b = Float32Array.from([4]);
    const padded = padVectors([a, b]);
    expect(padded.dim).toBe(3);
    expect(padded.sizes).toEqual([3, 1]);
    expect(Array.from(padded.data)).toEqual([1, 2, 3, 4, 0, 0]);
    expect(unpadVector(padded.data, padded.dim, 1, padded.sizes[1])).toEqual(b);
    expect(unpadVector(padded.data, padded.dim, 0, padded.sizes[0])).toEqual(a);
    expect(padVectors([a], 5).data).toEqual(Float32Array.from([1, 2, 3, 0, 0]));
    expect(() => padVectors([a], 2)).toThrow(InputError);
  });
});
