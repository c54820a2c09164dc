import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../../../src/main/engine/errors.ts';
import { loadCsv, loadNpyPair } from '../../../../src/main/engine/data/features-file.ts';
import { encodeNpy } from '../../../../src/main/engine/formats/npy.ts';
import { gzip, tempDir } from '../../../fixtures/datagen.ts';

let dir = '';
beforeAll(() => {
  dir = tempDir('featfile');
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function write(name: string, data: string | Uint8Array): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, data);
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

describe('CSV features', () => {
  it('reads integer labels from the last column by default', async () => {
    const f = write('int.csv', 'a,b,target\n1,2,0\n3.5,-4e1,2\n\n5,6,1\n');
    const d = await loadCsv(f);
    expect(d.sampleShape).toEqual([2]);
    expect([...d.x]).toEqual([1, 2, 3.5, -40, 5, 6]);
    expect([...d.labels]).toEqual([0, 2, 1]);
    expect(d.classNames).toEqual(['0', '1', '2']);
  });

  it("prefers a column named 'label', maps string labels to sorted names, handles quotes and CRLF", async () => {
    const f = write('str.csv', 'label,x,"y, quoted"\r\ncat,1,2\r\n"dog",3,4\r\nant,5,6\r\n');
    const d = await loadCsv(f);
    expect(d.classNames).toEqual(['ant', 'cat', 'dog']);
    expect([...d.labels]).toEqual([1, 2, 0]);
    expect([...d.x]).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('takes the label column by name, index or negative index, and reads gzip without a header', async () => {
    const f = write('cols.csv', 'x,cls,y\n1,1,2\n3,0,4\n');
    expect([...(await loadCsv(f, { labelColumn: 'cls' })).labels]).toEqual([1, 0]);
    expect([...(await loadCsv(f, { labelColumn: 1 })).x]).toEqual([1, 2, 3, 4]);
    expect([...(await loadCsv(f, { labelColumn: -2 })).labels]).toEqual([1, 0]);
    const g = write('nohead.csv.gz', gzip(new TextEncoder().encode('0.5,1\n0.25,0\n')));
    const d = await loadCsv(g, { header: false });
    expect([...d.x]).toEqual([0.5, 0.25]);
    expect([...d.labels]).toEqual([1, 0]);
  });

  it('names file:line for ragged rows', async () => {
    const f = write('ragged.csv', 'a,b,label\n1,2,0\n3,0\n');
    const e = await errorOf(loadCsv(f));
    expect(e.message).toContain(`${f}:3`);
    expect(e.message).toMatch(/row has 2 columns but the header has 3/);
  });

  it('names file:line and column for non-numeric values', async () => {
    const f = write('nonnum.csv', 'a,b,label\n1,2,0\n3,abc,1\n');
    const e = await errorOf(loadCsv(f));
    expect(e.message).toContain(`${f}:3`);
    expect(e.message).toMatch(/column 1 \(0-based\) is not a number/);
    const g = write('nan.csv', 'a,label\nNaN,0\n');
    expect((await errorOf(loadCsv(g))).message).toMatch(/nan\.csv:2.*column 0 .*is not finite/);
    const h = write('empty-cell.csv', 'a,b,label\n1,,0\n');
    expect((await errorOf(loadCsv(h))).message).toMatch(/empty-cell\.csv:2.*column 1 .*is empty/);
  });

  it('names file:line for bad labels', async () => {
    const f = write('frac.csv', 'a,label\n1,0\n2,1.5\n');
    let e = await errorOf(loadCsv(f));
    expect(e.message).toContain(`${f}:3`);
    expect(e.message).toMatch(/label \(column 1, 0-based\) is numeric but not an integer/);
    const g = write('neg.csv', 'a,label\n1,0\n2,-1\n');
    e = await errorOf(loadCsv(g));
    expect(e.message).toContain(`${g}:3`);
    expect(e.message).toMatch(/label of sample 1 is negative/);
    const h = write('emptylab.csv', 'a,label\n1,cat\n2,\n');
    e = await errorOf(loadCsv(h));
    expect(e.message).toContain(`${h}:3`);
    expect(e.message).toMatch(/empty label/);
    const m = write('mixed.csv', 'a,label\n1,cat\n2,3\n');
    e = await errorOf(loadCsv(m));
    expect(e.message).toContain(`${m}:3`);
    expect(e.message).toMatch(
      /labels mix integers \(first on line 3\) and names \(first on line 2\)/,
    );
  });

  it('refuses a label past the class limit, naming file:line, instead of 10,000,001 classes', async () => {
    const f = write('bigint.csv', 'a,label\n1,0\n2,10000000\n');
    let e = await errorOf(loadCsv(f));
    expect(e.message).toContain(`${f}:3`);
    expect(e.message).toMatch(/label of sample 1 is too large.*at most 10000 classes/);
    const g = write('huge.csv', 'a,label\n1,0\n2,99999999999999999999\n');
    e = await errorOf(loadCsv(g));
    expect(e.message).toContain(`${g}:3`);
    expect(e.message).toMatch(/too large/);
  });

  it('never quotes a cell or the header in an error, only file:line, column and the problem', async () => {
    const secret = 'PASSWORD=hunter2';
    const cases: [string, string, { labelColumn?: string; header?: boolean }, RegExp][] = [
      [
        `${secret},x\n${secret},1\n`,
        'a',
        { header: false },
        /:1: column 0 \(0-based\) is not a number$/,
      ],
      [`a,label\n${secret},1\n`, 'b', {}, /:2: column 0 \(0-based\) is not a number$/],
      [
        `${secret},${secret}\n1,2\n`,
        'c',
        { labelColumn: 'nope' },
        /not in the header \(2 columns\)$/,
      ],
      [
        `a,label\n1,${secret}\n2,3\n`,
        'd',
        {},
        /labels mix integers \(first on line 3\) and names \(first on line 2\)$/,
      ],
      [
        `a,label\n1,1.5e0\n`,
        'e',
        {},
        /:2: label \(column 1, 0-based\) is numeric but not an integer$/,
      ],
    ];
    for (const [text, name, opts, re] of cases) {
      const f = write(`leak-${name}.csv`, text);
      const e = await errorOf(loadCsv(f, opts));
      expect(e.message).toContain(f);
      expect(e.message).not.toMatch(/hunter2|1\.5e0/);
      expect(e.message).toMatch(re);
    }
  });

  it('rejects an unknown label column, an empty file and a missing file, naming them', async () => {
    const f = write('cols2.csv', 'x,y\n1,0\n');
    let e = await errorOf(loadCsv(f, { labelColumn: 'class' }));
    expect(e.message).toContain(f);
    expect(e.message).toMatch(/label column 'class' not in the header \(2 columns\)/);
    e = await errorOf(loadCsv(f, { labelColumn: 5 }));
    expect(e.message).toMatch(/label column index 5 is out of range for 2 columns/);
    const empty = write('empty.csv', 'a,label\n');
    e = await errorOf(loadCsv(empty));
    expect(e.message).toContain(empty);
    expect(e.message).toMatch(/no data rows/);
    const missing = path.join(dir, 'missing.csv');
    e = await errorOf(loadCsv(missing));
    expect(e.message).toContain(missing);
  });
});

describe('.npy pair', () => {
  it('reads 2-D float features with int64 labels', async () => {
    const x = write('x.npy', encodeNpy(new Float64Array([1, 2, 3, 4, 5, 6]), [3, 2]));
    const y = write('y.npy', encodeNpy(new BigInt64Array([1n, 0n, 1n]), [3]));
    const d = await loadNpyPair(x, y);
    expect(d.sampleShape).toEqual([2]);
    expect([...d.x]).toEqual([1, 2, 3, 4, 5, 6]);
    expect([...d.labels]).toEqual([1, 0, 1]);
    expect(d.classNames).toEqual(['0', '1']);
  });

  it('reads uint8 images scaled to [0, 1] and integral float labels', async () => {
    const x = write('ximg.npy', encodeNpy(new Uint8Array([0, 255, 51, 0, 0, 0, 0, 0]), [2, 2, 2]));
    const y = write('yf.npy', encodeNpy(new Float32Array([0, 2]), [2]));
    const d = await loadNpyPair(x, y);
    expect(d.sampleShape).toEqual([2, 2, 1]);
    expect(d.x[1]).toBe(1);
    expect(d.x[2]).toBeCloseTo(0.2, 6);
    expect([...d.labels]).toEqual([0, 2]);
  });

  it('rejects mismatched counts, bad shapes and non-integer labels, naming the file', async () => {
    const x = write('x2.npy', encodeNpy(new Float32Array(6), [3, 2]));
    const y2 = write('y2.npy', encodeNpy(new Int32Array([0, 1]), [2]));
    let e = await errorOf(loadNpyPair(x, y2));
    expect(e.message).toContain(y2);
    expect(e.message).toMatch(/2 labels in .* but 3 samples in /);
    const x1 = write('x1.npy', encodeNpy(new Float32Array(3), [3]));
    const y3 = write('y3.npy', encodeNpy(new Int32Array([0, 1, 0]), [3]));
    e = await errorOf(loadNpyPair(x1, y3));
    expect(e.message).toContain(x1);
    expect(e.message).toMatch(/x must have shape \[n, d\]/);
    const y2d = write('y2d.npy', encodeNpy(new Int32Array([0, 1, 0]), [3, 1]));
    e = await errorOf(loadNpyPair(x, y2d));
    expect(e.message).toContain(y2d);
    expect(e.message).toMatch(/y must be 1-D/);
    const yfrac = write('yfrac.npy', encodeNpy(new Float32Array([0, 0.5, 1]), [3]));
    e = await errorOf(loadNpyPair(x, yfrac));
    expect(e.message).toContain(yfrac);
    expect(e.message).toMatch(/label of sample 1 is not an integer/);
    for (const big of [2n ** 32n, 2n ** 31n - 1n, 100_000_000n, 10_000_000n]) {
      const ybig = write(`ybig-${big}.npy`, encodeNpy(new BigInt64Array([0n, 1n, big]), [3]));
      e = await errorOf(loadNpyPair(x, ybig));
      expect(e.message).toContain(ybig);
      expect(e.message).toMatch(/label of sample 2 is too large/);
    }
    const xnan = write('xnan.npy', encodeNpy(new Float32Array([0, NaN, 0, 0, 0, 0]), [3, 2]));
    e = await errorOf(loadNpyPair(xnan, y3));
    expect(e.message).toContain(xnan);
    expect(e.message).toMatch(/non-finite value NaN at flat index 1/);
  });
});
