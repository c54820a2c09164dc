/**
 * The Python side of the export read-back tests: /usr/bin/python3 with NumPy only (Debian's
 * python3-numpy, which .ci/run installs) runs test/main/engine/export/readback.py on an export.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';

export const PYTHON = '/usr/bin/python3';
const READBACK = path.join(import.meta.dirname, '..', 'main', 'engine', 'export', 'readback.py');

/** Why the Python read-back cannot run here, or null when it can. */
export function pythonNumpyMissing(): string | null {
  if (!fs.existsSync(PYTHON)) return `${PYTHON} not found (apt-get install python3-numpy)`;
  const r = spawnSync(PYTHON, ['-c', 'import numpy'], { encoding: 'utf8' });
  return r.status === 0
    ? null
    : `${PYTHON} cannot import numpy (apt-get install python3-numpy): ${r.stderr.trim()}`;
}

/**
 * Whether the read-back can run: true; false (after calling `skip` with the reason) locally
 * without Python/NumPy; throws when `CI` is set, where it must run.
 */
export function needPythonNumpy(skip: (note: string) => void): boolean {
  const missing = pythonNumpyMissing();
  if (missing === null) return true;
  if (process.env.CI) {
    throw new Error(`the export read-back test needs Python with NumPy in CI: ${missing}`);
  }
  skip(`skipped: ${missing}`);
  return false;
}

/** One export folder's result from readback.py. */
export interface ReadbackResult {
  readonly kind: string;
  readonly accuracy: number;
  readonly manifestAccuracy: number | null;
}

/** Run readback.py on raw inputs `x.npy`, labels `y.npy` and export folders. */
export function readback(
  xNpy: string,
  yNpy: string,
  folders: readonly string[],
): Record<string, ReadbackResult> {
  const r = spawnSync(PYTHON, [READBACK, xNpy, yNpy, ...folders], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  expect(r.status, `readback.py failed:\n${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout) as Record<string, ReadbackResult>;
}
