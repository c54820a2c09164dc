/**
 * IDX files (the MNIST / Fashion-MNIST format): a 4-byte magic `00 00 <type> <ndims>`, ndims
 * big-endian u32 dimensions, then big-endian values. Files are usually gzipped; we detect gzip by
 * its magic bytes rather than by the file name, since users rename files.
 */
import * as fsp from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { InputError } from '../errors.ts';
import type { LabelledData } from './types.ts';
import { errorMessage } from '../../../shared/errors.ts';

/** A decoded IDX array: values as numbers in a typed array, plus its dimensions. */
export interface IdxArray {
  readonly dims: number[];
  /** The element type code: 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64. */
  readonly typeCode: number;
  readonly data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

const TYPES: Record<number, { name: string; size: number }> = {
  0x08: { name: 'u8', size: 1 },
  0x09: { name: 'i8', size: 1 },
  0x0b: { name: 'i16', size: 2 },
  0x0c: { name: 'i32', size: 4 },
  0x0d: { name: 'f32', size: 4 },
  0x0e: { name: 'f64', size: 8 },
};

/** Gunzip if the bytes start with the gzip magic 1f 8b; corrupt gzip is an InputError. */
export function maybeGunzip(bytes: Uint8Array, fileName: string): Uint8Array {
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      return gunzipSync(bytes);
    } catch (err) {
      throw new InputError(`corrupt gzip data (${errorMessage(err)})`, fileName);
    }
  }
  return bytes;
}

/** Read a file, turning "not found"/"permission denied" into an InputError naming it. */
export async function readInputFile(path: string, what: string): Promise<Uint8Array> {
  try {
    return await fsp.readFile(path);
  } catch (err) {
    const code =
      typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;
    const reason =
      code === 'ENOENT'
        ? 'file not found'
        : code === 'EISDIR'
          ? 'is a directory, not a file'
          : err instanceof Error
            ? err.message
            : String(err);
    throw new InputError(`cannot read ${what}: ${reason}`, path);
  }
}

/** Decode IDX bytes (gzipped or raw). Structural problems are InputErrors naming `fileName`. */
export function decodeIdx(input: Uint8Array, fileName: string): IdxArray {
  const bytes = maybeGunzip(input, fileName);
  const fail = (msg: string): never => {
    throw new InputError(`not a valid IDX file: ${msg}`, fileName);
  };
  if (bytes.length < 4) fail(`only ${bytes.length} bytes, too short for the 4-byte magic`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    // The bytes are not echoed: for a file that is not IDX they are its content.
    fail('bad magic: the file does not start with 00 00 <type> <ndims>');
  }
  const typeCode = bytes[2];
  const type = TYPES[typeCode];
  if (!type) fail(`unknown element type code 0x${typeCode.toString(16).padStart(2, '0')}`);
  const ndims = bytes[3];
  if (ndims === 0) fail('zero dimensions');
  const headerLen = 4 + 4 * ndims;
  if (bytes.length < headerLen)
    fail(`truncated header: ${ndims} dimensions need ${headerLen} bytes`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(dv.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, b) => a * b, 1);
  const need = count * type.size;
  const have = bytes.length - headerLen;
  if (have < need) {
    fail(
      `truncated data: dimensions [${dims.join(', ')}] of ${type.name} need ${need} bytes, found ${have}`,
    );
  }
  if (have > need) {
    fail(
      `dimensions [${dims.join(', ')}] of ${type.name} need ${need} bytes but ${have} follow the header`,
    );
  }
  let data: IdxArray['data'];
  switch (typeCode) {
    case 0x08:
    case 0x09: {
      // Copy: `bytes` may be a Node Buffer view into a shared pool.
      const c = new Uint8Array(need);
      c.set(bytes.subarray(headerLen, headerLen + need));
      data = typeCode === 0x08 ? c : new Int8Array(c.buffer);
      break;
    }
    case 0x0b: {
      const a = new Int16Array(count);
      for (let i = 0; i < count; i++) a[i] = dv.getInt16(headerLen + 2 * i, false);
      data = a;
      break;
    }
    case 0x0c: {
      const a = new Int32Array(count);
      for (let i = 0; i < count; i++) a[i] = dv.getInt32(headerLen + 4 * i, false);
      data = a;
      break;
    }
    case 0x0d: {
      const a = new Float32Array(count);
      for (let i = 0; i < count; i++) a[i] = dv.getFloat32(headerLen + 4 * i, false);
      data = a;
      break;
    }
    default: {
      const a = new Float64Array(count);
      for (let i = 0; i < count; i++) a[i] = dv.getFloat64(headerLen + 8 * i, false);
      data = a;
    }
  }
  return { dims, typeCode, data };
}

/**
 * Sample values scaled into [0, 1]: u8 pixels by /255; other types are kept when they already
 * lie in [0, 1], otherwise min-max scaled over the whole array (a constant array becomes 0).
 */
export function toUnitFloat(data: IdxArray['data']): Float32Array {
  const out = new Float32Array(data.length);
  if (data instanceof Uint8Array) {
    for (let i = 0; i < data.length; i++) out[i] = data[i] / 255;
    return out;
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo >= 0 && hi <= 1) {
    out.set(data);
    return out;
  }
  const range = hi - lo;
  for (let i = 0; i < data.length; i++) out[i] = range > 0 ? (data[i] - lo) / range : 0;
  return out;
}

/**
 * Most classes a labelled dataset may have: labels are class indices 0..MAX_CLASSES-1. Real
 * classification sets have at most a few thousand classes (ImageNet-21k aside); a larger label is
 * a wrong or corrupt file (an id column, a pixel value), and every per-class buffer downstream is
 * sized by the class count, so an unbounded label would mean an unbounded allocation.
 */
export const MAX_CLASSES = 10_000;

/**
 * Integer class labels with their range checked. Non-integer, negative or too-large labels
 * (≥ MAX_CLASSES, or past the given class names) are InputErrors naming the file (or `locate`'s
 * answer, e.g. `file:line`) and the first bad sample; the value itself is never echoed, so an
 * error cannot leak file content. The class count is bounded before anything is allocated by it.
 */
export function checkLabels(
  values: ArrayLike<number>,
  fileName: string,
  classNames?: readonly string[],
  locate?: (sample: number) => string,
): { labels: Int32Array; classNames: string[] } {
  if (classNames && classNames.length > MAX_CLASSES) {
    throw new InputError(
      `${classNames.length} class names were given; at most ${MAX_CLASSES} classes are supported`,
      fileName,
    );
  }
  const limit = classNames ? classNames.length : MAX_CLASSES;
  const where = (i: number) => (locate ? locate(i) : fileName);
  const labels = new Int32Array(values.length);
  let max = -1;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      throw new InputError(`label of sample ${i} is not an integer`, where(i));
    }
    if (v < 0) throw new InputError(`label of sample ${i} is negative`, where(i));
    if (v >= limit) {
      throw new InputError(
        classNames
          ? `label of sample ${i} is out of range: ${classNames.length} class names were given`
          : `label of sample ${i} is too large: labels are class indices 0..${MAX_CLASSES - 1} (at most ${MAX_CLASSES} classes)`,
        where(i),
      );
    }
    labels[i] = v;
    if (v > max) max = v;
  }
  // max < limit ≤ MAX_CLASSES here, so this allocation is bounded.
  const names = classNames ? [...classNames] : Array.from({ length: max + 1 }, (_, i) => String(i));
  return { labels, classNames: names };
}

/**
 * Load an IDX images + labels pair. Images [n, h, w] give samples [h, w, 1], [n, h, w, c] give
 * [h, w, c], [n, d] give feature vectors [d]. The label file must be 1-D with n entries.
 */
/**
 * Read a samples/labels pair concurrently. When both fail, the first file's error is the one
 * raised, whichever read finished first, so the message a user sees never depends on timing.
 */
export async function readInputPair(
  first: readonly [path: string, what: string],
  second: readonly [path: string, what: string],
): Promise<[Uint8Array, Uint8Array]> {
  const [a, b] = await Promise.allSettled([
    readInputFile(first[0], first[1]),
    readInputFile(second[0], second[1]),
  ]);
  if (a.status === 'rejected') throw a.reason;
  if (b.status === 'rejected') throw b.reason;
  return [a.value, b.value];
}

/** The images and labels files of an IDX pair, images first (see readInputPair). */
export function readIdxFiles(
  imagesPath: string,
  labelsPath: string,
): Promise<[Uint8Array, Uint8Array]> {
  return readInputPair([imagesPath, 'IDX images file'], [labelsPath, 'IDX labels file']);
}

export async function loadIdxPair(
  imagesPath: string,
  labelsPath: string,
  classNames?: readonly string[],
): Promise<LabelledData> {
  const [imgBytes, labBytes] = await readIdxFiles(imagesPath, labelsPath);
  const images = decodeIdx(imgBytes, imagesPath);
  const labs = decodeIdx(labBytes, labelsPath);
  return idxToLabelled(images, labs, imagesPath, labelsPath, classNames);
}

/** Build LabelledData from decoded IDX arrays; exported for concatenating train + test files. */
export function idxToLabelled(
  images: IdxArray,
  labs: IdxArray,
  imagesPath: string,
  labelsPath: string,
  classNames?: readonly string[],
): LabelledData {
  if (images.dims.length < 2 || images.dims.length > 4) {
    throw new InputError(
      `images must have 2 to 4 dimensions ([n, d], [n, h, w] or [n, h, w, c]); found [${images.dims.join(', ')}]`,
      imagesPath,
    );
  }
  if (labs.dims.length !== 1) {
    throw new InputError(
      `labels must have 1 dimension [n]; found [${labs.dims.join(', ')}]`,
      labelsPath,
    );
  }
  const n = images.dims[0];
  if (labs.dims[0] !== n) {
    throw new InputError(
      `${labs.dims[0]} labels in ${labelsPath} but ${n} images in ${imagesPath}`,
      labelsPath,
    );
  }
  if (labs.typeCode === 0x0d || labs.typeCode === 0x0e) {
    throw new InputError('labels must be an integer type, found floats', labelsPath);
  }
  const rest = images.dims.slice(1);
  const sampleShape = rest.length === 2 ? [rest[0], rest[1], 1] : rest;
  const { labels, classNames: names } = checkLabels(labs.data, labelsPath, classNames);
  return {
    x: toUnitFloat(images.data),
    sampleShape,
    labels,
    classNames: names,
    source: imagesPath,
  };
}

/**
 * IDX bytes: magic 00 00 type ndims, big-endian dims, big-endian values. Writes the test and
 * fuzzing inputs; the app itself only reads IDX.
 */
export function idxBytes(typeCode: number, dims: number[], values: ArrayLike<number>): Uint8Array {
  const size = { 0x08: 1, 0x09: 1, 0x0b: 2, 0x0c: 4, 0x0d: 4, 0x0e: 8 }[typeCode] ?? 1;
  const header = 4 + 4 * dims.length;
  const out = new Uint8Array(header + values.length * size);
  const dv = new DataView(out.buffer);
  out[2] = typeCode;
  out[3] = dims.length;
  dims.forEach((d, i) => dv.setUint32(4 + 4 * i, d, false));
  for (let i = 0; i < values.length; i++) {
    const o = header + i * size;
    const v = values[i];
    if (typeCode === 0x08) dv.setUint8(o, v);
    else if (typeCode === 0x09) dv.setInt8(o, v);
    else if (typeCode === 0x0b) dv.setInt16(o, v, false);
    else if (typeCode === 0x0c) dv.setInt32(o, v, false);
    else if (typeCode === 0x0d) dv.setFloat32(o, v, false);
    else dv.setFloat64(o, v, false);
  }
  return out;
}
