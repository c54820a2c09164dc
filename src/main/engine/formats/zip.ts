/**
 * A small, strict zip reader for the archives PyTorch's `torch.save` writes (and any ordinary zip
 * of stored or deflated entries). It reads the central directory, checks every offset and size
 * against the file before touching it, inflates with node:zlib under an output cap, and verifies
 * each entry's CRC-32. Refused with an InputError naming the file (and the entry): a truncated or
 * corrupt archive, encrypted or multi-disk archives, compression methods other than stored and
 * deflate, entry names with `..` segments or absolute paths, and sizes beyond the caller's limits.
 * Zip64 end records and size fields are understood (PyTorch writes them for large tensors).
 */
import { crc32, inflateRawSync } from 'node:zlib';
import { InputError } from '../errors.ts';
import { errorMessage } from '../../../shared/errors.ts';

/** One entry of the central directory. */
export interface ZipEntry {
  /** Name as stored (forward slashes). */
  readonly name: string;
  /** 0 = stored, 8 = deflate. */
  readonly method: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly crc: number;
  /** Offset of the entry's local header. */
  readonly localOffset: number;
}

export interface ZipLimits {
  /** Largest uncompressed entry accepted (default 4 GiB). */
  readonly maxEntryBytes?: number;
  /** Most entries accepted (default 100,000). */
  readonly maxEntries?: number;
}

/** An opened archive: its entries, and each entry's bytes on demand. */
export interface ZipArchive {
  readonly entries: ReadonlyMap<string, ZipEntry>;
  /** The uncompressed bytes of `name` (CRC checked); InputError when there is no such entry. */
  read(name: string): Uint8Array;
}

const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;

/** True when `bytes` starts like a zip archive (a local header or an empty archive's end record). */
export function looksLikeZip(bytes: Uint8Array): boolean {
  if (bytes.length < 4) return false;
  const sig = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
  return sig === SIG_LOCAL || sig === SIG_EOCD;
}

/** A safe entry name: relative, no `..` or empty segments, no backslashes or NUL. */
function checkName(name: string, file: string): void {
  const bad =
    name.length === 0 ||
    name.startsWith('/') ||
    /^[a-zA-Z]:/.test(name) ||
    name.includes('\\') ||
    name.includes('\0') ||
    name.split('/').some((s) => s === '..');
  if (bad) {
    throw new InputError(
      `zip entry name ${JSON.stringify(name.slice(0, 200))} is not a safe relative path (absolute, '..' or backslash)`,
      file,
    );
  }
}

/** Open a zip archive held in memory; `file` names it in errors. */
export function openZip(bytes: Uint8Array, file: string, limits: ZipLimits = {}): ZipArchive {
  const maxEntryBytes = limits.maxEntryBytes ?? 4 * 1024 ** 3;
  const maxEntries = limits.maxEntries ?? 100_000;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.length;
  const corrupt = (what: string): InputError =>
    new InputError(`not a readable zip archive (truncated or corrupt): ${what}`, file);
  const u64 = (at: number): number => {
    const v = view.getBigUint64(at, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(`a 64-bit size at byte ${at} is absurd`);
    return Number(v);
  };

  // End of central directory: the last EOCD signature whose comment runs exactly to the end.
  let eocd = -1;
  for (let at = n - EOCD_SIZE; at >= Math.max(0, n - EOCD_SIZE - MAX_COMMENT); at--) {
    if (
      view.getUint32(at, true) === SIG_EOCD &&
      at + EOCD_SIZE + view.getUint16(at + 20, true) === n
    ) {
      eocd = at;
      break;
    }
  }
  if (eocd < 0) throw corrupt('no end-of-central-directory record (the file was cut short?)');
  if (view.getUint16(eocd + 4, true) !== 0 || view.getUint16(eocd + 6, true) !== 0) {
    throw new InputError('multi-disk zip archives are not supported', file);
  }
  let count = view.getUint16(eocd + 10, true);
  let cdSize = view.getUint32(eocd + 12, true);
  let cdOffset = view.getUint32(eocd + 16, true);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || view.getUint32(loc, true) !== SIG_ZIP64_LOCATOR) {
      throw corrupt('the end record points to a zip64 record that is missing');
    }
    const rec = u64(loc + 8);
    if (rec + 56 > loc || view.getUint32(rec, true) !== SIG_ZIP64_EOCD) {
      throw corrupt('the zip64 end record is missing or out of range');
    }
    count = u64(rec + 32);
    cdSize = u64(rec + 40);
    cdOffset = u64(rec + 48);
  }
  if (count > maxEntries) {
    throw new InputError(
      `the archive lists ${count} entries, more than the ${maxEntries} accepted`,
      file,
    );
  }
  if (cdOffset + cdSize > eocd) throw corrupt('the central directory lies outside the file');

  const entries = new Map<string, ZipEntry>();
  let at = cdOffset;
  for (let i = 0; i < count; i++) {
    if (at + 46 > cdOffset + cdSize || view.getUint32(at, true) !== SIG_CENTRAL) {
      throw corrupt(`central directory entry ${i} is missing or damaged`);
    }
    const flags = view.getUint16(at + 8, true);
    const method = view.getUint16(at + 10, true);
    const crc = view.getUint32(at + 16, true);
    let compressedSize = view.getUint32(at + 20, true);
    let size = view.getUint32(at + 24, true);
    const nameLen = view.getUint16(at + 28, true);
    const extraLen = view.getUint16(at + 30, true);
    const commentLen = view.getUint16(at + 32, true);
    const disk = view.getUint16(at + 34, true);
    let localOffset = view.getUint32(at + 42, true);
    const end = at + 46 + nameLen + extraLen + commentLen;
    if (end > cdOffset + cdSize) throw corrupt(`central directory entry ${i} runs past its end`);
    const name = new TextDecoder('utf-8', { fatal: false }).decode(
      bytes.subarray(at + 46, at + 46 + nameLen),
    );
    checkName(name, file);
    // Zip64 extended information: the 0xffffffff fields, in order, as u64.
    let x = at + 46 + nameLen;
    const xEnd = x + extraLen;
    while (x + 4 <= xEnd) {
      const id = view.getUint16(x, true);
      const len = view.getUint16(x + 2, true);
      if (x + 4 + len > xEnd) throw corrupt(`entry '${name}' has a damaged extra field`);
      if (id === 0x0001) {
        let p = x + 4;
        const take = (): number => {
          if (p + 8 > x + 4 + len) throw corrupt(`entry '${name}' has a short zip64 field`);
          const v = u64(p);
          p += 8;
          return v;
        };
        if (size === 0xffffffff) size = take();
        if (compressedSize === 0xffffffff) compressedSize = take();
        if (localOffset === 0xffffffff) localOffset = take();
      }
      x += 4 + len;
    }
    if (flags & 0x1) throw new InputError(`entry '${name}' is encrypted`, file);
    if (disk !== 0 && disk !== 0xffff)
      throw new InputError('multi-disk zip archives are not supported', file);
    if (method !== 0 && method !== 8) {
      throw new InputError(
        `entry '${name}' uses compression method ${method}; only stored (0) and deflate (8) are supported`,
        file,
      );
    }
    if (size > maxEntryBytes) {
      throw new InputError(
        `entry '${name}' claims ${size} bytes uncompressed, more than the ${maxEntryBytes} accepted`,
        file,
      );
    }
    // Deflate expands at most ~1032:1; a larger claim is a corrupt header or a zip bomb.
    if (method === 8 && size > compressedSize * 1032 + 1024) {
      throw corrupt(
        `entry '${name}' claims ${size} bytes from ${compressedSize} compressed, more than deflate can give`,
      );
    }
    if (method === 0 && compressedSize !== size) {
      throw corrupt(`stored entry '${name}' has compressed size ${compressedSize} ≠ size ${size}`);
    }
    if (localOffset + 30 > cdOffset) throw corrupt(`entry '${name}' starts outside the file`);
    if (entries.has(name)) throw new InputError(`the archive holds '${name}' twice`, file);
    entries.set(name, { name, method, compressedSize, size, crc, localOffset });
    at = end;
  }

  return {
    entries,
    read(name: string): Uint8Array {
      const e = entries.get(name);
      if (!e) throw new InputError(`the archive has no entry '${name}'`, file);
      const lo = e.localOffset;
      if (view.getUint32(lo, true) !== SIG_LOCAL) {
        throw corrupt(`the local header of '${name}' is missing`);
      }
      const start = lo + 30 + view.getUint16(lo + 26, true) + view.getUint16(lo + 28, true);
      if (start + e.compressedSize > cdOffset) {
        throw corrupt(`the data of '${name}' runs past the end of the entries`);
      }
      const raw = bytes.subarray(start, start + e.compressedSize);
      let out: Uint8Array;
      if (e.method === 0) {
        out = raw;
      } else {
        try {
          out = inflateRawSync(raw, { maxOutputLength: Math.max(1, e.size) });
        } catch (err) {
          throw corrupt(`entry '${name}' does not inflate (${errorMessage(err)})`);
        }
      }
      if (out.length !== e.size) {
        throw corrupt(`entry '${name}' has ${out.length} bytes, its header says ${e.size}`);
      }
      if (crc32(out) >>> 0 !== e.crc) throw corrupt(`entry '${name}' fails its CRC-32 check`);
      return out;
    },
  };
}
