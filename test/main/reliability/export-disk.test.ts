// Export to a full disk (a 1 MiB tmpfs) and to a read-only folder: the export fails with an error
// that names the file and the reason, leaves no file under a final name that is incomplete, and
// what was there before (an earlier export, the store's runs and blobs) is intact.
// A tmpfs needs root with CAP_SYS_ADMIN; without it the full-disk case is skipped with the reason.
// Root bypasses permission bits, so a read-only folder is a read-only remount when running as root
// and a chmod 0555 folder otherwise.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { run as exportNode } from '../../../src/main/nodes/export-weights.ts';
import { checkFilesComplete } from '../../../src/main/reliability/kill.ts';
import { exportContext, syntheticWeights } from '../../../src/main/reliability/synthetic.ts';
import { openStore } from '../../../src/main/store/index.ts';
import { tempDir } from '../../fixtures/datagen.ts';

const isRoot = process.getuid?.() === 0;
let dir = '';
let mounted: string | null = null;

/** Mount a tmpfs of `size` at `at`; the reason it could not, or null. */
function mountTmpfs(at: string, size: string): string | null {
  if (!isRoot) return 'mounting a tmpfs needs root';
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', at], { stdio: 'pipe' });
    mounted = at;
    return null;
  } catch (err) {
    return `mount -t tmpfs failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
  }
}

beforeEach(() => {
  dir = tempDir('export-disk');
});
afterEach(() => {
  if (mounted) execFileSync('umount', [mounted]);
  mounted = null;
  fs.chmodSync(dir, 0o755);
  for (const f of fs.readdirSync(dir, { recursive: true })) {
    fs.chmodSync(path.join(dir, String(f)), 0o755);
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Bytes of every file under `root`, by relative path. */
function snapshot(root: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of fs.readdirSync(root, { recursive: true })) {
    const p = path.join(root, String(f));
    if (fs.statSync(p).isFile()) out.set(String(f), fs.readFileSync(p).toString('base64'));
  }
  return out;
}

/**
 * A store with one finished run and its artifact, an earlier export under `target`, then an
 * export of 20 models of ~700 KB into `target` that must fail. Returns the error.
 */
async function failingExport(target: string, makeUnwritable?: () => void): Promise<Error> {
  const store = openStore(path.join(dir, 'studio.db'), { dataDir: dir });
  const earlier = store.createRun({ name: 'earlier', config: {}, status: 'running' });
  const art = store.putArtifact({
    runId: earlier.id,
    nodeId: 'zoo',
    kind: 'weights',
    bytes: new Uint8Array(1000).fill(7),
  });
  store.finishRun(earlier.id, { status: 'done' });
  await exportNode(exportContext('run_small', dir, target), {
    weights: [syntheticWeights(1, 1, [8])],
  });
  makeUnwritable?.();
  const before = snapshot(target);
  const err = await exportNode(exportContext('run_big', dir, target), {
    weights: [syntheticWeights(4, 5)],
  }).then(
    () => new Error('the export succeeded'),
    (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
  );
  // Nothing that was there is lost or changed; the store still reads its run and blob.
  const after = snapshot(target);
  for (const [f, bytes] of before) expect(after.get(f), f).toBe(bytes);
  expect(store.integrityCheck()).toBe('ok');
  expect(store.getRun(earlier.id)?.status).toBe('done');
  expect(store.verifyArtifact(art)).toBe(true);
  store.close();
  return err;
}

describe('export to a full disk or a read-only folder', () => {
  it('full disk (1 MiB tmpfs): ENOSPC named, no incomplete file, earlier files intact', async (ctx) => {
    const target = path.join(dir, 'small-disk');
    fs.mkdirSync(target);
    const why = mountTmpfs(target, '1m');
    if (why) return ctx.skip(why);
    const err = await failingExport(target);
    expect(err.message).toMatch(
      /^cannot write the export to .*small-disk\/run_big\/.+: no space left on the device \(ENOSPC\); nothing was written$/,
    );
    const files = await checkFilesComplete(target);
    expect(files.check.detail).toMatch(/files complete/);
    expect(files.check.ok).toBe(true);
    expect(files.temps).toBe(0);
  });

  it('read-only folder: a clear error, nothing written, earlier files intact', async (ctx) => {
    const target = path.join(dir, 'read-only');
    fs.mkdirSync(target);
    let makeUnwritable: () => void;
    if (isRoot) {
      const why = mountTmpfs(target, '4m');
      if (why) return ctx.skip(`running as root (permission bits do not apply) and ${why}`);
      makeUnwritable = () => execFileSync('mount', ['-o', 'remount,ro', target], { stdio: 'pipe' });
    } else {
      makeUnwritable = () => fs.chmodSync(target, 0o555);
    }
    const err = await failingExport(target, makeUnwritable);
    expect(err.message).toMatch(
      /^cannot write .*read-only\/run_big: (the filesystem is read-only \(EROFS\)|permission denied \(EACCES\))$/,
    );
    expect(fs.existsSync(path.join(target, 'run_big'))).toBe(false);
    expect((await checkFilesComplete(target)).check.ok).toBe(true);
  });
});
