import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CancelledError, InputError } from '../../../../src/main/engine/errors.ts';
import { loadImageFolder } from '../../../../src/main/engine/data/imagefolder.ts';
import { tempDir, writeJpeg, writePng } from '../../../fixtures/datagen.ts';

let dir = '';
beforeAll(() => {
  dir = tempDir('imgfolder');
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function mk(...parts: string[]): string {
  const p = path.join(dir, ...parts);
  fs.mkdirSync(p, { recursive: true });
  return p;
}

async function errorOf(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return e as Error;
  }
  throw new Error('expected an InputError');
}

describe('ImageFolder reader', () => {
  it('reads grey PNGs and JPEGs, classes sorted by name, size of the first image', async () => {
    const root = mk('grey');
    // class 'b' sorts after 'a' although created first
    writePng(path.join(mk('grey', 'b'), '1.png'), 4, 2, (x) => [x * 60, x * 60, x * 60]);
    writePng(path.join(mk('grey', 'a'), '2.png'), 4, 2, () => [255, 255, 255]);
    writeJpeg(path.join(root, 'a', '1.jpg'), 4, 2, () => [128, 128, 128]);
    fs.writeFileSync(path.join(root, 'a', 'notes.txt'), 'ignored');
    fs.writeFileSync(path.join(root, 'README'), 'ignored');
    const d = await loadImageFolder(root);
    expect(d.classNames).toEqual(['a', 'b']);
    expect(d.sampleShape).toEqual([2, 4, 1]);
    expect([...d.labels]).toEqual([0, 0, 1]);
    // a/1.jpg (mid grey, lossy), a/2.png (white), b/1.png (ramp)
    expect(Math.abs(d.x[0] - 128 / 255)).toBeLessThan(0.02);
    expect(d.x[8]).toBeCloseTo(1, 5);
    expect([...d.x.subarray(16, 20)].map((v) => Math.round(v * 255))).toEqual([0, 60, 120, 180]);
  });

  it('keeps RGB for colour images and resizes with nearest or bilinear', async () => {
    const root = mk('rgb');
    // 4×4 image, left half red, right half blue
    writePng(path.join(mk('rgb', 'x'), 'a.png'), 4, 4, (x) => (x < 2 ? [255, 0, 0] : [0, 0, 255]));
    // 2×2 image (different size) gets resized to 4×4
    writePng(path.join(mk('rgb', 'y'), 'b.png'), 2, 2, (x) =>
      x === 0 ? [0, 0, 0] : [255, 255, 255],
    );
    const d = await loadImageFolder(root);
    expect(d.sampleShape).toEqual([4, 4, 3]);
    expect([...d.x.subarray(0, 3)]).toEqual([1, 0, 0]);
    expect([...d.x.subarray(9, 12)]).toEqual([0, 0, 1]);
    // bilinear on the 2×2 → 4×4: row 0 is 0, 0.25, 0.75, 1 (pixel-centre sampling)
    const row = [0, 1, 2, 3].map((x) => d.x[48 + x * 3]);
    expect(row.map((v) => Math.round(v * 100) / 100)).toEqual([0, 0.25, 0.75, 1]);

    const near = await loadImageFolder(root, { resize: 'nearest', size: [2, 2], channels: 1 });
    expect(near.sampleShape).toEqual([2, 2, 1]);
    expect(near.x[0]).toBeCloseTo(0.299, 5); // red → luma
    expect(near.x[1]).toBeCloseTo(0.114, 5); // blue → luma
    expect([...near.x.subarray(4, 8)].map((v) => Math.round(v * 1e5) / 1e5)).toEqual([0, 1, 0, 1]);
  });

  it('rejects a root with no class folders, naming it', async () => {
    const root = mk('empty-root');
    fs.writeFileSync(path.join(root, 'x.png'), 'loose file');
    const e = await errorOf(loadImageFolder(root));
    expect(e.message).toContain(root);
    expect(e.message).toMatch(/no class folders found/);
  });

  it('rejects an empty class folder, naming it', async () => {
    const root = mk('empty-class');
    writePng(path.join(mk('empty-class', 'full'), 'a.png'), 2, 2, () => [1, 2, 3]);
    const empty = mk('empty-class', 'void');
    fs.writeFileSync(path.join(empty, 'x.txt'), 'not an image');
    const e = await errorOf(loadImageFolder(root));
    expect(e.message).toContain(empty);
    expect(e.message).toMatch(/class folder 'void' has no \.png\/\.jpg\/\.jpeg images/);
  });

  it('rejects an unreadable image, naming the file', async () => {
    const root = mk('broken');
    writePng(path.join(mk('broken', 'c'), 'a.png'), 2, 2, () => [1, 2, 3]);
    const bad = path.join(root, 'c', 'b.png');
    fs.writeFileSync(
      bad,
      new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]),
    );
    let e = await errorOf(loadImageFolder(root));
    expect(e.message).toContain(bad);
    expect(e.message).toMatch(/unreadable PNG image/);
    fs.writeFileSync(bad, 'text pretending to be a png');
    e = await errorOf(loadImageFolder(root));
    expect(e.message).toContain(bad);
    expect(e.message).toMatch(/not a PNG or JPEG image/);
    const badJpg = path.join(root, 'c', 'b.png');
    fs.writeFileSync(badJpg, new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16, 1, 2]));
    e = await errorOf(loadImageFolder(root));
    expect(e.message).toMatch(/unreadable JPEG image/);
  });

  it('names a missing root folder', async () => {
    const missing = path.join(dir, 'does-not-exist');
    const e = await errorOf(loadImageFolder(missing));
    expect(e.message).toContain(missing);
    expect(e.message).toMatch(/folder not found/);
  });

  it('reports progress and stops when cancelled', async () => {
    const root = mk('cancel');
    writePng(path.join(mk('cancel', 'k'), 'a.png'), 2, 2, () => [1, 2, 3]);
    const seen: number[] = [];
    await loadImageFolder(root, {}, { onProgress: (p) => seen.push(p.max) });
    expect(seen).toEqual([1]);
    const ac = new AbortController();
    ac.abort();
    await expect(loadImageFolder(root, {}, { signal: ac.signal })).rejects.toBeInstanceOf(
      CancelledError,
    );
  });
});
