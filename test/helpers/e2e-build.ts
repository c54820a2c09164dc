/**
 * What the browser end-to-end tests share: where the built renderer and the screenshots live,
 * and a build of the renderer when it is missing or older than its sources.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const RENDERER = join(ROOT, 'out', 'renderer');
/** Screenshots of the e2e tests (git-ignored). */
export const SHOTS = join(ROOT, 'test', 'artifacts');

/** Newest mtime under a folder. */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** Build the renderer when it is missing or older than its sources. */
export function ensureBuilt(): void {
  const index = join(RENDERER, 'index.html');
  const stale =
    !existsSync(index) ||
    statSync(index).mtimeMs <
      Math.max(newest(join(ROOT, 'src', 'renderer')), newest(join(ROOT, 'src', 'shared')));
  if (stale) execFileSync('npx', ['electron-vite', 'build'], { cwd: ROOT, stdio: 'inherit' });
}
