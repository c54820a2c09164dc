/**
 * NumPy `.npy` files, the simplest way to hand arrays to and from Python users (`np.load`). We
 * write format 1.0, C order, little-endian; we read 1.0/2.0/3.0 with the common numeric dtypes in
 * either byte order, and refuse everything else with an InputError naming the file and the dtype.
 */
import * as fsp from 'node:fs/promises';
import { InputError } from '../errors.ts';
import { writeFileAtomic } from './atomic.ts';
import { errorMessage } from '../../../shared/errors.ts';

/** Typed arrays an .npy file can hold here. */
export type NpyData =
  | Float32Array
  | Float64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array
  | Uint16Array
  | BigInt64Array;

/** A decoded array: values, C-order shape, and the dtype normalised to little-endian form. */
export interface NpyArray {
  readonly data: NpyData;
  readonly shape: number[];
  /** Normalised descr: '<f4', '<f8', '<i4', '<i8', '<i2', '<u2', '|u1', '|i1' or '|b1'. */
  readonly dtype: string;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** Most dimensions an array may have (NumPy's own limit was 32 until 2.0). */
export const MAX_NPY_NDIM = 32;
/**
 * Largest single dimension we read: 2^31 - 1, the most elements a JS typed array holds on every
 * platform we run on. Any larger dimension (or one of 400 digits, which parses to Infinity) is an
 * InputError, never a shape with Infinity in it.
 */
export const MAX_NPY_DIM = 2 ** 31 - 1;

/** Header text for messages: shown when short and printable, otherwise described by length. */
function shown(s: string): string {
  return s.length <= 24 && /^[\x20-\x7e]*$/.test(s) ? `'${s}'` : `of ${s.length} characters`;
}

function descrOf(data: NpyData): string {
  if (data instanceof Float32Array) return '<f4';
  if (data instanceof Float64Array) return '<f8';
  if (data instanceof Int32Array) return '<i4';
  if (data instanceof Int16Array) return '<i2';
  if (data instanceof Int8Array) return '|i1';
  if (data instanceof Uint16Array) return '<u2';
  if (data instanceof BigInt64Array) return '<i8';
  return '|u1';
}

const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Serialise a C-order array as .npy format 1.0 (header padded to a 64-byte boundary). */
export function encodeNpy(data: NpyData, shape: readonly number[]): Uint8Array {
  const n = shape.reduce((a, b) => a * b, 1);
  if (!shape.every((s) => Number.isSafeInteger(s) && s >= 0)) {
    throw new Error(`encodeNpy: shape [${shape.join(', ')}] must be non-negative integers`);
  }
  if (n !== data.length) {
    throw new Error(
      `encodeNpy: shape [${shape.join(', ')}] has ${n} elements, data ${data.length}`,
    );
  }
  const shapeStr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descrOf(data)}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const hb = new TextEncoder().encode(header);
  const out = new Uint8Array(10 + hb.length + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, hb.length, true);
  out.set(hb, 10);
  const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  out.set(raw, 10 + hb.length);
  if (!littleEndianHost && data.BYTES_PER_ELEMENT > 1) {
    const w = data.BYTES_PER_ELEMENT;
    for (let i = 10 + hb.length; i < out.length; i += w) out.subarray(i, i + w).reverse();
  }
  return out;
}

interface KindInfo {
  size: number;
  make: (buf: ArrayBuffer) => NpyData;
}

const KINDS: Record<string, KindInfo> = {
  f4: { size: 4, make: (b) => new Float32Array(b) },
  f8: { size: 8, make: (b) => new Float64Array(b) },
  i1: { size: 1, make: (b) => new Int8Array(b) },
  i2: { size: 2, make: (b) => new Int16Array(b) },
  i4: { size: 4, make: (b) => new Int32Array(b) },
  i8: { size: 8, make: (b) => new BigInt64Array(b) },
  u1: { size: 1, make: (b) => new Uint8Array(b) },
  u2: { size: 2, make: (b) => new Uint16Array(b) },
  b1: { size: 1, make: (b) => new Uint8Array(b) },
};

/** Parse and validate .npy bytes. `fileName` labels errors. */
export function decodeNpy(bytes: Uint8Array, fileName = '<buffer>'): NpyArray {
  const fail = (msg: string): never => {
    throw new InputError(`not a readable .npy file: ${msg}`, fileName);
  };
  if (bytes.length < 10 || !MAGIC.every((m, i) => bytes[i] === m)) {
    fail('missing the \\x93NUMPY magic string');
  }
  const major = bytes[6];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let headerStart: number;
  if (major === 1) {
    headerLen = dv.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) fail('file is truncated inside the header length');
    headerLen = dv.getUint32(8, true);
    headerStart = 12;
  } else {
    return fail(`unsupported format version ${major}.${bytes[7]}`);
  }
  if (headerStart + headerLen > bytes.length) {
    fail(`header length ${headerLen} runs past the end of the ${bytes.length}-byte file`);
  }
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(
    bytes.subarray(headerStart, headerStart + headerLen),
  );
  const descrM = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(header);
  const fortranM = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(header);
  const shapeM = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descrM || !fortranM || !shapeM) {
    // The header text itself is not echoed: errors never carry file content.
    return fail(`header (${headerLen} bytes) lacks descr, fortran_order or shape`);
  }
  const descr = descrM[1];
  const dm = /^([<>|=])([a-z])(\d+)$/.exec(descr);
  const kindKey = dm ? `${dm[2]}${dm[3]}` : '';
  const kind = KINDS[kindKey];
  if (!dm || !kind) {
    return fail(
      `unsupported dtype ${shown(descr)} (supported: f4 f8 i1 i2 i4 i8 u1 u2 b1, either byte order)`,
    );
  }
  if (fortranM[1] === 'True') {
    fail(`fortran_order True (dtype ${descr}) is not supported; save with np.ascontiguousarray`);
  }
  const bigEndian = dm[1] === '>' || (dm[1] === '=' && !littleEndianHost);
  const parts = shapeM[1]
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (parts.length > MAX_NPY_NDIM) {
    fail(`shape has ${parts.length} dimensions; at most ${MAX_NPY_NDIM} are supported`);
  }
  const shape: number[] = [];
  for (const [i, p] of parts.entries()) {
    if (!/^\d+L?$/.test(p)) fail(`shape entry ${i} ${shown(p)} is not a non-negative integer`);
    const dim = Number.parseInt(p, 10);
    if (!Number.isSafeInteger(dim) || dim > MAX_NPY_DIM) {
      fail(`shape entry ${i} is larger than the ${MAX_NPY_DIM} supported per dimension`);
    }
    shape.push(dim);
  }
  // The element count of the non-zero dimensions must be exact, even when a zero makes it empty.
  let nonZero = 1;
  for (const dim of shape) {
    if (dim > 0) nonZero *= dim;
    if (nonZero > Number.MAX_SAFE_INTEGER) {
      fail(`shape (${shape.join(', ')}) has more elements than can be counted exactly`);
    }
  }
  const count = shape.reduce((a, b) => a * b, 1);
  const dataStart = headerStart + headerLen;
  const need = count * kind.size;
  const have = bytes.length - dataStart;
  if (have < need) {
    fail(
      `truncated data: shape (${shape.join(', ')}) of ${descr} needs ${need} bytes, found ${have}`,
    );
  }
  if (have > need) {
    fail(`${have - need} unexpected trailing bytes after the (${shape.join(', ')}) ${descr} data`);
  }
  // A fresh buffer: `bytes` may be a Node Buffer view into a shared pool at any offset.
  const copy = new Uint8Array(need);
  copy.set(bytes.subarray(dataStart, dataStart + need));
  if (kind.size > 1 && bigEndian === littleEndianHost) {
    for (let i = 0; i < copy.length; i += kind.size) copy.subarray(i, i + kind.size).reverse();
  }
  const data = kind.make(copy.buffer);
  const norm = kind.size === 1 ? `|${kindKey}` : `<${kindKey}`;
  return { data, shape, dtype: norm };
}

/** Read and validate a .npy file; a missing file is an InputError naming it. */
export async function readNpy(path: string): Promise<NpyArray> {
  let bytes: Uint8Array;
  try {
    bytes = await fsp.readFile(path);
  } catch (err) {
    throw new InputError(`cannot read .npy file: ${errorMessage(err)}`, path);
  }
  return decodeNpy(bytes, path);
}

/** Write a .npy file atomically. */
export async function writeNpy(
  path: string,
  data: NpyData,
  shape: readonly number[],
): Promise<void> {
  await writeFileAtomic(path, encodeNpy(data, shape));
}
