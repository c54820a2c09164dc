/**
 * safetensors, the cross-framework weight format (PyTorch, JAX, NumPy, Candle read it). We write
 * it for weight exports and zoo shards, and read files users bring, so decoding trusts nothing:
 * every length, offset and dtype is checked and a bad file gives an InputError naming the file
 * and the tensor instead of garbage numbers further down the pipeline.
 *
 * Layout: u64 little-endian header length N, N bytes of UTF-8 JSON
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {k: v}}` (padded with spaces
 * to 8-byte alignment), then the tensor bytes, little-endian, C order, offsets relative to the
 * start of that byte buffer.
 */
import * as fsp from 'node:fs/promises';
import { jsonTextDepth } from '../../../shared/json-depth.ts';
import { InputError } from '../errors.ts';
import { writeFileAtomic } from './atomic.ts';
import { errorMessage } from '../../../shared/errors.ts';

export type StDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/**
 * One tensor. F16 and BF16 are carried as raw bit patterns in a Uint16Array (JS has no half
 * float); use toF32 / fromF32 to convert. BOOL is a Uint8Array of 0/1.
 */
export interface StTensor {
  readonly dtype: StDtype;
  readonly shape: number[];
  readonly data:
    | Float32Array
    | Float64Array
    | Int32Array
    | Int16Array
    | Int8Array
    | Uint8Array
    | BigInt64Array
    | Uint16Array;
}

export interface DecodeOptions {
  /** Reject NaN and ±Inf in float tensors (F64/F32/F16/BF16), naming the tensor. */
  readonly checkFinite?: boolean;
}

const DTYPE_SIZE: Record<StDtype, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** Headers larger than this are refused, as the reference implementation does (100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

/**
 * Deepest nesting of arrays and objects a header may have. A real header is 3 levels deep
 * (root → tensor entry → shape); a deeper one is refused before it is parsed, so nothing
 * (error messages included) ever walks a 50,000-level structure recursively.
 */
export const MAX_HEADER_DEPTH = 32;

/**
 * A short, non-recursive description of a header value for error messages: short strings and
 * small number lists are shown, anything else only by kind and size, so a message stays small
 * and cannot recurse into a hostile structure.
 */
function describe(v: unknown): string {
  if (typeof v === 'string') {
    return v.length <= 40 ? JSON.stringify(v) : `a ${v.length}-character string`;
  }
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  if (Array.isArray(v)) {
    if (v.length <= 8 && v.every((x) => typeof x === 'number')) return `[${v.join(', ')}]`;
    return `an array of ${v.length} entries`;
  }
  return typeof v === 'object' ? 'an object' : typeof v;
}

/** A tensor or metadata name for messages, cut to 64 characters. */
function nameOf(name: string): string {
  return name.length <= 64 ? name : `${name.slice(0, 61)}...`;
}

function isDtype(s: unknown): s is StDtype {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_SIZE, s);
}

/** Bytes per element of a dtype. */
export function dtypeSize(dtype: StDtype): number {
  return DTYPE_SIZE[dtype];
}

const ARRAY_FOR: Record<StDtype, { name: string; ok: (d: StTensor['data']) => boolean }> = {
  F64: { name: 'Float64Array', ok: (d) => d instanceof Float64Array },
  F32: { name: 'Float32Array', ok: (d) => d instanceof Float32Array },
  F16: { name: 'Uint16Array', ok: (d) => d instanceof Uint16Array },
  BF16: { name: 'Uint16Array', ok: (d) => d instanceof Uint16Array },
  I64: { name: 'BigInt64Array', ok: (d) => d instanceof BigInt64Array },
  I32: { name: 'Int32Array', ok: (d) => d instanceof Int32Array },
  I16: { name: 'Int16Array', ok: (d) => d instanceof Int16Array },
  I8: { name: 'Int8Array', ok: (d) => d instanceof Int8Array },
  U8: { name: 'Uint8Array', ok: (d) => d instanceof Uint8Array },
  BOOL: { name: 'Uint8Array', ok: (d) => d instanceof Uint8Array },
};

function product(shape: readonly number[]): number {
  let p = 1;
  for (const s of shape) p *= s;
  return p;
}

function checkShape(shape: unknown): shape is number[] {
  return (
    Array.isArray(shape) &&
    shape.every((s) => typeof s === 'number' && Number.isSafeInteger(s) && s >= 0)
  );
}

const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Copy the bytes of a typed array as little-endian. */
function bytesOf(data: StTensor['data']): Uint8Array {
  const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (littleEndianHost || data.BYTES_PER_ELEMENT === 1) return raw;
  const out = new Uint8Array(raw.length);
  const w = data.BYTES_PER_ELEMENT;
  for (let i = 0; i < raw.length; i += w)
    for (let j = 0; j < w; j++) out[i + j] = raw[i + w - 1 - j];
  return out;
}

/**
 * Serialise tensors to safetensors bytes. Tensors are laid out largest element size first, then by
 * name, so every tensor starts on its natural alignment and the same input gives the same bytes.
 */
export function encodeSafetensors(
  tensors: Record<string, StTensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const names = Object.keys(tensors).sort((a, b) => {
    const d = DTYPE_SIZE[tensors[b].dtype] - DTYPE_SIZE[tensors[a].dtype];
    return d !== 0 ? d : a < b ? -1 : a > b ? 1 : 0;
  });
  // Null-prototype objects: a tensor named '__proto__' is an ordinary key, not the prototype.
  const header: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') {
        throw new Error(`safetensors metadata '${k}' must be a string, got ${typeof v}`);
      }
    }
    header.__metadata__ = Object.assign(Object.create(null) as Record<string, string>, metadata);
  }
  let offset = 0;
  for (const name of names) {
    if (name === '__metadata__') throw new Error(`'__metadata__' is not a valid tensor name`);
    const t = tensors[name];
    if (!isDtype(t.dtype)) throw new Error(`tensor '${name}': unknown dtype ${String(t.dtype)}`);
    if (!checkShape(t.shape)) {
      throw new Error(`tensor '${name}': shape must be non-negative integers`);
    }
    const want = ARRAY_FOR[t.dtype];
    if (!want.ok(t.data)) {
      throw new Error(
        `tensor '${name}': dtype ${t.dtype} needs a ${want.name}, got ${t.data.constructor.name}`,
      );
    }
    const n = product(t.shape);
    if (t.data.length !== n) {
      throw new Error(
        `tensor '${name}': shape [${t.shape.join(', ')}] has ${n} elements but data has ${t.data.length}`,
      );
    }
    const bytes = n * DTYPE_SIZE[t.dtype];
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  const enc = new TextEncoder();
  let headerBytes = enc.encode(json);
  const pad = (8 - (headerBytes.length % 8)) % 8;
  if (pad > 0) {
    json += ' '.repeat(pad);
    headerBytes = enc.encode(json);
  }
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const name of names) {
    const b = bytesOf(tensors[name].data);
    out.set(b, pos);
    pos += b.length;
  }
  return out;
}

function makeArray(dtype: StDtype, bytes: Uint8Array): StTensor['data'] {
  // Copy into a fresh, aligned buffer; the source may sit at any offset inside the file.
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  const size = DTYPE_SIZE[dtype];
  if (!littleEndianHost && size > 1) {
    for (let i = 0; i < copy.length; i += size) copy.subarray(i, i + size).reverse();
  }
  const buf = copy.buffer;
  switch (dtype) {
    case 'F64':
      return new Float64Array(buf);
    case 'F32':
      return new Float32Array(buf);
    case 'F16':
    case 'BF16':
      return new Uint16Array(buf);
    case 'I64':
      return new BigInt64Array(buf);
    case 'I32':
      return new Int32Array(buf);
    case 'I16':
      return new Int16Array(buf);
    case 'I8':
      return new Int8Array(buf);
    case 'U8':
    case 'BOOL':
      return copy;
  }
}

interface RawEntry {
  name: string;
  dtype: StDtype;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * Parse and validate safetensors bytes. `fileName` only labels errors. Every structural problem
 * (short file, header length beyond the file, non-JSON header, unknown dtype, size mismatch,
 * offsets out of range, overlapping or leaving gaps) is an InputError naming the file and tensor.
 */
export function decodeSafetensors(
  bytes: Uint8Array,
  fileName = '<buffer>',
  options: DecodeOptions = {},
): { tensors: Record<string, StTensor>; metadata: Record<string, string> } {
  const fail = (msg: string): never => {
    throw new InputError(`not a valid safetensors file: ${msg}`, fileName);
  };
  if (bytes.length < 8)
    fail(`file is ${bytes.length} bytes, shorter than the 8-byte header length`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = dv.getBigUint64(0, true);
  if (n64 > BigInt(bytes.length - 8)) {
    // The value is not echoed: for a file that is not safetensors it is 8 bytes of its content.
    fail(`the header length field exceeds the ${bytes.length - 8} bytes after it`);
  }
  const n = Number(n64);
  if (n > MAX_HEADER_BYTES) fail(`header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  if (n === 0) fail('header is empty');
  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    fail('header is not valid UTF-8');
  }
  if (jsonTextDepth(text, MAX_HEADER_DEPTH) > MAX_HEADER_DEPTH) {
    fail(`header JSON nests deeper than ${MAX_HEADER_DEPTH} levels`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text around the error; it is not passed on.
    fail('header is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    fail('header JSON is not an object');
  }
  const headerObj = parsed as Record<string, unknown>;
  const dataStart = 8 + n;
  const dataLen = bytes.length - dataStart;

  const metadata: Record<string, string> = Object.create(null) as Record<string, string>;
  const entries: RawEntry[] = [];
  for (const [name, value] of Object.entries(headerObj)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        fail('__metadata__ is not an object');
      }
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`__metadata__ '${nameOf(k)}' is not a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    const tfail = (msg: string): never => fail(`tensor '${nameOf(name)}': ${msg}`);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      tfail('entry is not an object');
    }
    const e = value as Record<string, unknown>;
    if (!isDtype(e.dtype)) {
      tfail(`unknown or unsupported dtype ${describe(e.dtype)}`);
    }
    const dtype = e.dtype as StDtype;
    if (!checkShape(e.shape)) tfail(`shape ${describe(e.shape)} is not a list of integers ≥ 0`);
    const shape = e.shape as number[];
    const off = e.data_offsets;
    if (
      !Array.isArray(off) ||
      off.length !== 2 ||
      !off.every((o) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0)
    ) {
      tfail(`data_offsets ${describe(off)} is not [begin, end] of integers ≥ 0`);
    }
    const [begin, end] = off as [number, number];
    if (end < begin) tfail(`data_offsets [${begin}, ${end}] end before begin`);
    if (end > dataLen) {
      tfail(`data_offsets [${begin}, ${end}] out of range: the data buffer has ${dataLen} bytes`);
    }
    const want = product(shape) * DTYPE_SIZE[dtype];
    if (want !== end - begin) {
      tfail(
        `shape [${shape.join(', ')}] × ${dtype} needs ${want} bytes but data_offsets span ${end - begin}`,
      );
    }
    entries.push({ name, dtype, shape, begin, end });
  }

  // Offsets must tile the buffer exactly: no overlap, no gap, nothing trailing.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let prev: RawEntry | undefined;
  for (const e of sorted) {
    if (e.begin < cursor) {
      fail(
        `tensor '${nameOf(e.name)}': data_offsets [${e.begin}, ${e.end}] overlap tensor '${nameOf(prev?.name ?? '')}'`,
      );
    }
    if (e.begin > cursor) {
      fail(
        `tensor '${nameOf(e.name)}': gap of ${e.begin - cursor} unused bytes before it (at ${cursor})`,
      );
    }
    cursor = e.end;
    prev = e;
  }
  if (cursor !== dataLen) {
    fail(`tensors cover ${cursor} bytes but the data buffer has ${dataLen} (trailing bytes)`);
  }

  // Null-prototype: a tensor named '__proto__' (or 'constructor') is an ordinary entry.
  const tensors: Record<string, StTensor> = Object.create(null) as Record<string, StTensor>;
  for (const e of entries) {
    const data = makeArray(e.dtype, bytes.subarray(dataStart + e.begin, dataStart + e.end));
    const t: StTensor = { dtype: e.dtype, shape: e.shape, data };
    if (e.dtype === 'BOOL') {
      const bad = data.findIndex((v: number | bigint) => v !== 0 && v !== 1);
      if (bad >= 0)
        fail(
          `tensor '${nameOf(e.name)}': BOOL value ${data[bad]} at flat index ${bad} is not 0 or 1`,
        );
    }
    if (options.checkFinite && isFloat(e.dtype)) {
      const f = toF32(t);
      for (let i = 0; i < f.length; i++) {
        if (!Number.isFinite(f[i])) {
          fail(`tensor '${nameOf(e.name)}': non-finite value ${f[i]} at flat index ${i}`);
        }
      }
    }
    tensors[e.name] = t;
  }
  return { tensors, metadata };
}

function isFloat(d: StDtype): boolean {
  return d === 'F64' || d === 'F32' || d === 'F16' || d === 'BF16';
}

/** Write a safetensors file atomically (temp file + rename). */
export async function writeSafetensors(
  path: string,
  tensors: Record<string, StTensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

/** Read and validate a safetensors file; a missing or unreadable file is an InputError too. */
export async function readSafetensors(
  path: string,
  options: DecodeOptions = {},
): Promise<{ tensors: Record<string, StTensor>; metadata: Record<string, string> }> {
  let bytes: Uint8Array;
  try {
    bytes = await fsp.readFile(path);
  } catch (err) {
    throw new InputError(`cannot read safetensors file: ${errorMessage(err)}`, path);
  }
  return decodeSafetensors(bytes, path, options);
}

// ---- half-precision conversions -------------------------------------------------------------

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

/** IEEE binary16 bits → number. */
export function f16ToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m === 0 ? s * Infinity : NaN;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** number → IEEE binary16 bits, round to nearest even; overflow gives ±Inf. */
export function numberToF16(v: number): number {
  f32buf[0] = v;
  const x = u32buf[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  e = half >>> 10;
  if (e >= 31) return sign | 0x7c00;
  return sign | half;
}

/** bfloat16 bits → number. */
export function bf16ToNumber(h: number): number {
  u32buf[0] = (h & 0xffff) << 16;
  return f32buf[0];
}

/** number → bfloat16 bits, round to nearest even (NaN stays NaN). */
export function numberToBf16(v: number): number {
  f32buf[0] = v;
  const x = u32buf[0];
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return ((x >>> 16) | 0x40) & 0xffff;
  const lsb = (x >>> 16) & 1;
  return ((x + 0x7fff + lsb) >>> 16) & 0xffff;
}

/** Any tensor's values as float32, for loading into tfjs (F16/BF16 decoded, ints converted). */
export function toF32(t: StTensor): Float32Array {
  const d = t.data;
  const out = new Float32Array(d.length);
  if (t.dtype === 'F16') {
    for (let i = 0; i < d.length; i++) out[i] = f16ToNumber(Number(d[i]));
  } else if (t.dtype === 'BF16') {
    for (let i = 0; i < d.length; i++) out[i] = bf16ToNumber(Number(d[i]));
  } else if (d instanceof BigInt64Array) {
    for (let i = 0; i < d.length; i++) out[i] = Number(d[i]);
  } else {
    out.set(d);
  }
  return out;
}

/** Float32 values as a tensor of a float dtype; the inverse of toF32 up to rounding. */
export function fromF32(values: Float32Array, shape: number[], dtype: StDtype = 'F32'): StTensor {
  switch (dtype) {
    case 'F32':
      return { dtype, shape, data: values };
    case 'F64':
      return { dtype, shape, data: Float64Array.from(values) };
    case 'F16': {
      const out = new Uint16Array(values.length);
      for (let i = 0; i < values.length; i++) out[i] = numberToF16(values[i]);
      return { dtype, shape, data: out };
    }
    case 'BF16': {
      const out = new Uint16Array(values.length);
      for (let i = 0; i < values.length; i++) out[i] = numberToBf16(values[i]);
      return { dtype, shape, data: out };
    }
    default:
      throw new Error(`fromF32 converts to float dtypes only, not ${dtype}`);
  }
}
