import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { openStore } from '../../../src/main/store/index.ts';

const fixture = fileURLToPath(new URL('./fixtures/kill-writer.ts', import.meta.url));
let dir = '';

afterEach(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

interface Report {
  committed: { runId: string; artifacts: { id: string; sha256: string }[] }[];
  live: string;
}

it('survives kill -9 mid-write: integrity ok, run interrupted, earlier data intact', async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-kill-'));
  const dbFile = path.join(dir, 'studio.db');
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, dbFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.on('exit', (code, signal) => resolve(signal ?? code)),
  );

  // Wait for the report, then for 200 loop steps (metrics + checkpoint blobs being written).
  const report = await new Promise<Report>((resolve, reject) => {
    let buf = '';
    let rep: Report | null = null;
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith('{')) rep = JSON.parse(line) as Report;
        else if (line === 'step 200' && rep) {
          child.kill('SIGKILL');
          resolve(rep);
        }
      }
    });
    void exited.then((how) => reject(new Error(`writer exited early (${String(how)}): ${stderr}`)));
  });
  expect(await exited).toBe('SIGKILL');

  const store = openStore(dbFile);
  try {
    expect(store.integrityCheck()).toBe('ok');
    expect(store.interruptedAtOpen).toEqual([report.live]);
    const killed = store.getRun(report.live);
    expect(killed?.status).toBe('interrupted');
    expect(killed?.nodes[0].status).toBe('interrupted');
    // at least the 200 steps reported before the kill were committed
    expect(store.metricsOf(report.live, 'loss').length).toBeGreaterThanOrEqual(200);
    for (const a of store.artifactsOf(report.live)) expect(store.verifyArtifact(a)).toBe(true);

    expect(report.committed).toHaveLength(3);
    for (const c of report.committed) {
      const run = store.getRun(c.runId);
      expect(run?.status).toBe('done');
      expect(store.metricsOf(c.runId)).toHaveLength(1);
      const arts = store.artifactsOf(c.runId);
      expect(arts.map((a) => [a.id, a.sha256])).toEqual(c.artifacts.map((a) => [a.id, a.sha256]));
      for (const a of arts) {
        expect(store.verifyArtifact(a)).toBe(true);
        expect(store.readArtifact(a).byteLength).toBe(a.bytes);
      }
    }
  } finally {
    store.close();
  }
});
