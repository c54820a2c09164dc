// One path policy for everything that enters through the API, probed over a real server on
// 127.0.0.1: the real API (SQLite store, engine host running the executor) for pipeline paths
// checked at run time, and the export dialog's channel in web and desktop mode.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDefaultApi } from '../../../src/main/api/create.ts';
import type { StudioExporter } from '../../../src/main/api/ports.ts';
import type { StudioApi } from '../../../src/main/api/studio.ts';
import { startServer, type RunningServer } from '../../../src/main/server/server.ts';
import type { Pipeline } from '../../../src/shared/pipeline.ts';
import { makeTestApi, pipelineNamed, type TestApi } from './fixtures/make-api.ts';

const base = mkdtempSync(join(tmpdir(), 'd2nwg-policy-'));
const outside = join(base, 'outside');
const allowed = join(base, 'allowed');
const rendererDir = join(base, 'renderer');
mkdirSync(outside);
mkdirSync(allowed);
mkdirSync(rendererDir);
writeFileSync(join(rendererDir, 'index.html'), '<!doctype html>');

async function post<T>(s: RunningServer, channel: string, body: unknown) {
  const r = await fetch(`http://127.0.0.1:${s.port}/api/${channel}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${s.token}` },
    body: JSON.stringify(body),
  });
  return {
    status: r.status,
    body: (await r.json()) as { ok: boolean; value: T; error: { kind: string; message: string } },
  };
}

describe('pipeline paths are checked in the engine, at run time (real API over HTTP)', () => {
  let api: StudioApi;
  let server: RunningServer;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = join(base, 'real-data');
    mkdirSync(dataDir);
    symlinkSync(outside, join(dataDir, 'evil-link'));
    // Folders inside the data dir whose files lead out: a zoo manifest, a Fashion-MNIST file.
    mkdirSync(join(dataDir, 'zoo'));
    symlinkSync('/etc/passwd', join(dataDir, 'zoo', 'zoo.json'));
    mkdirSync(join(dataDir, 'fashion'));
    symlinkSync('/etc/passwd', join(dataDir, 'fashion', 'train-images-idx3-ubyte.gz'));
    api = createDefaultApi({
      mode: 'web',
      version: '0.0.0-test',
      examplesDir: join(base, 'none'),
      dbFile: join(dataDir, 'studio.db'),
      dataDir,
      allowRead: [allowed],
    });
    server = await startServer({ api, rendererDir, port: 0 });
  });
  afterAll(async () => {
    await server.close();
    await api.dispose();
  });

  it('refuses dataset sources and zoo imports outside the allowed folders, the same way whether they exist or not', async () => {
    const node = (id: string, type: string, config: unknown) => ({
      id,
      type,
      version: 1,
      config,
      position: { x: 0, y: 0 },
    });
    const pipeline: Pipeline = {
      format: 'd2nwg-pipeline',
      version: 1,
      name: 'probes',
      nodes: [
        node('passwd', 'dataset.source', {
          source: { kind: 'idx', images: '/etc/passwd', labels: '/etc/passwd' },
        }),
        node('missing', 'dataset.source', {
          source: { kind: 'idx', images: '/etc/no-such-d2nwg', labels: '/etc/no-such-d2nwg' },
        }),
        node('etc', 'dataset.source', { source: { kind: 'imagefolder', root: '/etc' } }),
        node('zooEtc', 'zoo.import', { path: '/etc' }),
        node('zooMissing', 'zoo.import', { path: '/no-such-d2nwg-zoo' }),
        node('zooLink', 'zoo.import', { path: 'evil-link' }),
        node('zooAllowed', 'zoo.import', { path: join(allowed, 'zoo') }),
        node('zooInner', 'zoo.import', { path: 'zoo' }),
        node('fashionInner', 'dataset.source', {
          source: { kind: 'fashion-mnist', variant: 'full', path: 'fashion' },
        }),
      ],
      edges: [],
    };
    const start = await post<{ runId: string }>(server, 'runs.start', { pipeline });
    expect(start.status).toBe(200);
    const { runId } = start.body.value;
    let run: { status: string; nodes: { nodeId: string; error?: string }[] } | undefined;
    for (let i = 0; i < 600; i++) {
      const r = await post<typeof run>(server, 'runs.get', { runId });
      run = r.body.value;
      if (run && run.status !== 'queued' && run.status !== 'running') break;
      await new Promise((res) => setTimeout(res, 50));
    }
    const errors = Object.fromEntries((run?.nodes ?? []).map((n) => [n.nodeId, n.error ?? '']));
    const rule = `is outside the allowed folders (data dir ${dataDir}, --allow-read ${allowed}); symlinks are followed`;
    expect(errors.passwd).toContain(`dataset file \`/etc/passwd\` ${rule}`);
    expect(errors.passwd).not.toMatch(/root:|IDX|magic/i);
    expect(errors.missing.replaceAll('/etc/no-such-d2nwg', '/etc/passwd')).toBe(errors.passwd);
    expect(errors.etc).toContain(`dataset file \`/etc\` ${rule}`);
    expect(errors.zooEtc).toContain(`zoo folder \`/etc\` ${rule}`);
    expect(errors.zooMissing.replace('/no-such-d2nwg-zoo', '/etc')).toBe(errors.zooEtc);
    expect(errors.zooLink).toContain(`zoo folder \`evil-link\` ${rule}`);
    // Inside an --allow-read root the policy passes; the loader then reports the missing zoo.
    expect(errors.zooAllowed).not.toContain('outside the allowed folders');
    expect(errors.zooAllowed).not.toBe('');
    // A file inside an allowed folder that is a symlink leading out is refused before it is read
    // (the JSON parser's error would quote the file's first bytes).
    expect(errors.zooInner).toContain(
      `file in the zoo folder \`${join(dataDir, 'zoo', 'zoo.json')}\` ${rule}`,
    );
    expect(errors.fashionInner).toContain(
      `file in the dataset folder \`${join(dataDir, 'fashion', 'train-images-idx3-ubyte.gz')}\` ${rule}`,
    );
    for (const e of Object.values(errors)) expect(e).not.toContain('root:');
  });
});

/** An exporter that really writes, so a test can see where files land. */
const writingExporter: StudioExporter = {
  preview: async () => ({ manifest: {}, files: [] }),
  exportWeights: async ({ folder }) => {
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, 'weights.npy'), 'x');
    return { manifest: {}, files: [{ name: 'weights.npy', bytes: 1 }], folder };
  },
};

describe.each(['web', 'electron'] as const)('export dialog folders (%s mode)', (mode) => {
  let t: TestApi;
  let server: RunningServer;
  let runId: string;
  beforeAll(async () => {
    t = makeTestApi(mode, writingExporter);
    symlinkSync(outside, join(t.dataDir, 'evil-link'));
    server = await startServer({ api: t.api, rendererDir, port: 0 });
    const r = await post<{ runId: string }>(server, 'runs.start', {
      pipeline: pipelineNamed('ok'),
    });
    runId = r.body.value.runId;
    await t.done(runId);
  });
  afterAll(async () => {
    await server.close();
    await t.api.dispose();
  });

  const exportTo = (folder: string) =>
    post<{ folder: string }>(server, 'export.weights', { runId, format: 'npy', folder });

  it('refuses absolute, escaping, symlinked-out and root folders with 403, writing nothing', async () => {
    const before = readdirSync(outside);
    for (const folder of [
      join(outside, 'abs'),
      `../${mode}-escaped`,
      'evil-link/pwned',
      'data/../../x',
      '.',
    ]) {
      const r = await exportTo(folder);
      expect(r.status, folder).toBe(403);
      expect(r.body.error.kind).toBe('PathDenied');
      expect(r.body.error.message).toContain(`\`${folder}\``);
    }
    expect(readdirSync(outside)).toEqual(before);
    expect(existsSync(join(t.dataDir, '..', `${mode}-escaped`))).toBe(false);
    expect(existsSync(join(t.dataDir, 'weights.npy'))).toBe(false);
  });

  it('writes inside the data dir, `..hidden-but-inside` included', async () => {
    const r = await exportTo('..hidden-but-inside');
    expect(r.status).toBe(200);
    expect(r.body.value.folder).toBe(join(t.dataDir, '..hidden-but-inside'));
    expect(existsSync(join(t.dataDir, '..hidden-but-inside', 'weights.npy'))).toBe(true);
  });
});

describe('desktop folder picker', () => {
  it('lets exports go to a folder the user picked, and only after picking it', async () => {
    const picked = mkdtempSync(join(tmpdir(), 'd2nwg-picked-'));
    const t = makeTestApi('electron', writingExporter, async () => picked);
    const server = await startServer({ api: t.api, rendererDir, port: 0 });
    try {
      const r = await post<{ runId: string }>(server, 'runs.start', {
        pipeline: pipelineNamed('ok'),
      });
      await t.done(r.body.value.runId);
      const exportTo = (folder: string) =>
        post<{ folder: string }>(server, 'export.weights', {
          runId: r.body.value.runId,
          format: 'npy',
          folder,
        });
      expect((await exportTo(join(picked, 'a'))).status).toBe(403);
      const chosen = await post<{ folder: string }>(server, 'export.chooseFolder', {});
      expect(chosen.body.value.folder).toBe(picked);
      const ok = await exportTo(join(picked, 'a'));
      expect(ok.status).toBe(200);
      expect(existsSync(join(picked, 'a', 'weights.npy'))).toBe(true);
      // Still nothing outside the data dir and the picked folder.
      expect((await exportTo(join(outside, 'b'))).status).toBe(403);
    } finally {
      await server.close();
      await t.api.dispose();
    }
  });

  it('is an error in web mode', async () => {
    const t = makeTestApi('web');
    const server = await startServer({ api: t.api, rendererDir, port: 0 });
    try {
      const r = await post(server, 'export.chooseFolder', {});
      expect(r.status).toBe(400);
      expect(r.body.error.message).toContain('no folder picker in web mode');
    } finally {
      await server.close();
      await t.api.dispose();
    }
  });
});
