// kill -9 during a zoo build with workers (`d2nwg run` as a child), during an export and during a
// schema migration: afterwards integrity_check is ok, the run is `interrupted`, the store takes
// writes, and no file under a final name is incomplete.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeSafetensors } from '../../../src/main/engine/formats/safetensors.ts';
import {
  checkFilesComplete,
  killDuringExport,
  killDuringMigration,
  killDuringZooBuild,
  type KillOutcome,
} from '../../../src/main/reliability/kill.ts';
import { tempDir } from '../../fixtures/datagen.ts';

let dir = '';
afterEach(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** Every check of the outcome, as `check: ok` lines, so a failure shows which and why. */
function failed(o: KillOutcome): string[] {
  return o.checks.filter((c) => !c.ok).map((c) => `${c.check}: ${c.detail}`);
}

describe('kill -9', () => {
  it('mid zoo build (d2nwg run, 2 worker threads): integrity ok, run interrupted', async () => {
    dir = tempDir('kill-zoo');
    const o = await killDuringZooBuild(dir);
    expect(o.killedAt).toMatch(/^zoo member \d+\/9600 .*epoch \d+\/400/);
    expect(failed(o)).toEqual([]);
    expect(o.checks.map((c) => c.check)).toContain('killed run is interrupted');
    expect(o.survived).toBe(true);
  }, 60_000);

  it('mid export: integrity ok, run interrupted, every exported file complete', async () => {
    dir = tempDir('kill-export');
    const o = await killDuringExport(dir);
    expect(o.killedAt).toBe('model 7');
    expect(failed(o)).toEqual([]);
    // At least the 7 models reported before the kill are on disk, each with its manifest.
    const done = fs
      .readdirSync(dir, { recursive: true })
      .filter((f) => String(f).endsWith('manifest.json'));
    expect(done.length).toBeGreaterThanOrEqual(7);
    expect(done.length).toBeLessThan(200);
  }, 60_000);

  it('mid migration: the transaction rolls back and the next open migrates', async () => {
    dir = tempDir('kill-migration');
    const o = await killDuringMigration(dir);
    expect(o.killedAt).toBe('inside migration');
    expect(failed(o)).toEqual([]);
    expect(o.survived).toBe(true);
  }, 60_000);

  it('the completeness check catches a truncated file under its final name', async () => {
    dir = tempDir('kill-check');
    const bytes = encodeSafetensors({
      w: { dtype: 'F32', shape: [64], data: new Float32Array(64) },
    });
    fs.writeFileSync(path.join(dir, 'whole.safetensors'), bytes);
    fs.writeFileSync(path.join(dir, '.cut.safetensors.tmp-1-2-ab'), bytes.subarray(0, 40));
    expect((await checkFilesComplete(dir)).check.ok).toBe(true);
    expect((await checkFilesComplete(dir)).temps).toBe(1);
    fs.writeFileSync(path.join(dir, 'cut.safetensors'), bytes.subarray(0, 40));
    const r = await checkFilesComplete(dir);
    expect(r.check.ok).toBe(false);
    expect(r.check.detail).toContain('cut.safetensors');
  });
});
