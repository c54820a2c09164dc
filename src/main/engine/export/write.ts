/**
 * All-or-nothing writing of an export's files. Every file is first written to a temp name in the
 * output folder; only when all of them are complete are they renamed into place. On any failure
 * (ENOSPC, EACCES, EROFS…) the temp files, any file already renamed by this export and a folder
 * this export created are removed, so a failed export leaves nothing behind that looks usable.
 */
import { randomBytes } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { errnoCode, fileErrorReason } from '../formats/file-errors.ts';

/** The file operations an export needs; tests substitute failing ones. */
export interface ExportFs {
  mkdir(dir: string, opts: { recursive: true }): Promise<string | undefined>;
  writeFile(file: string, data: Uint8Array): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  rm(file: string, opts: { force: true }): Promise<void>;
  rmdir(dir: string): Promise<void>;
}

/** node:fs/promises, with the data synced before the rename. */
export const nodeExportFs: ExportFs = {
  mkdir: (dir, opts) => fsp.mkdir(dir, opts),
  async writeFile(file, data) {
    const h = await fsp.open(file, 'wx');
    try {
      await h.writeFile(data);
      await h.sync();
    } finally {
      await h.close();
    }
  },
  rename: (from, to) => fsp.rename(from, to),
  rm: (file, opts) => fsp.rm(file, opts),
  rmdir: (dir) => fsp.rmdir(dir),
};

export interface PlannedFile {
  /** File name inside the output folder (no separators). */
  readonly name: string;
  readonly data: Uint8Array;
}

/** A failed export: says which folder, which file and why, in words. */
export class ExportWriteError extends Error {
  override readonly name = 'ExportWriteError';
  constructor(
    readonly dir: string,
    readonly file: string | null,
    readonly code: string | undefined,
    cause: unknown,
  ) {
    const reason = fileErrorReason(cause, code);
    super(
      `cannot write the export to ${dir}${file ? ` (${file})` : ''}: ${reason}${code ? ` (${code})` : ''}; nothing was written`,
      { cause },
    );
  }
}

async function firstMissingAncestor(dir: string): Promise<string | null> {
  let missing: string | null = null;
  let cur = dir;
  for (;;) {
    try {
      await fsp.stat(cur);
      return missing;
    } catch {
      missing = cur;
      const parent = path.dirname(cur);
      if (parent === cur) return missing;
      cur = parent;
    }
  }
}

/** Write `files` into `dir` all-or-nothing; returns their absolute paths in order. */
export async function writeAllOrNothing(
  dir: string,
  files: readonly PlannedFile[],
  io: ExportFs = nodeExportFs,
): Promise<string[]> {
  for (const f of files) {
    if (f.name !== path.basename(f.name) || f.name.startsWith('.') || f.name === '') {
      throw new Error(`export file name '${f.name}' is not a plain file name`);
    }
  }
  const createdRoot = await firstMissingAncestor(dir);
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const temps: string[] = [];
  const placed: string[] = [];
  let current: string | null = null;
  try {
    await io.mkdir(dir, { recursive: true });
    for (const f of files) {
      current = f.name;
      const tmp = path.join(dir, `.${f.name}.tmp-${tag}`);
      temps.push(tmp);
      await io.writeFile(tmp, f.data);
    }
    for (let i = 0; i < files.length; i++) {
      current = files[i].name;
      const final = path.join(dir, files[i].name);
      await io.rename(temps[i], final);
      placed.push(final);
    }
    return placed;
  } catch (err) {
    for (const p of [...temps, ...placed]) await io.rm(p, { force: true }).catch(() => undefined);
    if (createdRoot !== null) {
      // Remove the folders this export created, innermost first, if they are empty.
      let d = dir;
      for (;;) {
        await io.rmdir(d).catch(() => undefined);
        if (d === createdRoot || path.dirname(d) === d) break;
        d = path.dirname(d);
      }
    }
    throw new ExportWriteError(dir, current, errnoCode(err), err);
  }
}
