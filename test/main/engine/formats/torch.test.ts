import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../../../../src/main/engine/errors.ts';
import { PyDict, unpickle } from '../../../../src/main/engine/formats/pickle.ts';
import {
  decodeTorchStateDict,
  readTorchStateDict,
} from '../../../../src/main/engine/formats/torch.ts';
import { openZip } from '../../../../src/main/engine/formats/zip.ts';

const FIX = path.join(import.meta.dirname, '..', '..', '..', 'fixtures', 'torch');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-torch-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Expected {
  shape: number[];
  dtype: string;
  values: number[];
}
const expected = JSON.parse(fs.readFileSync(path.join(FIX, 'expected.json'), 'utf8')) as Record<
  string,
  Record<string, Expected>
>;

function expectTensors(
  got: Map<string, { shape: number[]; data: Float32Array }>,
  want: Record<string, Expected>,
): void {
  expect([...got.keys()].sort()).toEqual(Object.keys(want).sort());
  for (const [name, w] of Object.entries(want)) {
    const t = got.get(name);
    expect(t?.shape, name).toEqual(w.shape);
    const values = Array.from(t?.data ?? []);
    expect(values.length, name).toBe(w.values.length);
    values.forEach((v, i) => expect(v, `${name}[${i}]`).toBeCloseTo(w.values[i], 6));
  }
}

/** A zip of stored or deflated entries, built by hand (`claimSize`: the uncompressed size claimed). */
function makeZip(
  files: { name: string; data: Uint8Array; deflate?: boolean; claimSize?: number }[],
  zip64 = false,
): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const f of files) {
    const name = new TextEncoder().encode(f.name);
    const body = f.deflate ? deflateRawSync(f.data) : f.data;
    const local = new Uint8Array(30 + name.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(8, f.deflate ? 8 : 0, true);
    lv.setUint16(26, name.length, true);
    local.set(name, 30);
    const extra = zip64 ? 20 : 0;
    const c = new Uint8Array(46 + name.length + extra);
    const cv = new DataView(c.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(10, f.deflate ? 8 : 0, true);
    cv.setUint32(16, crc32(f.data), true);
    cv.setUint32(20, zip64 ? 0xffffffff : body.length, true);
    cv.setUint32(24, zip64 ? 0xffffffff : (f.claimSize ?? f.data.length), true);
    cv.setUint16(28, name.length, true);
    cv.setUint16(30, extra, true);
    cv.setUint32(42, offset, true);
    c.set(name, 46);
    if (zip64) {
      // Zip64 extended information: uncompressed size, then compressed size, as u64.
      const x = 46 + name.length;
      cv.setUint16(x, 0x0001, true);
      cv.setUint16(x + 2, 16, true);
      cv.setBigUint64(x + 4, BigInt(f.claimSize ?? f.data.length), true);
      cv.setBigUint64(x + 12, BigInt(body.length), true);
    }
    parts.push(local, body);
    central.push(c);
    offset += local.length + body.length;
  }
  const cdSize = central.reduce((a, c) => a + c.length, 0);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, zip64 ? 0xffff : files.length, true);
  ev.setUint16(10, zip64 ? 0xffff : files.length, true);
  ev.setUint32(12, zip64 ? 0xffffffff : cdSize, true);
  ev.setUint32(16, zip64 ? 0xffffffff : offset, true);
  if (!zip64) return Buffer.concat([...parts, ...central, end]);
  const rec = new Uint8Array(56);
  const rv = new DataView(rec.buffer);
  rv.setUint32(0, 0x06064b50, true);
  rv.setBigUint64(4, 44n, true);
  rv.setBigUint64(24, BigInt(files.length), true);
  rv.setBigUint64(32, BigInt(files.length), true);
  rv.setBigUint64(40, BigInt(cdSize), true);
  rv.setBigUint64(48, BigInt(offset), true);
  const loc = new Uint8Array(20);
  const lv = new DataView(loc.buffer);
  lv.setUint32(0, 0x07064b50, true);
  lv.setBigUint64(8, BigInt(offset + cdSize), true);
  lv.setUint32(16, 1, true);
  return Buffer.concat([...parts, ...central, rec, loc, end]);
}

describe('zip reader', () => {
  it('reads stored and deflated entries', () => {
    const a = new TextEncoder().encode('hello hello hello hello');
    const zip = openZip(
      makeZip([
        { name: 'x/a.txt', data: a },
        { name: 'x/b.txt', data: a, deflate: true },
      ]),
      'mem.zip',
    );
    expect([...zip.entries.keys()]).toEqual(['x/a.txt', 'x/b.txt']);
    expect(new TextDecoder().decode(zip.read('x/b.txt'))).toBe('hello hello hello hello');
    expect(zip.entries.get('x/b.txt')?.method).toBe(8);
  });

  it('reads zip64 end records and size fields', () => {
    const a = new TextEncoder().encode('zip64 zip64 zip64');
    const bytes = makeZip(
      [
        { name: 'x/a', data: a, deflate: true },
        { name: 'x/b', data: a },
      ],
      true,
    );
    const zip = openZip(bytes, 'z64.zip');
    expect(zip.entries.get('x/a')?.size).toBe(a.length);
    expect(new TextDecoder().decode(zip.read('x/a'))).toBe('zip64 zip64 zip64');
    expect(new TextDecoder().decode(zip.read('x/b'))).toBe('zip64 zip64 zip64');
    // Without its locator the zip64 end record cannot be found.
    const cut = Buffer.concat([
      bytes.subarray(0, bytes.length - 42),
      bytes.subarray(bytes.length - 22),
    ]);
    expect(() => openZip(cut, 'z64.zip')).toThrow(/points to a zip64 record that is missing/);
  });

  it('refuses `..` names, absurd sizes, corrupt data and truncation', () => {
    const d = new Uint8Array([1, 2, 3]);
    expect(() => openZip(makeZip([{ name: 'a/../../etc/passwd', data: d }]), 'evil.zip')).toThrow(
      /evil\.zip: zip entry name "a\/\.\.\/\.\.\/etc\/passwd" is not a safe relative path/,
    );
    expect(() => openZip(makeZip([{ name: '/abs', data: d }]), 'abs.zip')).toThrow(/safe relative/);
    expect(() =>
      openZip(
        makeZip([{ name: 'big', data: d, deflate: true, claimSize: 0xfffffff0 }]),
        'bomb.zip',
        {
          maxEntryBytes: 1 << 20,
        },
      ),
    ).toThrow(/entry 'big' claims 4294967280 bytes uncompressed, more than the 1048576 accepted/);
    expect(() =>
      openZip(makeZip([{ name: 'x', data: d, deflate: true, claimSize: 1 << 20 }]), 'ratio.zip'),
    ).toThrow(/entry 'x' claims 1048576 bytes from \d+ compressed, more than deflate can give/);
    const good = makeZip([{ name: 'a', data: d }]);
    const flipped = good.slice();
    flipped[30 + 1] ^= 0xff; // one byte of the entry's data
    expect(() => openZip(flipped, 'bad.zip').read('a')).toThrow(/entry 'a' fails its CRC-32 check/);
    expect(() => openZip(good.subarray(0, good.length - 5), 'cut.zip')).toThrow(
      /cut\.zip: not a readable zip archive \(truncated or corrupt\): no end-of-central-directory/,
    );
  });
});

describe('restricted unpickler', () => {
  it('builds dicts, tuples and numbers and refuses unknown opcodes', () => {
    // {'a': (1, -2, 3.5)} in protocol 2, written out by hand.
    const bytes = Buffer.concat([
      Buffer.from([0x80, 2, 0x7d, 0x28, 0x8c, 1]),
      Buffer.from('a'),
      Buffer.from([0x4b, 1, 0x4a]),
      Buffer.from(new Int32Array([-2]).buffer),
      Buffer.from([0x47, 0x40, 0x0c, 0, 0, 0, 0, 0, 0, 0x87, 0x75, 0x2e]),
    ]);
    const v = unpickle(bytes, { globals: new Map(), where: 'mem' });
    expect(v).toBeInstanceOf(PyDict);
    const t = (v as PyDict).map.get('a') as unknown as { items: unknown[] };
    expect(t.items).toEqual([1, -2, 3.5]);
    // 'i' (INST) instantiates a class by name: never accepted.
    expect(() =>
      unpickle(Buffer.from('\x80\x02(ios\nsystem\n.', 'latin1'), {
        globals: new Map(),
        where: 'p',
      }),
    ).toThrow(/p: pickle: opcode 0x69 at byte 3 is not one a PyTorch state dict uses; refused/);
  });
});

describe('PyTorch state dicts', () => {
  it('reads a plain float32 state dict with the values torch saved', async () => {
    const sd = await readTorchStateDict(path.join(FIX, 'plain.pt'));
    expect([...sd.keys()]).toEqual([
      'module_list.0.weight',
      'module_list.0.bias',
      'module_list.2.weight',
      'module_list.2.bias',
    ]);
    expectTensors(sd, expected['plain.pt']);
    expect(sd.get('module_list.0.weight')?.dtype).toBe('float32');
  });

  it('converts float16, float64, bfloat16 and int64, follows strides and storage offsets', async () => {
    const sd = await readTorchStateDict(path.join(FIX, 'mixed.pt'));
    expectTensors(sd, expected['mixed.pt']);
    // base = arange(12).reshape(3, 4) / 8; its transpose is non-contiguous.
    expect(Array.from(sd.get('transposed')?.data ?? [])).toEqual(
      [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11].map((v) => v / 8),
    );
    expect(Array.from(sd.get('offset')?.data ?? [])).toEqual([5, 6, 9, 10].map((v) => v / 8));
    expect(sd.get('scalar')?.shape).toEqual([]);
    expect(sd.get('half')?.dtype).toBe('float16');
  });

  it("unwraps {'state_dict': …} checkpoints and DataParallel's 'module.' prefix", async () => {
    const sd = await readTorchStateDict(path.join(FIX, 'nested.pth'));
    expectTensors(sd, expected['nested.pth']);
  });

  it('refuses a malicious pickle, naming the global, and runs nothing', async () => {
    const cwd = process.cwd();
    process.chdir(tmp);
    try {
      const err = await readTorchStateDict(path.join(FIX, 'malicious.pt')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InputError);
      expect(String(err)).toMatch(
        /malicious\.pt \(malicious\/data\.pkl\): refused: the pickle names the global 'posix\.system'/,
      );
      expect(String(err)).toMatch(/nothing was run/);
      await expect(readTorchStateDict(path.join(FIX, 'malicious-eval.pt'))).rejects.toThrow(
        /refused: the pickle names the global '__builtin__\.eval'/,
      );
      expect(fs.readdirSync(tmp)).toEqual([]);
    } finally {
      process.chdir(cwd);
    }
  });

  it('refuses a truncated zip and files that are not torch.save archives', async () => {
    await expect(readTorchStateDict(path.join(FIX, 'truncated.pt'))).rejects.toThrow(
      /truncated\.pt: not a readable zip archive \(truncated or corrupt\)/,
    );
    const legacy = path.join(tmp, 'legacy.pt');
    fs.writeFileSync(legacy, Buffer.from([0x80, 0x02, 0x8a, 0x0a]));
    await expect(readTorchStateDict(legacy)).rejects.toThrow(/legacy \(pre-1\.6\) format/);
    await expect(readTorchStateDict(path.join(tmp, 'missing.pt'))).rejects.toThrow(
      /missing\.pt: cannot read PyTorch file/,
    );
    const noPkl = makeZip([{ name: 'x/data/0', data: new Uint8Array(4) }]);
    expect(() => decodeTorchStateDict(noPkl, 'nopkl.pt')).toThrow(/no <name>\/data\.pkl entry/);
  });

  it('answers every truncation and byte flip of a real file with an InputError or the right tensors', () => {
    const plain = fs.readFileSync(path.join(FIX, 'plain.pt'));
    const reference = decodeTorchStateDict(plain, 'plain.pt');
    const outcomes = new Set<string>();
    const attempt = (bytes: Uint8Array): void => {
      try {
        expect(decodeTorchStateDict(bytes, 'fuzz.pt')).toEqual(reference);
        outcomes.add('ok');
      } catch (err) {
        expect(err, String(err)).toBeInstanceOf(InputError);
        outcomes.add('refused');
      }
    };
    for (let n = 0; n < plain.length; n++) attempt(plain.subarray(0, n));
    for (let i = 0; i < plain.length; i += 3) {
      const b = Uint8Array.from(plain);
      b[i] ^= 0x5a;
      attempt(b);
    }
    expect(outcomes.has('refused')).toBe(true);
  });

  it('refuses a tensor that reaches past its storage', () => {
    const plain = fs.readFileSync(path.join(FIX, 'plain.pt'));
    const zip = openZip(plain, 'plain.pt');
    const pkl = Buffer.from(zip.read('plain/data.pkl'));
    // Storage '0' claims 12 elements (BININT1 12 after 'cpu'); make it 2 so [3, 4] overruns.
    const at = pkl.indexOf(Buffer.from([0x4b, 12, 0x74]));
    expect(at).toBeGreaterThan(0);
    pkl[at + 1] = 2;
    const files = [...zip.entries.keys()].map((name) => ({
      name,
      data: name === 'plain/data.pkl' ? new Uint8Array(pkl) : zip.read(name),
    }));
    expect(() => decodeTorchStateDict(makeZip(files), 'overrun.pt')).toThrow(
      /a tensor of shape \[3, 4\] reaches element 11 of storage '0', which has 2/,
    );
  });
});
