/**
 * Atomic file writes. A crash, a full disk or a cancelled run must never leave a half-written
 * checkpoint or manifest where a later stage would read it: we write a temp file in the same
 * directory (same filesystem, so rename is atomic), fsync it, then rename it over the target.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { errorMessage } from '../../../shared/errors.ts';

let counter = 0;

function tempPathFor(target: string): string {
  const dir = path.dirname(target);
  const base = path.basename(target);
  counter = (counter + 1) % 1_000_000;
  // Not cryptographic, only unique: the pid keeps parallel processes (workers, tests) apart.
  const tag = `${process.pid}-${counter}-${randomBytes(4).toString('hex')}`;
  return path.join(dir, `.${base}.tmp-${tag}`);
}

/** Turn a low-level fs error into one that names the file and says what went wrong, in words. */
export function describeWriteError(target: string, err: unknown): Error {
  const code =
    typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;
  const detail = errorMessage(err);
  const reasons: Record<string, string> = {
    ENOSPC: 'no space left on the device',
    EDQUOT: 'disk quota exceeded',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EROFS: 'the filesystem is read-only',
    ENOENT: 'the directory does not exist',
    ENOTDIR: 'a parent path is not a directory',
    EISDIR: 'the target is a directory',
  };
  const reason = code !== undefined ? reasons[code] : undefined;
  const msg = reason
    ? `cannot write ${target}: ${reason} (${code})`
    : `cannot write ${target}: ${detail}`;
  return new Error(msg, { cause: err });
}

/**
 * Write `data` to `target` so that readers see either the old file or the complete new one.
 * Errors (ENOSPC, EACCES…) are rethrown as an Error naming `target`; the temp file is removed.
 */
export async function writeFileAtomic(target: string, data: Uint8Array | string): Promise<void> {
  const tmp = tempPathFor(target);
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(tmp, 'wx');
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fsp.rename(tmp, target);
  } catch (err) {
    if (handle) await handle.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw describeWriteError(target, err);
  }
  await fsyncDir(path.dirname(target));
}

/** Synchronous twin of writeFileAtomic, for exit paths and small manifests. */
export function writeFileAtomicSync(target: string, data: Uint8Array | string): void {
  const tmp = tempPathFor(target);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'wx');
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, target);
  } catch (err) {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        // already failing; the original error is the one to report
      }
    }
    fs.rmSync(tmp, { force: true });
    throw describeWriteError(target, err);
  }
  try {
    const dfd = fs.openSync(path.dirname(target), 'r');
    try {
      fs.fsyncSync(dfd);
    } finally {
      fs.closeSync(dfd);
    }
  } catch {
    // Directory fsync is best effort (not supported on every platform/filesystem).
  }
}

/** Persist the rename itself; best effort because some platforms refuse fsync on directories. */
async function fsyncDir(dir: string): Promise<void> {
  let h: fsp.FileHandle | undefined;
  try {
    h = await fsp.open(dir, 'r');
    await h.sync();
  } catch {
    // best effort
  } finally {
    if (h) await h.close().catch(() => undefined);
  }
}

/**
 * Write a JSON report (benchmarks' `--out FILE`): its folder created when missing, the file
 * replaced atomically, pretty-printed with a final newline.
 */
export async function writeJsonReport(file: string, report: unknown): Promise<void> {
  await fsp.mkdir(path.dirname(path.resolve(file)), { recursive: true });
  await writeFileAtomic(file, `${JSON.stringify(report, null, 2)}\n`);
}
