// Property-style fuzzing of the file readers: seeded mutations of valid files must either decode
// or fail with the readers' typed InputError, never another error, a hang or a huge allocation.
// D2NWG_FUZZ_CASES (default 500 per parser) and D2NWG_FUZZ_SEED (default 1) widen or vary a run;
// a failure names the parser, the seed and the case index, which reproduce it exactly.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idxToLabelled, decodeIdx, checkLabels } from '../../../../src/main/engine/data/idx.ts';
import { loadCsv } from '../../../../src/main/engine/data/features-file.ts';
import { InputError } from '../../../../src/main/engine/errors.ts';
import { decodeNpy, encodeNpy } from '../../../../src/main/engine/formats/npy.ts';
import {
  decodeSafetensors,
  encodeSafetensors,
} from '../../../../src/main/engine/formats/safetensors.ts';
import { Rng } from '../../../../src/main/engine/rng.ts';
import { gzip, idxBytes, tempDir } from '../../../fixtures/datagen.ts';

const CASES = Number(process.env.D2NWG_FUZZ_CASES ?? 500);
const SEED = Number(process.env.D2NWG_FUZZ_SEED ?? 1);
/** A single decode taking longer than this counts as a hang. */
const MAX_CASE_MS = 5_000;

const enc = new TextEncoder();
/** Byte strings that tend to find parser bugs: huge or negative numbers, nesting, special keys. */
const TOKENS = [
  '9'.repeat(400),
  '18446744073709551616',
  '4294967296',
  '2147483647',
  '-1',
  '1e308',
  'NaN',
  'Infinity',
  '0.5',
  '[[[[[[[[[[[[[[[[',
  '{{{{{{{{',
  '"__proto__"',
  '"constructor"',
  '\\',
  '"',
  ',',
  '(',
  ')',
  'L',
  '\u0000',
  '\u00ff\u00fe',
].map((t) => enc.encode(t));
const BYTES = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x08, 0x0c, 0x0e, 0x22, 0x2c, 0x5b, 0x7b];

/** One random edit of `b`: a bit flip, a special byte, a token, a deletion, a copy or a cut. */
function mutateOnce(rng: Rng, b: Uint8Array): Uint8Array {
  const pos = b.length > 0 ? rng.int(b.length) : 0;
  switch (rng.int(7)) {
    case 0: {
      const out = b.slice();
      if (out.length > 0) out[pos] ^= 1 << rng.int(8);
      return out;
    }
    case 1: {
      const out = b.slice();
      if (out.length > 0) out[pos] = BYTES[rng.int(BYTES.length)];
      return out;
    }
    case 2: {
      const t = TOKENS[rng.int(TOKENS.length)];
      const replace = rng.int(2) === 0 ? 0 : Math.min(t.length, b.length - pos);
      return concat(b.subarray(0, pos), t, b.subarray(pos + replace));
    }
    case 3: {
      const len = 1 + rng.int(Math.max(1, Math.min(16, b.length - pos)));
      return concat(b.subarray(0, pos), b.subarray(pos + len));
    }
    case 4: {
      const len = 1 + rng.int(Math.max(1, Math.min(32, b.length - pos)));
      const at = b.length > 0 ? rng.int(b.length) : 0;
      return concat(b.subarray(0, at), b.subarray(pos, pos + len), b.subarray(at));
    }
    case 5:
      return b.subarray(0, pos).slice();
    default: {
      // Overwrite 4 or 8 bytes with a random little- or big-endian integer (lengths, dims).
      const out = b.slice();
      const n = rng.int(2) === 0 ? 4 : 8;
      for (let i = 0; i < n && pos + i < out.length; i++) out[pos + i] = rng.int(256);
      return out;
    }
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** 1 to 4 edits of a seed input chosen at random. */
function mutate(rng: Rng, seeds: readonly Uint8Array[]): Uint8Array {
  let b = seeds[rng.int(seeds.length)];
  const edits = 1 + rng.int(4);
  for (let i = 0; i < edits; i++) b = mutateOnce(rng, b);
  return b;
}

/**
 * Run `CASES` mutated inputs through `parse`; every throw must be an InputError. Counts how many
 * decoded and how many were refused, and fails with the parser, seed and case index otherwise.
 */
async function fuzz(
  name: string,
  seeds: readonly Uint8Array[],
  parse: (bytes: Uint8Array, i: number) => unknown,
): Promise<{ ok: number; refused: number }> {
  // Seeds must decode, or the fuzzing only exercises the first check.
  for (const [i, s] of seeds.entries()) await parse(s, -1 - i);
  const rng = new Rng(SEED).fork(name);
  let ok = 0;
  let refused = 0;
  for (let i = 0; i < CASES; i++) {
    const input = mutate(rng, seeds);
    const t0 = performance.now();
    try {
      await parse(input, i);
      ok++;
    } catch (err) {
      if (!(err instanceof InputError)) {
        throw new Error(
          `${name} fuzz case ${i} (D2NWG_FUZZ_SEED=${SEED}) threw ${String(err)} instead of an InputError`,
          { cause: err },
        );
      }
      refused++;
    }
    const ms = performance.now() - t0;
    if (ms > MAX_CASE_MS) {
      throw new Error(`${name} fuzz case ${i} (D2NWG_FUZZ_SEED=${SEED}) took ${ms.toFixed(0)} ms`);
    }
  }
  return { ok, refused };
}

let dir = '';
beforeAll(() => {
  dir = tempDir('fuzz');
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe(`reader fuzzing (${CASES} mutated inputs per parser, seed ${SEED})`, () => {
  it('safetensors: decodes or refuses with an InputError', async () => {
    const seeds = [
      encodeSafetensors(
        {
          w: { dtype: 'F32', shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
          b: { dtype: 'I64', shape: [2], data: new BigInt64Array([1n, -2n]) },
          m: { dtype: 'BOOL', shape: [3], data: new Uint8Array([0, 1, 1]) },
          h: { dtype: 'F16', shape: [1], data: new Uint16Array([0x3c00]) },
        },
        { format: 'pt', note: 'seed' },
      ),
      encodeSafetensors({ e: { dtype: 'U8', shape: [0], data: new Uint8Array(0) } }),
    ];
    const r = await fuzz('safetensors', seeds, (b) =>
      decodeSafetensors(b, 'fuzz.safetensors', { checkFinite: true }),
    );
    expect(r.ok + r.refused).toBe(CASES);
    expect(r.refused).toBeGreaterThan(0);
  });

  it('.npy: decodes or refuses with an InputError; decoded 1-D labels check cleanly', async () => {
    const seeds = [
      encodeNpy(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]),
      encodeNpy(new BigInt64Array([0n, 1n, 2n]), [3]),
      encodeNpy(new Uint8Array([0, 255, 7, 9]), [1, 2, 2]),
      encodeNpy(new Int32Array([3, 1]), [2]),
    ];
    const r = await fuzz('npy', seeds, (b) => {
      const a = decodeNpy(b, 'fuzz.npy');
      expect(a.shape.every((d) => Number.isSafeInteger(d) && d >= 0)).toBe(true);
      if (a.shape.length === 1 && !(a.data instanceof BigInt64Array)) {
        checkLabels(a.data, 'fuzz.npy');
      }
      return a;
    });
    expect(r.ok + r.refused).toBe(CASES);
  });

  const images = decodeIdx(idxBytes(0x08, [3, 2, 2], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]), 'i');
  const idxSeeds = [
    idxBytes(0x08, [3], [0, 1, 2]),
    idxBytes(0x0c, [3], [2, 0, 1]),
    idxBytes(0x0b, [3], [1, 1, 0]),
    idxBytes(0x08, [3, 2, 2], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
  ];
  /** Decode IDX bytes, and when they are a label vector, pair them with 3 images. */
  const parseIdx = (b: Uint8Array) => {
    const a = decodeIdx(b, 'fuzz.idx');
    expect(a.dims.every((d) => Number.isSafeInteger(d) && d >= 0)).toBe(true);
    if (a.dims.length === 1 && a.dims[0] === 3) idxToLabelled(images, a, 'images', 'fuzz.idx');
    return a;
  };

  it('IDX (raw): decodes or refuses with an InputError', async () => {
    const r = await fuzz('idx', idxSeeds, parseIdx);
    expect(r.ok + r.refused).toBe(CASES);
  });

  it('IDX (gzip): mutated content and mutated gzip streams both end in an InputError', async () => {
    const rng = new Rng(SEED).fork('idx-gzip-content');
    // Half the cases mutate the IDX bytes inside a valid gzip stream, half the stream itself.
    const r = await fuzz('idx-gzip', idxSeeds.map(gzip), (b, i) =>
      i >= 0 && i % 2 === 0 ? parseIdx(gzip(mutate(rng, idxSeeds))) : parseIdx(b),
    );
    expect(r.ok + r.refused).toBe(CASES);
  });

  it('CSV: loads or refuses with an InputError', async () => {
    const seeds = [
      'a,b,label\n1,2,0\n3.5,-4e1,2\n5,6,1\n',
      'label,x,"y, quoted"\r\ncat,1,2\r\n"dog",3,4\r\n',
      '1,2,0\n3,4,1\n',
    ].map((s) => enc.encode(s));
    const file = path.join(dir, 'fuzz.csv');
    const r = await fuzz('csv', [...seeds, ...seeds.map(gzip)], async (b, i) => {
      fs.writeFileSync(file, b);
      const d = await loadCsv(file, { header: i % 3 !== 2 });
      expect(d.classNames.length).toBeLessThanOrEqual(10_000);
      return d;
    });
    expect(r.ok + r.refused).toBe(CASES);
  });
});
