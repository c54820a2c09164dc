/**
 * Content-addressed files for artifact payloads: `<dataDir>/blobs/<sha[0:2]>/<sha>`. Large tensors
 * stay out of the database (DESIGN.md "Storage"); addressing by sha256 gives dedup for free and
 * lets a reader re-verify a file. Every file is written to a temp name in the same folder, synced,
 * then renamed, so a blob path either does not exist or holds the complete payload.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { errnoCode } from '../engine/formats/file-errors.ts';

const CHUNK = 1 << 20;

/** Where a blob with this hash lives, relative to the data dir (the form stored in the DB). */
export function blobRelPath(sha256: string): string {
  return path.posix.join('blobs', sha256.slice(0, 2), sha256);
}

export function sha256Of(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Hash a file in chunks, without loading it whole. */
export function sha256OfFile(file: string): string {
  const h = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, CHUNK, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

function tempName(final: string): string {
  return `${final}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
}

function removeQuietly(file: string): void {
  try {
    fs.rmSync(file, { force: true });
  } catch {
    // best effort: the temp file is garbage either way
  }
}

/** Result of putting a payload into the blob folder. */
export interface PutBlobResult {
  readonly sha256: string;
  readonly bytes: number;
  /** Relative to the data dir. */
  readonly relPath: string;
  /** False when an identical blob was already there. */
  readonly written: boolean;
}

function blobAlreadyThere(final: string, bytes: number): boolean {
  try {
    return fs.statSync(final).size === bytes;
  } catch {
    return false;
  }
}

/** Store in-memory bytes; dedups on sha256. */
export function putBlobBytes(dataDir: string, data: Uint8Array): PutBlobResult {
  const sha256 = sha256Of(data);
  const relPath = blobRelPath(sha256);
  const final = path.join(dataDir, relPath);
  if (blobAlreadyThere(final, data.byteLength)) {
    return { sha256, bytes: data.byteLength, relPath, written: false };
  }
  fs.mkdirSync(path.dirname(final), { recursive: true });
  const tmp = tempName(final);
  try {
    const fd = fs.openSync(tmp, 'w');
    try {
      fs.writeSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, final);
  } catch (err) {
    removeQuietly(tmp);
    throw err;
  }
  return { sha256, bytes: data.byteLength, relPath, written: true };
}

/**
 * Store a file's content: copied to a temp file in the blob folder while hashing (one read), then
 * renamed to its hash, or dropped when that hash is already stored.
 */
export function putBlobFile(dataDir: string, source: string): PutBlobResult {
  const staging = path.join(dataDir, 'blobs');
  fs.mkdirSync(staging, { recursive: true });
  const tmp = tempName(path.join(staging, 'incoming'));
  const h = createHash('sha256');
  let bytes = 0;
  try {
    const inFd = fs.openSync(source, 'r');
    try {
      const outFd = fs.openSync(tmp, 'w');
      try {
        const buf = Buffer.allocUnsafe(CHUNK);
        for (;;) {
          const n = fs.readSync(inFd, buf, 0, CHUNK, null);
          if (n === 0) break;
          h.update(buf.subarray(0, n));
          fs.writeSync(outFd, buf, 0, n);
          bytes += n;
        }
        fs.fsyncSync(outFd);
      } finally {
        fs.closeSync(outFd);
      }
    } finally {
      fs.closeSync(inFd);
    }
    const sha256 = h.digest('hex');
    const relPath = blobRelPath(sha256);
    const final = path.join(dataDir, relPath);
    if (blobAlreadyThere(final, bytes)) {
      removeQuietly(tmp);
      return { sha256, bytes, relPath, written: false };
    }
    fs.mkdirSync(path.dirname(final), { recursive: true });
    fs.renameSync(tmp, final);
    return { sha256, bytes, relPath, written: true };
  } catch (err) {
    removeQuietly(tmp);
    throw err;
  }
}

/** Remove a blob file and its shard folder when that becomes empty. */
export function removeBlob(dataDir: string, relPath: string): boolean {
  const file = path.join(dataDir, relPath);
  let removed = false;
  try {
    fs.unlinkSync(file);
    removed = true;
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
  try {
    fs.rmdirSync(path.dirname(file));
  } catch {
    // not empty, or already gone
  }
  return removed;
}
