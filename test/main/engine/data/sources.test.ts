import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../../../src/main/engine/errors.ts';
import {
  clearDatasetCache,
  FASHION_MNIST_CLASSES,
  loadDataset,
  resourcesDir,
} from '../../../../src/main/engine/data/sources.ts';
import { encodeNpy } from '../../../../src/main/engine/formats/npy.ts';
import { idxBytes, tempDir, writePng } from '../../../fixtures/datagen.ts';

let dir = '';
beforeAll(() => {
  dir = tempDir('sources');
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  delete process.env.D2NWG_RESOURCES;
});

async function errorOf(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return e as Error;
  }
  throw new Error('expected an InputError');
}

describe('loadDataset', () => {
  it('loads the embedded Fashion-MNIST: 10000 × 28×28, 10 classes of 1000, pixels in [0, 1]', async () => {
    const d = await loadDataset({ kind: 'fashion-mnist' });
    expect(d.labels).toHaveLength(10000);
    expect(d.sampleShape).toEqual([28, 28, 1]);
    expect(d.x).toHaveLength(10000 * 784);
    expect(d.classNames).toEqual(FASHION_MNIST_CLASSES);
    expect(d.classNames[9]).toBe('Ankle boot');
    expect(d.source).toBe('embedded:fashion-mnist');
    const counts = new Array<number>(10).fill(0);
    for (const l of d.labels) counts[l]++;
    expect(counts).toEqual(new Array<number>(10).fill(1000));
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of d.x) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    expect(lo).toBe(0);
    expect(hi).toBe(1);
    // The first t10k label is 9 (Ankle boot), as in the official distribution.
    expect(d.labels[0]).toBe(9);
    // Cached: the same object comes back.
    expect(await loadDataset({ kind: 'fashion-mnist', variant: 'embedded' })).toBe(d);
  });

  it('honours D2NWG_RESOURCES and says what is missing', async () => {
    process.env.D2NWG_RESOURCES = dir;
    expect(resourcesDir()).toBe(dir);
    clearDatasetCache();
    const e = await errorOf(loadDataset({ kind: 'fashion-mnist' }));
    expect(e.message).toContain(
      path.join(dir, 'datasets', 'fashion-mnist', 't10k-images-idx3-ubyte.gz'),
    );
    expect(e.message).toMatch(/file not found/);
  });

  it("explains how to get the 'full' variant when it is absent", async () => {
    const e = await errorOf(loadDataset({ kind: 'fashion-mnist', variant: 'full', path: dir }));
    expect(e.message).toContain(dir);
    expect(e.message).toMatch(/install dataset-fashion-mnist or pass path/);
  });

  it("concatenates train and t10k for 'full'", async () => {
    const full = path.join(dir, 'fm-full');
    fs.mkdirSync(full);
    const w = (n: string, b: Uint8Array) => fs.writeFileSync(path.join(full, n), b);
    w('train-images-idx3-ubyte.gz', idxBytes(0x08, [2, 1, 1], [0, 255]));
    w('train-labels-idx1-ubyte.gz', idxBytes(0x08, [2], [3, 4]));
    w('t10k-images-idx3-ubyte.gz', idxBytes(0x08, [1, 1, 1], [51]));
    w('t10k-labels-idx1-ubyte.gz', idxBytes(0x08, [1], [9]));
    const d = await loadDataset({ kind: 'fashion-mnist', variant: 'full', path: full });
    expect([...d.labels]).toEqual([3, 4, 9]);
    expect(d.x[2]).toBeCloseTo(0.2, 6);
    expect(d.classNames).toEqual(FASHION_MNIST_CLASSES);
  });

  it('dispatches idx, imagefolder, csv and npy sources, and re-reads an edited file', async () => {
    const img = path.join(dir, 'i.idx');
    const lab = path.join(dir, 'l.idx');
    fs.writeFileSync(img, idxBytes(0x08, [2, 2, 2], [0, 0, 0, 0, 255, 255, 255, 255]));
    fs.writeFileSync(lab, idxBytes(0x08, [2], [0, 1]));
    const a = await loadDataset({ kind: 'idx', images: img, labels: lab, classNames: ['x', 'y'] });
    expect(a.classNames).toEqual(['x', 'y']);

    fs.mkdirSync(path.join(dir, 'folder', 'k'), { recursive: true });
    writePng(path.join(dir, 'folder', 'k', 'a.png'), 3, 3, () => [9, 9, 9]);
    const b = await loadDataset({
      kind: 'imagefolder',
      root: path.join(dir, 'folder'),
      size: [2, 2],
      channels: 3,
    });
    expect(b.sampleShape).toEqual([2, 2, 3]);

    const csv = path.join(dir, 'f.csv');
    fs.writeFileSync(csv, 'a,b\n1,0\n');
    const c = await loadDataset({ kind: 'csv', path: csv });
    expect([...c.x]).toEqual([1]);
    // Same path, new content and mtime → not served from the cache.
    fs.writeFileSync(csv, 'a,b\n7,0\n8,1\n');
    fs.utimesSync(csv, new Date(), new Date(Date.now() + 5000));
    expect([...(await loadDataset({ kind: 'csv', path: csv })).x]).toEqual([7, 8]);

    const x = path.join(dir, 'x.npy');
    const y = path.join(dir, 'y.npy');
    fs.writeFileSync(x, encodeNpy(new Float32Array([1, 2, 3, 4]), [2, 2]));
    fs.writeFileSync(y, encodeNpy(new Int32Array([1, 0]), [2]));
    const n = await loadDataset({ kind: 'npy', x, y });
    expect(n.sampleShape).toEqual([2]);
  });

  it('rejects an invalid source description naming the field', async () => {
    let e = await errorOf(loadDataset({ kind: 'idx', images: 'a' } as never));
    expect(e.message).toMatch(/^source\.labels: /);
    e = await errorOf(loadDataset({ kind: 'tfds' } as never));
    expect(e.message).toMatch(/^source\.kind: /);
    e = await errorOf(loadDataset({ kind: 'imagefolder', root: dir, channels: 2 } as never));
    expect(e.message).toMatch(/^source\.channels: /);
  });
});
