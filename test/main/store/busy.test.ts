import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { openStore } from '../../../src/main/store/index.ts';

const fixture = fileURLToPath(new URL('./fixtures/busy-writer.ts', import.meta.url));
let dir = '';

afterEach(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function writer(dbFile: string, go: string, name: string, count: number) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', fixture, dbFile, go, name, String(count)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise<{ code: number | null; out: string }>((resolve) =>
    child.on('exit', (code) => resolve({ code, out })),
  );
}

it('lets two processes (the CLI and the app) create and write one DB at once without SQLITE_BUSY', async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-busy-'));
  const dbFile = path.join(dir, 'studio.db');
  const go = path.join(dir, 'go');
  const count = 300;
  // Both open a DB that does not exist yet (racing on creation and migration), then write.
  const a = writer(dbFile, go, 'cli', count);
  const b = writer(dbFile, go, 'app', count);
  await new Promise((r) => setTimeout(r, 1500));
  fs.writeFileSync(go, '');
  const [ra, rb] = await Promise.all([a, b]);
  expect(ra.out).not.toContain('SQLITE_BUSY');
  expect(rb.out).not.toContain('SQLITE_BUSY');
  expect([ra.code, rb.code, ra.out.trim(), rb.out.trim()]).toEqual([0, 0, 'ok', 'ok']);
  const store = openStore(dbFile);
  try {
    expect(store.listRuns({ limit: 1000 }).runs).toHaveLength(2 * count);
    expect(store.listPipelines()).toHaveLength(2 * count);
    expect(store.integrityCheck()).toBe('ok');
  } finally {
    store.close();
  }
}, 60_000);
