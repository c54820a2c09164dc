import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../../../src/main/engine/errors.ts';
import {
  MAX_CLASSES,
  checkLabels,
  decodeIdx,
  loadIdxPair,
} from '../../../../src/main/engine/data/idx.ts';
import { gzip, idxBytes, tempDir } from '../../../fixtures/datagen.ts';

let dir = '';
beforeAll(() => {
  dir = tempDir('idx');
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function write(name: string, bytes: Uint8Array): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, bytes);
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

describe('IDX reader', () => {
  it('names the images file when both files are missing, whichever read fails first', async () => {
    // The labels file is tiny and its read usually fails first; the message must not depend on it.
    const img = path.join(dir, 'absent-images.gz');
    const lab = path.join(dir, 'absent-labels.gz');
    for (let i = 0; i < 20; i++) {
      const e = await errorOf(loadIdxPair(img, lab));
      expect(e.message).toContain(img);
      expect(e.message).not.toContain(lab);
    }
    // Only the labels missing: the labels file is named.
    const okImg = write('present-img', idxBytes(0x08, [1, 1, 1], [0]));
    expect((await errorOf(loadIdxPair(okImg, lab))).message).toContain(lab);
  });

  const pix = [0, 255, 51, 102, 10, 20, 30, 40, 255, 255, 0, 0]; // 3 images of 2×2
  it('loads a gzipped u8 pair: shape, [0, 1] scaling, labels, class names', async () => {
    const img = write('img.gz', gzip(idxBytes(0x08, [3, 2, 2], pix)));
    const lab = write('lab.gz', gzip(idxBytes(0x08, [3], [2, 0, 1])));
    const d = await loadIdxPair(img, lab, ['a', 'b', 'c']);
    expect(d.sampleShape).toEqual([2, 2, 1]);
    expect([...d.labels]).toEqual([2, 0, 1]);
    expect(d.classNames).toEqual(['a', 'b', 'c']);
    expect(d.x[1]).toBe(1);
    expect(d.x[2]).toBeCloseTo(0.2, 6);
    expect(d.x.length).toBe(12);
    expect(d.source).toBe(img);
  });

  it('loads raw (not gzipped) files, RGB images and default class names', async () => {
    const img = write(
      'rgb',
      idxBytes(
        0x08,
        [2, 1, 2, 3],
        [...Array(12).keys()].map((i) => i * 20),
      ),
    );
    const lab = write('rgb-lab', idxBytes(0x08, [2], [0, 3]));
    const d = await loadIdxPair(img, lab);
    expect(d.sampleShape).toEqual([1, 2, 3]);
    expect(d.classNames).toEqual(['0', '1', '2', '3']);
    expect(d.x[11]).toBeCloseTo(220 / 255, 6);
  });

  it('decodes every element type big-endian', () => {
    expect([...decodeIdx(idxBytes(0x09, [2], [-3, 4]), 'f').data]).toEqual([-3, 4]);
    expect([...decodeIdx(idxBytes(0x0b, [2], [-300, 300]), 'f').data]).toEqual([-300, 300]);
    expect([...decodeIdx(idxBytes(0x0c, [2], [-70000, 7]), 'f').data]).toEqual([-70000, 7]);
    expect([...decodeIdx(idxBytes(0x0d, [2], [0.5, -2]), 'f').data]).toEqual([0.5, -2]);
    expect([...decodeIdx(idxBytes(0x0e, [1, 2], [Math.PI, 1e300]), 'f').data]).toEqual([
      Math.PI,
      1e300,
    ]);
    expect(decodeIdx(idxBytes(0x0e, [1, 2], [1, 2]), 'f').dims).toEqual([1, 2]);
  });

  it('min-max scales non-u8 images outside [0, 1] and keeps [0, 1] floats', async () => {
    const img = write('f32', idxBytes(0x0d, [2, 2], [0.25, 0.5, 0, 1]));
    const img2 = write('i16', idxBytes(0x0b, [2, 2], [-10, 10, 0, 30]));
    const lab = write('f32-lab', idxBytes(0x08, [2], [0, 1]));
    expect([...(await loadIdxPair(img, lab)).x]).toEqual([0.25, 0.5, 0, 1]);
    const d2 = await loadIdxPair(img2, lab);
    expect(d2.sampleShape).toEqual([2]);
    expect([...d2.x]).toEqual([0, 0.5, 0.25, 1]);
  });

  it('rejects bad files with messages naming the file and the problem', async () => {
    const goodImg = write('good-img', idxBytes(0x08, [3, 2, 2], pix));
    const goodLab = write('good-lab', idxBytes(0x08, [3], [0, 1, 2]));
    const truncated = write('trunc', idxBytes(0x08, [3, 2, 2], pix).subarray(0, 20));
    let e = await errorOf(loadIdxPair(truncated, goodLab));
    expect(e.message).toContain(truncated);
    expect(e.message).toMatch(
      /truncated data: dimensions \[3, 2, 2\] of u8 need 12 bytes, found 4/,
    );

    const badMagic = write('magic', new Uint8Array([1, 2, 8, 1, 0, 0, 0, 0]));
    e = await errorOf(loadIdxPair(badMagic, goodLab));
    expect(e.message).toContain(badMagic);
    expect(e.message).toMatch(/bad magic: the file does not start with 00 00 <type> <ndims>/);
    expect(e.message).not.toMatch(/01 02 08 01/);

    // A text file (here the start of /etc/passwd) is refused without echoing its bytes.
    const text = write('passwd', new TextEncoder().encode('root:x:0:0:root:/root:/bin/bash\n'));
    e = await errorOf(loadIdxPair(text, goodLab));
    expect(e.message).toBe(
      `${text}: not a valid IDX file: bad magic: the file does not start with 00 00 <type> <ndims>`,
    );
    e = await errorOf(
      loadIdxPair(write('passwd.gz', gzip(new TextEncoder().encode('root:x:0'))), goodLab),
    );
    expect(e.message).not.toMatch(/72 6f 6f 74|root/);

    const badType = write(
      'type',
      idxBytes(0x08, [1], [1]).map((b, i) => (i === 2 ? 0x0a : b)),
    );
    e = await errorOf(loadIdxPair(badType, goodLab));
    expect(e.message).toMatch(/unknown element type code 0x0a/);

    const trailing = write('trail', new Uint8Array([...idxBytes(0x08, [3, 2, 2], pix), 9, 9]));
    e = await errorOf(loadIdxPair(trailing, goodLab));
    expect(e.message).toContain(trailing);
    expect(e.message).toMatch(/need 12 bytes but 14 follow the header/);

    const fewLabels = write('few', idxBytes(0x08, [2], [0, 1]));
    e = await errorOf(loadIdxPair(goodImg, fewLabels));
    expect(e.message).toContain(fewLabels);
    expect(e.message).toMatch(/2 labels in .* but 3 images in /);

    const gz = gzip(idxBytes(0x08, [3, 2, 2], pix));
    const corrupt = write('corrupt.gz', gz.subarray(0, gz.length - 6));
    e = await errorOf(loadIdxPair(corrupt, goodLab));
    expect(e.message).toContain(corrupt);
    expect(e.message).toMatch(/corrupt gzip data/);

    const lab2d = write('lab2d', idxBytes(0x08, [3, 1], [0, 1, 2]));
    e = await errorOf(loadIdxPair(goodImg, lab2d));
    expect(e.message).toMatch(/labels must have 1 dimension \[n\]; found \[3, 1\]/);

    const floatLab = write('flab', idxBytes(0x0d, [3], [0, 1, 2]));
    e = await errorOf(loadIdxPair(goodImg, floatLab));
    expect(e.message).toMatch(/labels must be an integer type/);

    const negLab = write('neglab', idxBytes(0x09, [3], [0, -1, 2]));
    e = await errorOf(loadIdxPair(goodImg, negLab));
    expect(e.message).toMatch(/label of sample 1 is negative/);

    e = await errorOf(loadIdxPair(goodImg, goodLab, ['only', 'two']));
    expect(e.message).toMatch(/label of sample 2 is out of range: 2 class names/);

    const img1d = write('img1d', idxBytes(0x08, [3], [1, 2, 3]));
    e = await errorOf(loadIdxPair(img1d, goodLab));
    expect(e.message).toMatch(/images must have 2 to 4 dimensions/);

    const missing = path.join(dir, 'nope.gz');
    e = await errorOf(loadIdxPair(missing, goodLab));
    expect(e.message).toContain(missing);
    expect(e.message).toMatch(/file not found/);
  });

  it('bounds the class count: huge labels are an InputError naming file and sample, not a hang', async () => {
    const img = write('big-img', idxBytes(0x08, [3, 1, 1], [0, 1, 2]));
    for (const big of [MAX_CLASSES, 10_000_000, 100_000_000, 2 ** 31 - 1]) {
      const lab = write(`big-lab-${big}`, idxBytes(0x0c, [3], [0, big, 1]));
      const e = await errorOf(loadIdxPair(img, lab));
      expect(e.message).toContain(lab);
      expect(e.message).toMatch(/label of sample 1 is too large/);
      expect(e.message).toContain(`at most ${MAX_CLASSES} classes`);
    }
    const ok = write('max-lab', idxBytes(0x0c, [3], [0, MAX_CLASSES - 1, 1]));
    expect((await loadIdxPair(img, ok)).classNames).toHaveLength(MAX_CLASSES);
  });
});

describe('checkLabels', () => {
  it('refuses non-integer, negative and too-large labels, beyond 2^32 too, without a RangeError', () => {
    const cases: [number, RegExp][] = [
      [2 ** 32, /too large/],
      [2 ** 53, /too large/],
      [1e300, /too large/],
      [Infinity, /not an integer/],
      [NaN, /not an integer/],
      [0.5, /not an integer/],
      [-3, /negative/],
    ];
    for (const [v, re] of cases) {
      let err: unknown;
      try {
        checkLabels([1, 0, v], 'labels.bin');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InputError);
      expect((err as Error).message).toMatch(/^labels\.bin: label of sample 2 /);
      expect((err as Error).message).toMatch(re);
    }
  });

  it('refuses more class names than MAX_CLASSES and names a location from locate()', () => {
    const names = Array.from({ length: MAX_CLASSES + 1 }, (_, i) => `c${i}`);
    expect(() => checkLabels([0], 'f', names)).toThrow(InputError);
    expect(() => checkLabels([0, -1], 'f.csv', undefined, (i) => `f.csv:${i + 2}`)).toThrow(
      /^f\.csv:3: label of sample 1 is negative/,
    );
  });
});
