/**
 * Saving a model as a folder (a JSON descriptor + weights.safetensors) so that a reader never sees
 * half a model: everything is written into a temp folder beside the target, then renamed over it.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { errorMessage } from '../../../shared/errors.ts';

let counter = 0;

/**
 * Run `write(tmpDir)` to fill a fresh temp folder, then put it at `dir`, replacing any folder
 * there. The replaced folder is moved aside first and removed after, so `dir` always holds either
 * the old or the new complete model. On error the temp folder is removed and the old one kept.
 */
export async function writeDirAtomic(
  dir: string,
  write: (tmpDir: string) => Promise<void>,
): Promise<void> {
  const target = path.resolve(dir);
  await fsp.mkdir(path.dirname(target), { recursive: true });
  counter += 1;
  const tag = `${process.pid}-${Date.now().toString(36)}-${counter}`;
  const tmp = `${target}.tmp-${tag}`;
  const old = `${target}.old-${tag}`;
  await fsp.mkdir(tmp);
  try {
    await write(tmp);
  } catch (err) {
    await fsp.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
  let movedOld = false;
  try {
    await fsp.rename(target, old);
    movedOld = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      await fsp.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
      throw new Error(`cannot replace ${target}: ${errorMessage(err)}`, { cause: err });
    }
  }
  try {
    await fsp.rename(tmp, target);
  } catch (err) {
    if (movedOld) await fsp.rename(old, target).catch(() => undefined);
    await fsp.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw new Error(`cannot write ${target}: ${errorMessage(err)}`, { cause: err });
  }
  if (movedOld) await fsp.rm(old, { recursive: true, force: true });
}
