/**
 * Where an export may go. Exports triggered from a pipeline or the server take the output folder
 * from user-editable JSON, so a folder like `../../.ssh` must not let them write outside the
 * area they were given. Symlinks are resolved too: a link inside the base pointing outside it is
 * an escape like any other.
 */
import fs from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors.ts';
import { describeWriteError } from '../formats/atomic.ts';

/** The real path of `p`, or of its deepest existing ancestor with the rest appended. */
function realPathLenient(p: string): string {
  const missing: string[] = [];
  let cur = p;
  for (;;) {
    try {
      return path.join(fs.realpathSync(cur), ...missing.reverse());
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
      const parent = path.dirname(cur);
      if (parent === cur) return path.join(cur, ...missing.reverse());
      missing.push(path.basename(cur));
      cur = parent;
    }
  }
}

function inside(base: string, target: string): boolean {
  const rel = path.relative(base, target);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Resolve the export folder. With `baseDir`, `outDir` (relative to it, or absolute) must stay
 * inside it after resolving `..` and symlinks; otherwise an InputError names the folder.
 */
export function resolveOutDir(outDir: string, baseDir?: string): string {
  if (outDir.trim() === '') throw new InputError('the output folder is empty', 'outDir');
  if (outDir.includes('\0'))
    throw new InputError('the output folder contains a NUL byte', 'outDir');
  if (baseDir === undefined) return path.resolve(outDir);
  const base = path.resolve(baseDir);
  const target = path.resolve(base, outDir);
  if (!inside(base, target) || !inside(realPathLenient(base), realPathLenient(target))) {
    throw new InputError(
      `'${outDir}' resolves to ${target}, outside the allowed folder ${base}`,
      'outDir',
    );
  }
  return target;
}

/**
 * Create and return a fresh folder `<root>/<name>` for one run's export; when that folder already
 * exists (the run was exported before), `<name>-2`, `<name>-3`… instead, so an export never
 * overwrites or mixes with an earlier one. mkdir without `recursive` makes the claim atomic.
 */
export async function reserveExportFolder(root: string, name: string): Promise<string> {
  if (name !== path.basename(name) || name === '' || name.startsWith('.')) {
    throw new InputError(`'${name}' is not a plain folder name`, 'outDir');
  }
  try {
    await fs.promises.mkdir(root, { recursive: true });
  } catch (err) {
    throw describeWriteError(root, err);
  }
  for (let i = 1; i < 10_000; i++) {
    const dir = path.join(root, i === 1 ? name : `${name}-${i}`);
    try {
      await fs.promises.mkdir(dir);
      return dir;
    } catch (err) {
      // A read-only or full filesystem says so in words, naming the folder.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw describeWriteError(dir, err);
    }
  }
  throw new InputError(`too many exports of '${name}' in ${root}`, 'outDir');
}
