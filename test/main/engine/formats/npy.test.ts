import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../../../src/main/engine/errors.ts';
import {
  decodeNpy,
  encodeNpy,
  readNpy,
  writeNpy,
} from '../../../../src/main/engine/formats/npy.ts';

/** A .npy v1.0 file built by hand, as numpy would write it. */
function handNpy(header: string, data: Uint8Array): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(10 + h.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  new DataView(out.buffer).setUint16(8, h.length, true);
  out.set(h, 10);
  out.set(data, 10 + h.length);
  return out;
}

let dir = '';
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-npy-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('npy', () => {
  it('round-trips every supported array type with its shape', () => {
    const arrays = [
      [new Float32Array([1, 2.5, -3, 4, 5, 6]), [2, 3], '<f4'],
      [new Float64Array([Math.PI, -1e300]), [2], '<f8'],
      [new Int32Array([-5, 7, 9, 11]), [2, 2], '<i4'],
      [new Uint8Array([0, 255, 3]), [3], '|u1'],
      [new BigInt64Array([-(2n ** 60n), 3n]), [2, 1], '<i8'],
      [new Int8Array([-128, 127]), [2], '|i1'],
      [new Int16Array([-300, 300]), [1, 2], '<i2'],
      [new Float32Array(0), [0, 5], '<f4'],
    ] as const;
    for (const [data, shape, dtype] of arrays) {
      const bytes = encodeNpy(data, shape);
      const headerLen = new DataView(bytes.buffer).getUint16(8, true);
      expect((10 + headerLen) % 64).toBe(0);
      expect(bytes[10 + headerLen - 1]).toBe(0x0a);
      const back = decodeNpy(bytes, 'rt.npy');
      expect(back.dtype).toBe(dtype);
      expect(back.shape).toEqual([...shape]);
      expect([...back.data]).toEqual([...data]);
    }
  });

  it('writes a header numpy understands', () => {
    const bytes = encodeNpy(new Float32Array(3), [3]);
    const header = new TextDecoder().decode(bytes.subarray(10, 10 + 118));
    expect(header).toContain("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }");
  });

  it('reads hand-made big-endian and scalar files', () => {
    const be = new Uint8Array([0x3f, 0x80, 0, 0, 0xc0, 0, 0, 0]); // >f4 1, -2
    const a = decodeNpy(handNpy("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }\n", be));
    expect(a.dtype).toBe('<f4');
    expect([...a.data]).toEqual([1, -2]);
    const bi = decodeNpy(
      handNpy(
        "{'descr': '>i2', 'fortran_order': False, 'shape': (1, 1), }\n",
        new Uint8Array([1, 2]),
      ),
    );
    expect([...bi.data]).toEqual([258]);
    const scalar = decodeNpy(
      handNpy(
        "{'descr': '<i4', 'fortran_order': False, 'shape': (), }\n",
        new Uint8Array([5, 0, 0, 0]),
      ),
    );
    expect(scalar.shape).toEqual([]);
    expect([...scalar.data]).toEqual([5]);
  });

  it('writes and reads files', async () => {
    const p = path.join(dir, 'x.npy');
    await writeNpy(p, new Float64Array([1, 2]), [2]);
    expect([...(await readNpy(p)).data]).toEqual([1, 2]);
    await expect(readNpy(path.join(dir, 'missing.npy'))).rejects.toThrow(/missing\.npy/);
  });

  const bad: [string, Uint8Array, RegExp][] = [
    ['bad magic', new Uint8Array(20), /missing the \\x93NUMPY magic/],
    [
      'unsupported dtype',
      handNpy("{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }\n", new Uint8Array(16)),
      /unsupported dtype '<c16'/,
    ],
    [
      'unicode dtype',
      handNpy("{'descr': '<U3', 'fortran_order': False, 'shape': (1,), }\n", new Uint8Array(12)),
      /unsupported dtype '<U3'/,
    ],
    [
      'fortran order',
      handNpy("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }\n", new Uint8Array(4)),
      /fortran_order True \(dtype <f4\) is not supported/,
    ],
    [
      'truncated data',
      handNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }\n", new Uint8Array(8)),
      /truncated data: shape \(3\) of <f4 needs 12 bytes, found 8/,
    ],
    [
      'header beyond file',
      (() => {
        const b = handNpy(
          "{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }\n",
          new Uint8Array(0),
        );
        new DataView(b.buffer).setUint16(8, 4000, true);
        return b;
      })(),
      /header length 4000 runs past the end/,
    ],
    [
      'header without shape',
      handNpy("{'descr': '<f4', 'fortran_order': False}\n", new Uint8Array(0)),
      /lacks descr, fortran_order or shape/,
    ],
  ];
  const npyHeader = (shape: string) =>
    handNpy(`{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }\n`, new Uint8Array(0));
  bad.push(
    [
      'a 400-digit dimension beside a zero',
      npyHeader(`(0, ${'9'.repeat(400)})`),
      /shape entry 1 is larger than the 2147483647/,
    ],
    ['a 400-digit dimension alone', npyHeader(`(${'9'.repeat(400)},)`), /shape entry 0 is larger/],
    [
      'a dimension of 2^31',
      npyHeader('(2147483648,)'),
      /shape entry 0 is larger than the 2147483647/,
    ],
    ['a dimension of 2^53 + 1', npyHeader('(0, 9007199254740993)'), /shape entry 1 is larger/],
    [
      'an uncountable element count',
      npyHeader('(0, 2147483647, 2147483647, 2147483647)'),
      /more elements than can be counted exactly/,
    ],
    [
      '33 dimensions',
      npyHeader(`(${Array(33).fill('1').join(', ')})`),
      /33 dimensions; at most 32/,
    ],
    [
      'a header whose text would leak',
      handNpy(
        "{'descr': '<f4', 'fortran_order': False, 'PASSWORD': 'hunter2'}\n",
        new Uint8Array(0),
      ),
      /^weights\.npy: not a readable \.npy file: header \(\d+ bytes\) lacks descr, fortran_order or shape$/,
    ],
    [
      'a long dtype',
      handNpy(
        `{'descr': '<${'x'.repeat(5000)}', 'fortran_order': False, 'shape': (1,), }\n`,
        new Uint8Array(4),
      ),
      /unsupported dtype of 5001 characters/,
    ],
  );
  it('reads a zero-size array with a large but valid second dimension', () => {
    const a = decodeNpy(npyHeader('(0, 2147483647)'), 'ok.npy');
    expect(a.shape).toEqual([0, 2147483647]);
    expect(a.data.length).toBe(0);
  });
  for (const [label, bytes, re] of bad) {
    it(`rejects ${label} naming the file`, () => {
      let err: unknown;
      try {
        decodeNpy(bytes, 'weights.npy');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InputError);
      expect((err as Error).message).toContain('weights.npy');
      expect((err as Error).message).toMatch(re);
    });
  }
});
