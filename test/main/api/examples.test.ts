import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dispatch } from '../../../src/main/api/dispatch.ts';
import type { StudioHost } from '../../../src/main/api/ports.ts';
import { createStudioApi } from '../../../src/main/api/studio.ts';
import { unrestrictedPolicy } from '../../../src/main/paths/policy.ts';
import type { LogLine } from '../../../src/shared/ipc.ts';
import { registry } from '../../../src/shared/nodes/registry.ts';
import { MemoryStore } from './fixtures/memory-store.ts';
import { pipelineNamed } from './fixtures/make-api.ts';

// The example handlers never start a run.
const idleHost: StudioHost = {
  submit: () => Promise.reject(new Error('no runs in this test')),
  cancel: () => false,
  has: () => false,
  dispose: async () => {},
};

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function apiOver(examplesDir: string) {
  const api = createStudioApi({
    store: new MemoryStore(),
    host: idleHost,
    registry,
    validate: () => ({ ok: true, issues: [] }),
    exporter: {
      preview: async () => ({ manifest: {}, files: [] }),
      exportWeights: async ({ folder }) => ({ manifest: {}, files: [], folder }),
    },
    examplesDir,
    dataDir: examplesDir,
    paths: unrestrictedPolicy(examplesDir),
    mode: 'web',
    version: '0.0.0-test',
  });
  const logs: LogLine[] = [];
  api.hub.subscribe((channel, payload) => {
    if (channel === 'events.log') logs.push(payload as LogLine);
  });
  return { api, logs };
}

describe('example pipelines', () => {
  it('lists the good examples when one file is malformed, and says which file was left out', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'd2nwg-examples-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'a-good.json'), JSON.stringify(pipelineNamed('Good one')));
    writeFileSync(join(dir, 'b-broken.json'), '{ "format": "d2nwg-pipeline", secret-token');
    writeFileSync(join(dir, 'c-also-good.json'), JSON.stringify(pipelineNamed('Also good')));
    const { api, logs } = apiOver(dir);

    const r = await dispatch(api.handlers, 'pipelines.examples', {});
    expect(r).toEqual({
      ok: true,
      value: [
        { name: 'a-good', title: 'Good one', description: undefined },
        { name: 'c-also-good', title: 'Also good', description: undefined },
      ],
    });
    const warn = logs.find((l) => l.level === 'warn');
    expect(warn?.message).toContain('b-broken.json: not valid JSON');
    expect(warn?.message).not.toContain('secret-token');

    const open = await dispatch(api.handlers, 'pipelines.openExample', { name: 'b-broken' });
    expect(open.ok).toBe(false);
    expect(JSON.stringify(open)).toContain('b-broken.json: not valid JSON');
    expect(JSON.stringify(open)).not.toContain('secret-token');
    await api.dispose();
  });
});
