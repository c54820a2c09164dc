import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../../../src/main/nodes/dataset-source.ts';
import { expectInputError, metric, nodeContext, output } from '../../helpers/nodes.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-node-dataset-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('dataset.source', () => {
  it('loads the embedded Fashion-MNIST t10k set: 1,000 images of 28×28 per class, pixels in [0, 1]', async () => {
    const { ctx, recorded } = nodeContext({ config: {} });
    const res = await run(ctx, {});
    const { data, sourceConfig } = output(res, 'dataset', 'dataset');
    expect(sourceConfig).toEqual({ kind: 'fashion-mnist', variant: 'embedded' });
    expect(data.sampleShape).toEqual([28, 28, 1]);
    expect(data.classNames).toHaveLength(10);
    expect(data.classNames[0]).toBe('T-shirt/top');
    expect(data.labels).toHaveLength(10_000);
    expect(data.x).toHaveLength(10_000 * 784);
    const perClass = new Array<number>(10).fill(0);
    for (const l of data.labels) perClass[l]++;
    expect(perClass).toEqual(new Array<number>(10).fill(1000));
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of data.x) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    expect([lo, hi]).toEqual([0, 1]);
    expect(metric(res, 'samples')).toBe(10_000);
    expect(metric(res, 'classes')).toBe(10);
    expect(res.summary?.sampleShape).toEqual([28, 28, 1]);
    expect(recorded.progress.at(-1)).toMatchObject({ value: 1, max: 1, unit: 'dataset' });
  });

  it('reads a CSV named relative to the data folder and passes on the resolved path', async () => {
    fs.writeFileSync(path.join(tmp, 'tiny.csv'), 'a,b,label\n0.5,1,0\n2,3,1\n4,5,1\n');
    const { ctx } = nodeContext({
      config: { source: { kind: 'csv', path: 'tiny.csv' } },
      dataDir: tmp,
    });
    const res = await run(ctx, {});
    const { data, sourceConfig } = output(res, 'dataset', 'dataset');
    expect(sourceConfig).toMatchObject({ kind: 'csv', path: path.join(tmp, 'tiny.csv') });
    expect(data.sampleShape).toEqual([2]);
    expect([...data.x]).toEqual([0.5, 1, 2, 3, 4, 5]);
    expect([...data.labels]).toEqual([0, 1, 1]);
    expect(metric(res, 'classes')).toBe(2);
  });

  it('refuses a missing file with an InputError naming it', async () => {
    const { ctx } = nodeContext({
      config: { source: { kind: 'csv', path: 'nope.csv' } },
      dataDir: tmp,
    });
    await expectInputError(run(ctx, {}), /nope\.csv: cannot read CSV file: file not found/);
  });
});
