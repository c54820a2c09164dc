/**
 * Seeded fuzzing of every reader of user files: mutated copies of valid inputs must either decode
 * or fail with a typed InputError naming the file, never another error, a hang or a huge
 * allocation. One definition shared by the test suite (a few hundred cases per parser) and
 * `d2nwg bench reliability` (ten thousand or more); a failure names the parser, the seed and the
 * case index, which reproduce it exactly.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { ArchitectureSchema, ZOO_FORMAT, type ZooManifest } from '../../shared/schemas/zoo.ts';
import { registry } from '../../shared/nodes/registry.ts';
import { checkLabels, decodeIdx, idxBytes, idxToLabelled } from '../engine/data/idx.ts';
import { decodeImage } from '../engine/data/imagefolder.ts';
import { resourcesDir } from '../engine/data/sources.ts';
import { loadCsv } from '../engine/data/features-file.ts';
import { InputError } from '../engine/errors.ts';
import { decodeNpy, encodeNpy } from '../engine/formats/npy.ts';
import { decodeSafetensors, encodeSafetensors } from '../engine/formats/safetensors.ts';
import { decodeTorchStateDict } from '../engine/formats/torch.ts';
import {
  architectureToJson,
  layoutOf,
  layoutToJson,
  resolveArchitecture,
} from '../engine/nn/architecture.ts';
import { Rng } from '../engine/rng.ts';
import { readZooManifest, shardName } from '../engine/zoo/storage.ts';
import { loadPipelineFile } from '../graph/load.ts';

/** A single decode taking longer than this counts as a hang. */
export const MAX_CASE_MS = 5_000;

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
export function mutate(rng: Rng, seeds: readonly Uint8Array[]): Uint8Array {
  let b = seeds[rng.int(seeds.length)];
  const edits = 1 + rng.int(4);
  for (let i = 0; i < edits; i++) b = mutateOnce(rng, b);
  return b;
}

/** A property of a decoded value that must hold; broken, it is a fuzz failure (not an InputError). */
function invariant(ok: boolean, what: string): void {
  if (!ok) throw new Error(`invariant broken: ${what}`);
}

/** Where a parser may write its input (readers of files and folders); one per fuzz run. */
export interface FuzzContext {
  readonly dir: string;
}

/** A reader under fuzz: valid seed inputs and how to parse one input (case -1-k: seed k). */
export interface FuzzTarget {
  readonly name: string;
  /** The file name errors must mention. */
  readonly fileName: string;
  seeds(ctx: FuzzContext): Uint8Array[] | Promise<Uint8Array[]>;
  parse(bytes: Uint8Array, i: number, ctx: FuzzContext, rng: Rng): unknown;
}

const images = decodeIdx(idxBytes(0x08, [3, 2, 2], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]), 'i');
const idxSeeds = [
  idxBytes(0x08, [3], [0, 1, 2]),
  idxBytes(0x0c, [3], [2, 0, 1]),
  idxBytes(0x0b, [3], [1, 1, 0]),
  idxBytes(0x08, [3, 2, 2], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
];
/** Decode IDX bytes, and when they are a label vector, pair them with 3 images. */
function parseIdx(b: Uint8Array): unknown {
  const a = decodeIdx(b, 'fuzz.idx');
  invariant(
    a.dims.every((d) => Number.isSafeInteger(d) && d >= 0),
    'IDX dims are safe integers',
  );
  if (a.dims.length === 1 && a.dims[0] === 3) idxToLabelled(images, a, 'images', 'fuzz.idx');
  return a;
}

function pngBytes(w: number, h: number): Uint8Array {
  const png = new PNG({ width: w, height: h });
  for (let i = 0; i < png.data.length; i++) png.data[i] = (i * 37) & 0xff;
  return new Uint8Array(PNG.sync.write(png));
}

function jpegBytes(w: number, h: number): Uint8Array {
  const data = new Uint8Array(w * h * 4);
  for (let i = 0; i < data.length; i++) data[i] = (i * 53) & 0xff;
  return new Uint8Array(jpeg.encode({ width: w, height: h, data }, 90).data);
}

/** A valid manifest of a 3-member zoo of MLPs 4→3→2 (the shards are not read). */
function zooManifest(): ZooManifest {
  const arch = resolveArchitecture(ArchitectureSchema.parse({ kind: 'mlp', hidden: [3] }), [4], 2);
  const layout = layoutOf(arch);
  return {
    format: ZOO_FORMAT,
    created: '2026-11-26T00:00:00.000Z',
    arch: architectureToJson(arch),
    layout: layoutToJson(layout),
    dataset: { source: null, id: 'synthetic', classNames: ['a', 'b', 'c'] },
    features: null,
    tasks: {
      config: null,
      heldOut: [2],
      list: [
        { id: 't0', classes: [0, 1], split: 'seen', trainCount: 10, testCount: 5 },
        { id: 't1', classes: [1, 2], split: 'unseen-class', trainCount: 10, testCount: 5 },
      ],
    },
    members: Array.from({ length: 3 }, (_, i) => ({
      index: i,
      taskId: 't0',
      classes: [0, 1],
      seed: i,
      epoch: 1,
      trainAcc: 0.5,
      testAcc: 0.5,
      shard: shardName(0),
      tensorName: `m${i}`,
    })),
    config: null,
  };
}

/**
 * The committed torch.save fixtures (made with real PyTorch; there is no other source of valid
 * .pt bytes without Python), read from the source tree like the bundled pipelines.
 */
const TORCH_FIXTURES = fileURLToPath(new URL('../../../test/fixtures/torch/', import.meta.url));

/** Every reader of user files, in the order the report lists them. */
export const FUZZ_TARGETS: readonly FuzzTarget[] = [
  {
    name: 'safetensors',
    fileName: 'fuzz.safetensors',
    seeds: () => [
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
    ],
    parse: (b) => decodeSafetensors(b, 'fuzz.safetensors', { checkFinite: true }),
  },
  {
    name: 'npy',
    fileName: 'fuzz.npy',
    seeds: () => [
      encodeNpy(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]),
      encodeNpy(new BigInt64Array([0n, 1n, 2n]), [3]),
      encodeNpy(new Uint8Array([0, 255, 7, 9]), [1, 2, 2]),
      encodeNpy(new Int32Array([3, 1]), [2]),
    ],
    parse: (b) => {
      const a = decodeNpy(b, 'fuzz.npy');
      invariant(
        a.shape.every((d) => Number.isSafeInteger(d) && d >= 0),
        '.npy shape entries are safe integers',
      );
      // Decoded 1-D vectors must also pass (or cleanly fail) the label check.
      if (a.shape.length === 1 && !(a.data instanceof BigInt64Array)) {
        checkLabels(a.data, 'fuzz.npy');
      }
      return a;
    },
  },
  { name: 'idx', fileName: 'fuzz.idx', seeds: () => idxSeeds, parse: parseIdx },
  {
    // Half the cases mutate the IDX bytes inside a valid gzip stream, half the stream itself.
    name: 'idx-gzip',
    fileName: 'fuzz.idx',
    seeds: () => idxSeeds.map((s) => new Uint8Array(gzipSync(s))),
    parse: (b, i, _ctx, rng) =>
      i >= 0 && i % 2 === 0
        ? parseIdx(new Uint8Array(gzipSync(mutate(rng, idxSeeds))))
        : parseIdx(b),
  },
  {
    name: 'csv',
    fileName: 'fuzz.csv',
    seeds: () => {
      const plain = [
        'a,b,label\n1,2,0\n3.5,-4e1,2\n5,6,1\n',
        'label,x,"y, quoted"\r\ncat,1,2\r\n"dog",3,4\r\n',
        '1,2,0\n3,4,1\n',
      ].map((s) => enc.encode(s));
      return [...plain, ...plain.map((s) => new Uint8Array(gzipSync(s)))];
    },
    parse: async (b, i, ctx) => {
      const file = path.join(ctx.dir, 'fuzz.csv');
      fs.writeFileSync(file, b);
      const d = await loadCsv(file, { header: i % 3 !== 2 });
      invariant(d.classNames.length <= 10_000, 'at most 10,000 classes');
      return d;
    },
  },
  {
    name: 'image',
    fileName: 'fuzz.img',
    seeds: () => [pngBytes(4, 3), pngBytes(1, 1), jpegBytes(8, 8), jpegBytes(3, 5)],
    parse: (b) => {
      const img = decodeImage(b, 'fuzz.img');
      invariant(
        img.data.length === img.width * img.height * 4,
        'decoded RGBA length = width × height × 4',
      );
      return img;
    },
  },
  {
    name: 'pipeline-json',
    fileName: 'fuzz.pipeline.json',
    seeds: () =>
      ['quickstart.json', 'image-folder.json'].map(
        (p) => new Uint8Array(fs.readFileSync(path.join(resourcesDir(), 'pipelines', p))),
      ),
    parse: async (b, _i, ctx) => {
      const file = path.join(ctx.dir, 'fuzz.pipeline.json');
      fs.writeFileSync(file, b);
      return loadPipelineFile(file, registry);
    },
  },
  {
    name: 'pytorch',
    fileName: 'fuzz.pt',
    // Real torch.save outputs (test/fixtures/torch, made by make_fixtures.py with PyTorch): zip
    // archives with a pickle, tensors of several dtypes, one non-contiguous.
    seeds: () =>
      ['plain.pt', 'mixed.pt', 'nested.pth'].map(
        (f) => new Uint8Array(fs.readFileSync(path.join(TORCH_FIXTURES, f))),
      ),
    parse: (b) => {
      const tensors = decodeTorchStateDict(b, 'fuzz.pt');
      for (const [name, t] of tensors) {
        invariant(
          t.data.length === t.shape.reduce((a, d) => a * d, 1),
          `tensor ${name}: data length = product of its shape`,
        );
      }
      return tensors;
    },
  },
  {
    name: 'zoo-manifest',
    fileName: 'manifest.json',
    seeds: () => [enc.encode(JSON.stringify(zooManifest(), null, 2))],
    parse: async (b, _i, ctx) => {
      const dir = path.join(ctx.dir, 'zoo');
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'manifest.json'), b);
      return readZooManifest(dir);
    },
  },
];

/** One case that broke the contract: what it threw (or how long it took), for reproduction. */
export interface FuzzFailure {
  readonly caseIndex: number;
  readonly error: string;
}

/** Outcome of fuzzing one reader. */
export interface FuzzResult {
  readonly parser: string;
  readonly seed: number;
  readonly cases: number;
  /** Inputs that decoded. */
  readonly ok: number;
  /** Inputs refused with an InputError naming the file. */
  readonly refused: number;
  /** Cases that broke the contract; `failures` lists the first 20. */
  readonly failed: number;
  readonly failures: readonly FuzzFailure[];
  /** Slowest single case. */
  readonly maxCaseMs: number;
  readonly seconds: number;
}

/**
 * Run `cases` mutated inputs through one reader. A case fails when it throws anything but an
 * InputError whose message names the target's file, or takes longer than `maxCaseMs`; failures
 * are collected (the first 20 kept in full), not thrown. Seeds must decode or this throws.
 */
export async function fuzzTarget(
  target: FuzzTarget,
  opts: { cases: number; seed: number; dir: string; maxCaseMs?: number },
): Promise<FuzzResult> {
  const ctx: FuzzContext = { dir: opts.dir };
  const bound = opts.maxCaseMs ?? MAX_CASE_MS;
  const seeds = await target.seeds(ctx);
  const rng = new Rng(opts.seed).fork(target.name);
  const contentRng = new Rng(opts.seed).fork(`${target.name}-content`);
  // Seeds must decode, or the fuzzing only exercises the first check.
  for (const [k, s] of seeds.entries()) await target.parse(s, -1 - k, ctx, contentRng);
  const t0 = performance.now();
  let ok = 0;
  let refused = 0;
  let maxCaseMs = 0;
  let failed = 0;
  const failures: FuzzFailure[] = [];
  const fail = (caseIndex: number, error: string) => {
    failed++;
    if (failures.length < 20) failures.push({ caseIndex, error });
  };
  for (let i = 0; i < opts.cases; i++) {
    const input = mutate(rng, seeds);
    const c0 = performance.now();
    let outcome: 'ok' | 'refused' | 'failed' = 'ok';
    try {
      await target.parse(input, i, ctx, contentRng);
    } catch (err) {
      if (err instanceof InputError && err.message.includes(target.fileName)) {
        outcome = 'refused';
      } else {
        outcome = 'failed';
        fail(i, `threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
      }
    }
    const ms = performance.now() - c0;
    maxCaseMs = Math.max(maxCaseMs, ms);
    if (ms > bound) {
      if (outcome !== 'failed') fail(i, `took ${ms.toFixed(0)} ms (bound ${bound} ms)`);
      outcome = 'failed';
    }
    if (outcome === 'ok') ok++;
    else if (outcome === 'refused') refused++;
  }
  return {
    parser: target.name,
    seed: opts.seed,
    cases: opts.cases,
    ok,
    refused,
    failed,
    failures,
    maxCaseMs,
    seconds: (performance.now() - t0) / 1000,
  };
}
