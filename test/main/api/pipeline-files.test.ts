// Pipelines as files through the API over the real SQLite store: import (strict, with the key
// meant for a typo), rename, delete (runs stay) and the desktop save dialog.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dispatch } from '../../../src/main/api/dispatch.ts';
import { SqliteStudioStore } from '../../../src/main/api/store-adapter.ts';
import { createStudioApi, type StudioApi } from '../../../src/main/api/studio.ts';
import { EngineHost } from '../../../src/main/host/engine-host.ts';
import { confinedPolicy } from '../../../src/main/paths/policy.ts';
import { openStore } from '../../../src/main/store/index.ts';
import type { Envelope, PipelineDoc, PipelineSummary } from '../../../src/shared/ipc.ts';
import { registry } from '../../../src/shared/nodes/registry.ts';
import { pipelineFileName, type Pipeline } from '../../../src/shared/pipeline.ts';
import { fakeEntry, noExport } from './fixtures/make-api.ts';

const QUICKSTART = join(import.meta.dirname, '..', '..', '..', 'resources', 'pipelines');
const quickstartText = readFileSync(join(QUICKSTART, 'quickstart.json'), 'utf8');

let dir: string;
let store: SqliteStudioStore;
let api: StudioApi;
const saved: { name: string; text: string }[] = [];

function start(saveFile?: (name: string, text: string) => Promise<string | null>) {
  store = new SqliteStudioStore(openStore(join(dir, 'studio.db'), { dataDir: dir }));
  api = createStudioApi({
    store,
    host: new EngineHost({ workerData: { entry: fakeEntry } }),
    registry,
    validate: () => ({ ok: true, issues: [] }),
    exporter: noExport,
    examplesDir: QUICKSTART,
    dataDir: dir,
    paths: confinedPolicy({ dataDir: dir }),
    mode: saveFile ? 'electron' : 'web',
    ...(saveFile ? { saveFile } : {}),
    version: '0.0.0-test',
  });
}

async function call<T>(channel: string, params: unknown): Promise<T> {
  const r = (await dispatch(api.handlers, channel, params)) as Envelope<T>;
  if (!r.ok) throw new Error(`${r.error.kind}: ${r.error.message}`);
  return r.value;
}

async function refusal(
  channel: string,
  params: unknown,
): Promise<{ kind: string; message: string }> {
  const r = await dispatch(api.handlers, channel, params);
  if (r.ok) throw new Error(`${channel} was accepted`);
  return r.error;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'd2nwg-files-'));
  saved.length = 0;
});
afterEach(async () => {
  await api.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe('pipelines as files', () => {
  it('imports a pipeline file, saves it once and lists it', async () => {
    start();
    const doc = await call<PipelineDoc>('pipelines.import', {
      fileName: 'quickstart.json',
      text: quickstartText,
    });
    expect(doc.name).toBe('quickstart');
    expect(doc.pipeline.nodes).toHaveLength(JSON.parse(quickstartText).nodes.length);
    const list = await call<PipelineSummary[]>('pipelines.list', {});
    expect(list.map((p) => [p.id, p.name])).toEqual([[doc.id, 'quickstart']]);
    const back = await call<PipelineDoc>('pipelines.get', { id: doc.id });
    expect(back.pipeline).toEqual(doc.pipeline);
  });

  it('refuses a misspelled config key, naming the file, the node and the key meant', async () => {
    start();
    const json = JSON.parse(quickstartText) as Pipeline;
    const nodes = json.nodes.map((n) =>
      n.id === 'vae' ? { ...n, config: Object.assign({ epoch: 4 }, n.config) } : n,
    );
    const err = await refusal('pipelines.import', {
      fileName: 'typo.json',
      text: JSON.stringify({ ...json, nodes }),
    });
    expect(err.kind).toBe('InputError');
    expect(err.message).toMatch(/^typo\.json: not a pipeline this studio can open: node 'vae': /);
    expect(err.message).toContain('`epoch`: unknown key; did you mean `epochs`?');
    expect(await call<PipelineSummary[]>('pipelines.list', {})).toEqual([]);
  });

  it('refuses text that is not JSON or not a pipeline, without echoing the file', async () => {
    start();
    const secret = 'token=abc123 not json at all';
    const notJson = await refusal('pipelines.import', { fileName: 'notes.txt', text: secret });
    expect(notJson.message).toMatch(/^notes\.txt: not valid JSON/);
    expect(notJson.message).not.toContain('abc123');
    const other = await refusal('pipelines.import', {
      fileName: 'package.json',
      text: JSON.stringify({ name: 'x', version: '1.0.0', secret: 'abc123' }),
    });
    expect(other.message).toMatch(/^package\.json: not a pipeline this studio can open: /);
    expect(other.message).not.toContain('abc123');
    const big = await refusal('pipelines.import', {
      fileName: 'big.json',
      text: ' '.repeat(4_000_001),
    });
    expect(big).toMatchObject({ kind: 'ArgsError' });
    expect(big.message).toContain('larger than 4 MB');
  });

  it('imports an unfinished graph (an input not yet connected)', async () => {
    start();
    const json = JSON.parse(quickstartText) as Pipeline;
    const doc = await call<PipelineDoc>('pipelines.import', {
      fileName: 'wip.json',
      text: JSON.stringify({ ...json, edges: json.edges.slice(1) }),
    });
    expect(doc.pipeline.edges).toHaveLength(json.edges.length - 1);
  });

  it('renames a saved pipeline in the list and in the file', async () => {
    start();
    const doc = await call<PipelineDoc>('pipelines.import', {
      fileName: 'q.json',
      text: quickstartText,
    });
    const renamed = await call<PipelineSummary>('pipelines.rename', { id: doc.id, name: ' Mine ' });
    expect(renamed).toMatchObject({ id: doc.id, name: 'Mine' });
    expect((await call<PipelineDoc>('pipelines.get', { id: doc.id })).pipeline.name).toBe('Mine');
    expect(await refusal('pipelines.rename', { id: 'pl_nope', name: 'x' })).toMatchObject({
      kind: 'NotFound',
    });
    expect((await refusal('pipelines.rename', { id: doc.id, name: '  ' })).message).toContain(
      'give the pipeline a name',
    );
  });

  it('deletes a pipeline and keeps its runs', async () => {
    start();
    const doc = await call<PipelineDoc>('pipelines.import', {
      fileName: 'q.json',
      text: quickstartText,
    });
    const runId = store.createRun({ pipeline: doc.pipeline, pipelineId: doc.id, seed: 1 });
    expect(await call('pipelines.delete', { id: doc.id })).toEqual({ deleted: true });
    expect(await call<PipelineSummary[]>('pipelines.list', {})).toEqual([]);
    expect(await call('pipelines.delete', { id: doc.id })).toEqual({ deleted: false });
    const run = await call<{ id: string; name: string }>('runs.get', { runId });
    expect(run).toMatchObject({ id: runId, name: 'quickstart' });
  });

  it('exports through the save dialog in the app, and says to download in web mode', async () => {
    start();
    const pipeline = JSON.parse(quickstartText) as Pipeline;
    expect((await refusal('pipelines.exportFile', { pipeline })).message).toContain(
      'no save dialog in web mode',
    );
    await api.dispose();
    start(async (name, text) => {
      saved.push({ name, text });
      return name === 'quickstart.json' ? join(dir, name) : null;
    });
    const r = await call<{ file: string | null }>('pipelines.exportFile', { pipeline });
    expect(r.file).toBe(join(dir, 'quickstart.json'));
    expect(saved).toHaveLength(1);
    expect(JSON.parse(saved[0].text)).toEqual(pipeline);
    const cancelled = await call<{ file: string | null }>('pipelines.exportFile', {
      pipeline: { ...pipeline, name: 'other one' },
    });
    expect(cancelled.file).toBeNull();
    expect(saved[1].name).toBe('other-one.json');
  });

  it('names files after the pipeline, safely', () => {
    expect(pipelineFileName('My pipeline / v2')).toBe('My-pipeline-v2.json');
    expect(pipelineFileName('../../etc')).toBe('etc.json');
    expect(pipelineFileName('  ')).toBe('pipeline.json');
  });
});
