import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../../../src/main/engine/errors.ts';
import {
  bf16ToNumber,
  decodeSafetensors,
  encodeSafetensors,
  f16ToNumber,
  fromF32,
  MAX_HEADER_DEPTH,
  numberToBf16,
  numberToF16,
  readSafetensors,
  toF32,
  writeSafetensors,
  type StTensor,
} from '../../../../src/main/engine/formats/safetensors.ts';

/** Build a safetensors file by hand: u64 LE header length, header text, then raw bytes. */
function handMade(header: string, data: number[] | Uint8Array): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

let dir = '';
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-st-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('decodeSafetensors on hand-made bytes', () => {
  it('decodes a single F32 tensor and metadata', () => {
    const bytes = handMade(
      '{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}',
      f32Bytes([1.5, -2]),
    );
    const { tensors, metadata } = decodeSafetensors(bytes, 'hand.safetensors');
    expect(metadata).toEqual({ format: 'pt' });
    expect(tensors.a.dtype).toBe('F32');
    expect(tensors.a.shape).toEqual([2]);
    expect([...tensors.a.data]).toEqual([1.5, -2]);
  });

  it('decodes two tensors of different dtypes listed out of order, at an odd byte offset', () => {
    const data = new Uint8Array([7, 0, 0, 0, 9, 0, 0, 0, 0xff, 0x01]);
    const bytes = handMade(
      '{"b":{"dtype":"I8","shape":[2],"data_offsets":[8,10]},"a":{"dtype":"I32","shape":[2,1],"data_offsets":[0,8]}}',
      data,
    );
    // Header length 103 makes the data start unaligned; decoding must still work.
    const { tensors } = decodeSafetensors(bytes);
    expect([...tensors.a.data]).toEqual([7, 9]);
    expect(tensors.a.shape).toEqual([2, 1]);
    expect([...tensors.b.data]).toEqual([-1, 1]);
  });

  it('decodes F16 and BF16 bit patterns to the right values', () => {
    // F16 0x3c00 = 1, 0xc000 = -2; BF16 0x3f80 = 1, 0x4040 = 3
    const data = new Uint8Array([0x00, 0x3c, 0x00, 0xc0, 0x80, 0x3f, 0x40, 0x40]);
    const bytes = handMade(
      '{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[4,8]}}',
      data,
    );
    const { tensors } = decodeSafetensors(bytes);
    expect([...toF32(tensors.h)]).toEqual([1, -2]);
    expect([...toF32(tensors.b)]).toEqual([1, 3]);
  });
});

describe('encodeSafetensors round trips', () => {
  const all: Record<string, StTensor> = {
    f64: { dtype: 'F64', shape: [2, 2], data: new Float64Array([1e-300, -2, 3.25, Math.PI]) },
    f32: { dtype: 'F32', shape: [3], data: new Float32Array([0.5, -1, 1e30]) },
    f16: { dtype: 'F16', shape: [2], data: new Uint16Array([0x3c00, 0x7bff]) },
    bf16: { dtype: 'BF16', shape: [1, 2], data: new Uint16Array([0x3f80, 0xc2f7]) },
    i64: { dtype: 'I64', shape: [2], data: new BigInt64Array([-(2n ** 62n), 5n]) },
    i32: { dtype: 'I32', shape: [2], data: new Int32Array([-2147483648, 2147483647]) },
    i16: { dtype: 'I16', shape: [2], data: new Int16Array([-32768, 32767]) },
    i8: { dtype: 'I8', shape: [3], data: new Int8Array([-128, 0, 127]) },
    u8: { dtype: 'U8', shape: [2], data: new Uint8Array([0, 255]) },
    bool: { dtype: 'BOOL', shape: [3], data: new Uint8Array([1, 0, 1]) },
    empty: { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
  };

  it('keeps every dtype, shape and value, and pads the header to 8 bytes', () => {
    const bytes = encodeSafetensors(all, { note: 'x' });
    const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLen % 8).toBe(0);
    const back = decodeSafetensors(bytes, 'rt');
    expect(back.metadata).toEqual({ note: 'x' });
    expect(Object.keys(back.tensors).sort()).toEqual(Object.keys(all).sort());
    for (const [name, t] of Object.entries(all)) {
      expect(back.tensors[name].dtype, name).toBe(t.dtype);
      expect(back.tensors[name].shape, name).toEqual(t.shape);
      expect(back.tensors[name].data.constructor, name).toBe(t.data.constructor);
      expect([...back.tensors[name].data], name).toEqual([...t.data]);
    }
  });

  it('is deterministic and every tensor starts on its natural alignment', () => {
    const a = encodeSafetensors(all);
    const b = encodeSafetensors(all);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    const n = Number(new DataView(a.buffer).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(a.subarray(8, 8 + n))) as Record<
      string,
      { dtype: string; data_offsets: [number, number] }
    >;
    const size: Record<string, number> = {
      F64: 8,
      I64: 8,
      F32: 4,
      I32: 4,
      F16: 2,
      BF16: 2,
      I16: 2,
    };
    for (const e of Object.values(header)) {
      expect((8 + n + e.data_offsets[0]) % (size[e.dtype] ?? 1)).toBe(0);
    }
  });

  it('writes atomically and reads back from disk', async () => {
    const p = path.join(dir, 'w.safetensors');
    await writeSafetensors(p, { w: all.f32 }, { arch: 'mlp' });
    const back = await readSafetensors(p);
    expect([...back.tensors.w.data]).toEqual([...all.f32.data]);
    expect(back.metadata.arch).toBe('mlp');
  });

  it('refuses to encode data whose array type or length does not match', () => {
    expect(() =>
      encodeSafetensors({ a: { dtype: 'F64', shape: [1], data: new Float32Array(1) } }),
    ).toThrow(/needs a Float64Array/);
    expect(() =>
      encodeSafetensors({ a: { dtype: 'F32', shape: [3], data: new Float32Array(2) } }),
    ).toThrow(/3 elements but data has 2/);
  });
});

describe('tensor names that are Object.prototype keys', () => {
  it("round-trips tensors named '__proto__', 'constructor' and 'toString' as ordinary entries", () => {
    const t = (v: number): StTensor => ({ dtype: 'F32', shape: [1], data: new Float32Array([v]) });
    // Keys typed as plain strings, so TypeScript does not read them as Object.prototype members.
    const names: string[] = ['__proto__', 'constructor', 'toString', 'hasOwnProperty'];
    const input = Object.create(null) as Record<string, StTensor>;
    names.forEach((k, i) => (input[k] = t(i + 1)));
    const meta = Object.create(null) as Record<string, string>;
    meta[names[0]] = 'm';
    const bytes = encodeSafetensors(input, meta);
    const { tensors, metadata } = decodeSafetensors(bytes, 'proto.safetensors');
    expect(Object.keys(tensors).sort()).toEqual([...names].sort());
    expect(Object.getPrototypeOf(tensors)).toBeNull();
    names.forEach((k, i) => expect([...tensors[k].data]).toEqual([i + 1]));
    expect(Object.keys(metadata)).toEqual(['__proto__']);
    expect(metadata['__proto__']).toBe('m');
  });

  it("decodes a hand-made '__proto__' tensor as an entry, not as the result's prototype", () => {
    const bytes = handMade(
      '{"__proto__":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}',
      f32Bytes([5, 6]),
    );
    const { tensors } = decodeSafetensors(bytes, 'hand.safetensors');
    expect(Object.keys(tensors)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(tensors)).toBeNull();
    expect([...tensors['__proto__'].data]).toEqual([5, 6]);
  });
});

describe('half-precision conversions', () => {
  it('round-trips exactly representable values and rounds others to nearest', () => {
    for (const v of [0, 1, -1, 0.5, 65504, -65504, 2 ** -24, 2 ** -14, 1.5, 1024]) {
      expect(f16ToNumber(numberToF16(v))).toBe(v);
    }
    expect(f16ToNumber(numberToF16(1e6))).toBe(Infinity);
    expect(Number.isNaN(f16ToNumber(numberToF16(NaN)))).toBe(true);
    expect(Math.abs(f16ToNumber(numberToF16(0.1)) - 0.1)).toBeLessThan(1e-4);
    for (const v of [0, 1, -3, 0.15625, 1e30]) {
      expect(Math.abs(bf16ToNumber(numberToBf16(v)) - v)).toBeLessThanOrEqual(Math.abs(v) / 128);
    }
    const t = fromF32(new Float32Array([1, 2, -0.5]), [3], 'F16');
    expect([...toF32(t)]).toEqual([1, 2, -0.5]);
    const b = fromF32(new Float32Array([1, 2, -0.5]), [3], 'BF16');
    expect([...toF32(b)]).toEqual([1, 2, -0.5]);
    expect([...toF32({ dtype: 'I64', shape: [2], data: new BigInt64Array([3n, -4n]) })]).toEqual([
      3, -4,
    ]);
  });
});

describe('decodeSafetensors rejects corrupt files, naming file and tensor', () => {
  const F = 'bad.safetensors';
  const ok = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
  const cases: [string, Uint8Array, RegExp][] = [
    ['shorter than 8 bytes', new Uint8Array(3), /shorter than the 8-byte header length/],
    [
      'header length beyond the file',
      (() => {
        const b = handMade(ok, f32Bytes([1, 2]));
        new DataView(b.buffer).setBigUint64(0, 10_000n, true);
        return b;
      })(),
      /header length field exceeds the \d+ bytes after it/,
    ],
    ['non-JSON header', handMade('{"a": nope}', []), /header is not JSON/],
    ['header not an object', handMade('[1,2]', []), /not an object/],
    [
      'unknown dtype',
      handMade('{"a":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}}', [0, 0]),
      /tensor 'a': unknown or unsupported dtype "F8_E4M3"/,
    ],
    [
      'shape × dtype ≠ span',
      handMade('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', f32Bytes([1, 2])),
      /tensor 'a': shape \[3\] × F32 needs 12 bytes but data_offsets span 8/,
    ],
    [
      'offsets out of range',
      handMade('{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}', f32Bytes([1, 2])),
      /tensor 'a': data_offsets \[0, 16\] out of range: the data buffer has 8 bytes/,
    ],
    [
      'overlapping tensors',
      handMade(
        '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
        f32Bytes([1, 2]),
      ),
      /tensor 'b': data_offsets \[4, 8\] overlap tensor 'a'/,
    ],
    [
      'gap in the buffer',
      handMade('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', f32Bytes([1, 2])),
      /tensor 'a': gap of 4 unused bytes/,
    ],
    [
      'trailing bytes not covered',
      handMade(ok, f32Bytes([1, 2, 3])),
      /tensors cover 8 bytes but the data buffer has 12/,
    ],
    [
      'end before begin',
      handMade('{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}', f32Bytes([1, 2])),
      /tensor 'a': data_offsets \[8, 0\] end before begin/,
    ],
    [
      'bad shape',
      handMade('{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}', f32Bytes([1, 2])),
      /tensor 'a': shape \[-2\] is not a list/,
    ],
    [
      'BOOL byte other than 0/1',
      handMade('{"m":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}}', [1, 7]),
      /tensor 'm': BOOL value 7 at flat index 1 is not 0 or 1/,
    ],
    [
      'non-string metadata',
      handMade('{"__metadata__":{"n":3}}', []),
      /__metadata__ 'n' is not a string/,
    ],
  ];
  for (const [label, bytes, re] of cases) {
    it(label, () => {
      let err: unknown;
      try {
        decodeSafetensors(bytes, F);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InputError);
      expect((err as Error).message).toContain(F);
      expect((err as Error).message).toMatch(re);
    });
  }

  it('checkFinite rejects NaN/Inf naming the tensor, and accepts them without the option', () => {
    const bytes = handMade(
      '{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}',
      f32Bytes([1, Number.NaN]),
    );
    expect(() => decodeSafetensors(bytes, F, { checkFinite: true })).toThrow(
      /bad\.safetensors: .*tensor 'w': non-finite value NaN at flat index 1/,
    );
    const inf16 = handMade('{"h":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}', [0x00, 0x7c]);
    expect(() => decodeSafetensors(inf16, F, { checkFinite: true })).toThrow(
      /tensor 'h': non-finite value Infinity/,
    );
    expect(Number.isNaN(decodeSafetensors(bytes, F).tensors.w.data[1])).toBe(true);
  });

  it('refuses a deeply nested header with an InputError, not a stack overflow', () => {
    const deep = (d: number) => '['.repeat(d) + ']'.repeat(d);
    const headers = [
      `{"a":{"dtype":${deep(50_000)},"shape":[1],"data_offsets":[0,4]}}`,
      `{"a":{"dtype":"F32","shape":${deep(50_000)},"data_offsets":[0,4]}}`,
      `{"a":{"dtype":"F32","shape":[1],"data_offsets":${deep(50_000)}}}`,
      `{"__metadata__":{"k":${deep(50_000)}}}`,
      `{"a":${'{"b":'.repeat(50_000)}1${'}'.repeat(50_000)}}`,
    ];
    for (const h of headers) {
      let err: unknown;
      try {
        decodeSafetensors(handMade(h, f32Bytes([1])), F);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InputError);
      expect((err as Error).message).toMatch(
        new RegExp(
          `^${F.replace('.', '\\.')}: .*header JSON nests deeper than ${MAX_HEADER_DEPTH} levels`,
        ),
      );
    }
    // Brackets inside strings do not count; a header at the limit still parses.
    const inString = `{"__metadata__":{"k":"${'['.repeat(1000)}"},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`;
    expect(decodeSafetensors(handMade(inString, f32Bytes([1])), F).metadata.k).toHaveLength(1000);
  });

  it('keeps error messages short and free of the header text', () => {
    let err: unknown;
    try {
      decodeSafetensors(handMade('{"a": PASSWORD=hunter2}', []), F);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).not.toContain('hunter2');
    const longDtype = `{"a":{"dtype":"${'x'.repeat(10_000)}","shape":[1],"data_offsets":[0,4]}}`;
    expect(() => decodeSafetensors(handMade(longDtype, f32Bytes([1])), F)).toThrow(
      /unknown or unsupported dtype a 10000-character string/,
    );
    // The first 8 bytes of a text file are not echoed as a header length.
    const text = new TextEncoder().encode('root:x:0:0:root:/root:/bin/bash\n');
    expect(() => decodeSafetensors(text, F)).toThrow(
      /^bad\.safetensors: [^0-9]*\d+ bytes after it$/,
    );
  });

  it('readSafetensors names a missing file', async () => {
    const p = path.join(dir, 'nope.safetensors');
    await expect(readSafetensors(p)).rejects.toThrow(InputError);
    await expect(readSafetensors(p)).rejects.toThrow(p);
  });
});
