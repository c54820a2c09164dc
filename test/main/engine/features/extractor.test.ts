import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../../../src/main/engine/errors.ts';
import { loadDataset } from '../../../../src/main/engine/data/sources.ts';
import { stratifiedSplit } from '../../../../src/main/engine/data/split.ts';
import type { LabelledData } from '../../../../src/main/engine/data/types.ts';
import {
  applyExtractor,
  fitExtractor,
  loadExtractor,
  readExtractor,
  saveExtractor,
} from '../../../../src/main/engine/features/extractor.ts';
import { symmetricEigen } from '../../../../src/main/engine/features/linalg.ts';
import { encodeSafetensors } from '../../../../src/main/engine/formats/safetensors.ts';
import { Rng } from '../../../../src/main/engine/rng.ts';
import { expectNoLeakedTensors } from '../../../helpers/tf.ts';
import { tempDir } from '../../../fixtures/datagen.ts';

let dir = '';
beforeAll(() => {
  dir = tempDir('features');
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function dataOf(x: Float32Array, sampleShape: number[]): LabelledData {
  const d = sampleShape.reduce((a, b) => a * b, 1);
  const n = x.length / d;
  return {
    x,
    sampleShape,
    labels: new Int32Array(n),
    classNames: ['a'],
    source: 'mem',
  };
}

const all = (n: number): Int32Array => Int32Array.from({ length: n }, (_, i) => i);

/** Samples ±a·u1, ±b·u2, ±c·u3 for an orthonormal basis u: covariance eigen-pairs are known exactly. */
function knownPcaData() {
  const s = Math.SQRT1_2;
  const u = [
    [s, s, 0],
    [0, 0, 1],
    [s, -s, 0],
  ];
  const amp = [3, 2, 1];
  const rows: number[] = [];
  for (let i = 0; i < 3; i++) {
    for (const sign of [1, -1]) rows.push(...u[i].map((v) => sign * amp[i] * v + 0.5));
  }
  // eigenvalue_i = 2·amp_i² / (n - 1), n = 6
  return { x: Float32Array.from(rows), u, eigen: amp.map((a) => (2 * a * a) / 5) };
}

describe('pixels extractor', () => {
  it('flattens, and standardises with the mean/std of the fit rows only', async () => {
    const x = Float32Array.from([0, 10, 2, 10, 4, 10, 100, 100]); // 4 samples of [2, 1]
    const data = dataOf(x, [2, 1]);
    const plain = await fitExtractor({ kind: 'pixels' }, data, all(4), new Rng(1));
    expect(plain.dim).toBe(2);
    expect([...(await applyExtractor(plain, data)).x]).toEqual([...x]);
    const st = await fitExtractor({ kind: 'pixels', standardise: true }, data, all(3), new Rng(1));
    const out = await applyExtractor(st, data);
    expect(out.sampleShape).toEqual([2]);
    // dim 0: mean 2, std 2; dim 1 constant → std floored, stays 0
    expect([...out.x.subarray(0, 6)]).toEqual([-1, 0, 0, 0, 1, 0]);
    expect(out.x[6]).toBe(49);
    const back = loadExtractor(JSON.parse(JSON.stringify(st.state())));
    expect([...(await back.transform(x, 4))]).toEqual([...out.x]);
  });
});

describe('pca extractor', () => {
  it('recovers known principal axes, variances and explained-variance ratios', async () => {
    const { x, u, eigen } = knownPcaData();
    const ex = await expectNoLeakedTensors(() =>
      fitExtractor({ kind: 'pca', components: 2 }, dataOf(x, [3]), all(6), new Rng(4)),
    );
    const st = ex.state();
    if (st.kind !== 'pca') throw new Error('expected pca state');
    expect(st.eigenvalues[0]).toBeCloseTo(eigen[0], 4);
    expect(st.eigenvalues[1]).toBeCloseTo(eigen[1], 4);
    expect(st.totalVariance).toBeCloseTo(eigen[0] + eigen[1] + eigen[2], 6);
    expect(st.explainedVarianceRatio[0]).toBeCloseTo(9 / 14, 4);
    expect(st.explainedVarianceRatio[1]).toBeCloseTo(4 / 14, 4);
    for (let j = 0; j < 2; j++) {
      const axis = [0, 1, 2].map((i) => st.basis[i * 2 + j]);
      const cos = Math.abs(axis.reduce((a, v, i) => a + v * u[j][i], 0));
      expect(cos).toBeCloseTo(1, 5);
    }
    expect(st.mean.map((m) => Math.round(m * 1e6) / 1e6)).toEqual([0.5, 0.5, 0.5]);
    // Projection of the first sample (+3·u1) is (±3, 0).
    const y = await expectNoLeakedTensors(() => ex.transform(x.subarray(0, 3), 1));
    expect(Math.abs(y[0])).toBeCloseTo(3, 4);
    expect(y[1]).toBeCloseTo(0, 4);
  });

  it('matches a full eigendecomposition of the covariance on random correlated data', async () => {
    const rng = new Rng(11);
    const n = 300;
    const d = 24;
    const mix = rng.normalArray(d * d);
    const x = new Float32Array(n * d);
    for (let i = 0; i < n; i++) {
      const z = rng.normalArray(d);
      for (let j = 0; j < d; j++) {
        let s = 0;
        for (let k = 0; k < d; k++) s += z[k] * mix[k * d + j] * (k < 6 ? 3 / (k + 1) : 0.1);
        x[i * d + j] = s;
      }
    }
    // Reference: covariance in float64, Jacobi on the full matrix.
    const mean = new Float64Array(d);
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += x[i * d + j] / n;
    const cov = new Float64Array(d * d);
    for (let i = 0; i < n; i++) {
      for (let a = 0; a < d; a++) {
        for (let b = 0; b < d; b++) {
          cov[a * d + b] += ((x[i * d + a] - mean[a]) * (x[i * d + b] - mean[b])) / (n - 1);
        }
      }
    }
    const ref = symmetricEigen(cov, d);
    const k = 5;
    const ex = await expectNoLeakedTensors(() =>
      fitExtractor(
        { kind: 'pca', components: k, whiten: true },
        dataOf(x, [d]),
        all(n),
        new Rng(2),
      ),
    );
    const st = ex.state();
    if (st.kind !== 'pca') throw new Error('expected pca state');
    for (let j = 0; j < k; j++) {
      expect(Math.abs(st.eigenvalues[j] - ref.values[j]) / ref.values[0]).toBeLessThan(1e-5);
      let cos = 0;
      for (let i = 0; i < d; i++) cos += st.basis[i * k + j] * ref.vectors[i * d + j];
      expect(Math.abs(cos)).toBeGreaterThan(0.9999);
    }
    // Whitened features have unit variance and no correlation on the fit data.
    const f = await expectNoLeakedTensors(() => applyExtractor(ex, dataOf(x, [d])));
    for (let a = 0; a < k; a++) {
      let va = 0;
      let cab = 0;
      for (let i = 0; i < n; i++) {
        va += f.x[i * k + a] ** 2 / (n - 1);
        cab += (f.x[i * k + a] * f.x[i * k + ((a + 1) % k)]) / (n - 1);
      }
      expect(va).toBeCloseTo(1, 3);
      expect(Math.abs(cab)).toBeLessThan(1e-3);
    }
    // Same seed → same numbers; another seed → same axes up to float rounding (signs fixed).
    const again = await fitExtractor(
      { kind: 'pca', components: k, whiten: true },
      dataOf(x, [d]),
      all(n),
      new Rng(2),
    );
    const other = await fitExtractor(
      { kind: 'pca', components: k, whiten: true },
      dataOf(x, [d]),
      all(n),
      new Rng(99),
    );
    const s2 = again.state();
    const s3 = other.state();
    if (s2.kind !== 'pca' || s3.kind !== 'pca') throw new Error('expected pca state');
    expect(s2.basis).toEqual(st.basis);
    const maxDiff = Math.max(...s3.basis.map((v, i) => Math.abs(v - st.basis[i])));
    expect(maxDiff).toBeLessThan(1e-3);
  });

  it('fits PCA on a Fashion-MNIST train pool and projects all samples', async () => {
    const fm = await loadDataset({ kind: 'fashion-mnist' });
    const split = stratifiedSplit(fm.labels, 10, 0.8, new Rng(1));
    const fit = split.train.subarray(0, 1500);
    const ex = await expectNoLeakedTensors(() =>
      fitExtractor({ kind: 'pca', components: 16 }, fm, fit, new Rng(1)),
    );
    const st = ex.state();
    if (st.kind !== 'pca') throw new Error('expected pca state');
    const evr = st.explainedVarianceRatio.reduce((a, b) => a + b, 0);
    // Fashion-MNIST's first 16 components explain roughly three quarters of the pixel variance.
    expect(evr).toBeGreaterThan(0.65);
    expect(evr).toBeLessThan(0.9);
    expect(st.explainedVarianceRatio[0]).toBeGreaterThan(st.explainedVarianceRatio[15]);
    const out = await expectNoLeakedTensors(() => applyExtractor(ex, fm));
    expect(out.sampleShape).toEqual([16]);
    expect(out.x).toHaveLength(10000 * 16);
    expect(out.labels).toBe(fm.labels);
    // Variance of component 1 over the fit rows equals its eigenvalue.
    let m = 0;
    let v = 0;
    for (let i = 0; i < fit.length; i++) m += out.x[fit[i] * 16] / fit.length;
    for (let i = 0; i < fit.length; i++) v += (out.x[fit[i] * 16] - m) ** 2 / (fit.length - 1);
    expect(Math.abs(v - st.eigenvalues[0]) / st.eigenvalues[0]).toBeLessThan(1e-3);
  });
});

describe('saving, loading and refusing', () => {
  it('round-trips a PCA extractor through safetensors', async () => {
    const { x } = knownPcaData();
    const ex = await fitExtractor(
      { kind: 'pca', components: 2, whiten: true },
      dataOf(x, [3]),
      all(6),
      new Rng(4),
    );
    const p = path.join(dir, 'pca.safetensors');
    await saveExtractor(p, ex);
    const back = await readExtractor(p);
    expect(back.kind).toBe('pca');
    expect(back.dim).toBe(2);
    expect([...(await back.transform(x, 6))]).toEqual([...(await ex.transform(x, 6))]);
    expect(back.state()).toEqual(JSON.parse(JSON.stringify(ex.state())));
  });

  it('rejects corrupt saved extractors, naming the file', async () => {
    const noMeta = path.join(dir, 'nometa.safetensors');
    fs.writeFileSync(
      noMeta,
      encodeSafetensors({ a: { dtype: 'F32', shape: [1], data: new Float32Array(1) } }),
    );
    await expect(readExtractor(noMeta)).rejects.toThrow(
      /nometa\.safetensors: not a saved feature extractor/,
    );
    const badShape = path.join(dir, 'bad.safetensors');
    const meta = {
      kind: 'pca',
      version: 1,
      inputShape: [3],
      components: 2,
      whiten: false,
      totalVariance: 1,
      fitSamples: 6,
      iterations: 1,
    };
    const f64 = (n: number) => ({ dtype: 'F64' as const, shape: [n], data: new Float64Array(n) });
    fs.writeFileSync(
      badShape,
      encodeSafetensors(
        {
          mean: f64(3),
          basis: { dtype: 'F32', shape: [5], data: new Float32Array(5) },
          eigenvalues: f64(2),
          explainedVarianceRatio: f64(2),
        },
        { 'd2nwg.features': JSON.stringify(meta) },
      ),
    );
    await expect(readExtractor(badShape)).rejects.toThrow(/basis has 5 values, expected 3×2/);
    const missing = path.join(dir, 'missing.safetensors');
    fs.writeFileSync(
      missing,
      encodeSafetensors({ mean: f64(3) }, { 'd2nwg.features': JSON.stringify(meta) }),
    );
    await expect(readExtractor(missing)).rejects.toThrow(
      /missing\.safetensors: invalid feature extractor state/,
    );
  });

  it("refuses 'image-encoder' until it exists, and bad configs", async () => {
    const data = dataOf(new Float32Array(8), [2]);
    await expect(
      fitExtractor({ kind: 'image-encoder', modelPath: '/m' }, data, all(4), new Rng(1)),
    ).rejects.toThrow(
      "features.kind: image-encoder features are not implemented yet; use 'pca' or 'pixels'",
    );
    await expect(
      fitExtractor({ kind: 'pca', components: 3 }, data, all(4), new Rng(1)),
    ).rejects.toThrow(/features\.components: components = 3 exceeds the input dimension 2/);
    await expect(
      fitExtractor({ kind: 'pca', components: 2 }, data, all(2), new Rng(1)),
    ).rejects.toThrow(/needs at least 3 fitting samples, got 2/);
    await expect(
      fitExtractor({ kind: 'pca', components: 0 }, data, all(4), new Rng(1)),
    ).rejects.toThrow(InputError);
    const ex = await fitExtractor({ kind: 'pixels' }, data, all(4), new Rng(1));
    await expect(applyExtractor(ex, dataOf(new Float32Array(9), [3]))).rejects.toThrow(
      /mem: the pixels extractor was fitted on samples of shape \[2\] but this dataset has \[3\]/,
    );
  });
});
