import { describe, expect, it } from 'vitest';
import { run } from '../../../src/main/nodes/features-extract.ts';
import {
  expectInputError,
  metric,
  nodeContext,
  output,
  SEED,
  TinyChain,
  wire,
} from '../../helpers/nodes.ts';

const chain = new TinyChain();

async function extract(extractor: unknown) {
  const { ctx } = nodeContext({ config: { extractor } });
  const res = await run(ctx, wire({ dataset: await chain.dataset(), tasks: await chain.tasks() }));
  return { res, features: output(res, 'features', 'features') };
}

/** Mean and (population) variance of each of `d` columns over the rows `rows` of `x`. */
function columnStats(x: Float32Array, d: number, rows: Int32Array) {
  const mean = new Array<number>(d).fill(0);
  const vari = new Array<number>(d).fill(0);
  for (const r of rows) for (let j = 0; j < d; j++) mean[j] += x[r * d + j] / rows.length;
  for (const r of rows)
    for (let j = 0; j < d; j++) vari[j] += (x[r * d + j] - mean[j]) ** 2 / rows.length;
  return { mean, vari };
}

describe('features.extract', () => {
  it('fits PCA on the train pool only and maps every sample to its components, in sample order', async () => {
    const ds = await chain.dataset();
    const pool = (await chain.tasks()).tasks.trainPool;
    const { res, features } = await extract({ kind: 'pca', components: 6 });
    expect(features.data.sampleShape).toEqual([6]);
    expect(features.data.x).toHaveLength(10_000 * 6);
    expect([...features.data.labels]).toEqual([...ds.data.labels]);
    expect(features.state.kind).toBe('pca');
    expect(features.config).toEqual({ kind: 'pca', components: 6, whiten: false });
    expect(features.seed).toBe(SEED);
    // Centred on the pool it was fitted on, components in decreasing variance.
    const { mean, vari } = columnStats(features.data.x, 6, pool);
    for (const m of mean) expect(Math.abs(m)).toBeLessThan(1e-3 * Math.sqrt(vari[0]));
    for (let j = 1; j < 6; j++) expect(vari[j]).toBeLessThanOrEqual(vari[j - 1] * (1 + 1e-4));
    expect(metric(res, 'dim')).toBe(6);
    expect(metric(res, 'samples')).toBe(10_000);
    expect(metric(res, 'fitSamples')).toBe(pool.length);
    expect(res.summary?.kind).toBe('pca');
  });

  it('whitened PCA gives every component unit variance on the train pool', async () => {
    const pool = (await chain.tasks()).tasks.trainPool;
    const { features } = await extract({ kind: 'pca', components: 3, whiten: true });
    for (const v of columnStats(features.data.x, 3, pool).vari) expect(v).toBeCloseTo(1, 2);
  });

  it('pixels without standardising are the flattened pixels', async () => {
    const ds = await chain.dataset();
    const { features } = await extract({ kind: 'pixels' });
    expect(features.data.sampleShape).toEqual([784]);
    expect(features.data.x.subarray(0, 784 * 3)).toEqual(ds.data.x.subarray(0, 784 * 3));
  });

  it('refuses a missing Tasks input', async () => {
    const { ctx } = nodeContext({ config: {} });
    await expectInputError(
      run(ctx, wire({ dataset: await chain.dataset() })),
      /input 'tasks' needs exactly one connection, has 0/,
    );
  });
});
