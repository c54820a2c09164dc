import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../../src/main/cli/main.ts';
import { encodeWeightsArtifact } from '../../../../src/main/engine/export/artifact.ts';
import { layoutOf } from '../../../../src/main/engine/nn/architecture.ts';
import { initParams } from '../../../../src/main/engine/nn/params.ts';
import { Rng } from '../../../../src/main/engine/rng.ts';
import { openStore } from '../../../../src/main/store/index.ts';

let dir: string;
let db: string;
let runA: string;
let runB: string;
let vectors: Float32Array[];
const layout = layoutOf({
  kind: 'mlp',
  inputDim: 4,
  hidden: [3],
  outputs: 2,
  activation: 'leaky_relu',
});

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi
    .spyOn(console, 'log')
    .mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  const error = vi
    .spyOn(console, 'error')
    .mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  try {
    const code = await main(argv);
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-cli-runs-'));
  db = path.join(dir, 'studio.db');
  const s = openStore(db);
  const a = s.createRun({
    name: 'mnist d2nwg',
    config: {},
    seed: 1,
    backend: 'wasm',
    status: 'running',
    at: 1000,
  });
  const b = s.createRun({
    name: 'svhn d2nwg',
    config: {},
    seed: 2,
    backend: 'wasm',
    status: 'running',
    at: 2000,
  });
  runA = a.id;
  runB = b.id;
  vectors = [initParams(layout, new Rng(1)), initParams(layout, new Rng(2))];
  const enc = encodeWeightsArtifact(layout, vectors, {
    dataset: 'mnist, 5 per class',
    head: 'discriminant (train)',
    metrics: { meanAccuracy: 0.5 },
    sampleMetrics: [
      { supportAccuracy: 0.9, testAccuracy: 0.61 },
      { supportAccuracy: 0.95, testAccuracy: 0.72 },
    ],
    accuracyOn: 'the 10 test samples of task t0',
    task: { id: 't0', split: 'seen', classes: [7, 3], classNames: ['seven', 'three'] },
    features: {
      kind: 'pca',
      inputShape: [2, 3],
      inputScale: 1 / 255,
      mean: new Float32Array(6).fill(0.5),
      basis: Float32Array.from({ length: 24 }, (_, i) => (i % 7) / 7),
      scale: null,
    },
  });
  s.putArtifact({
    runId: runA,
    nodeId: 'sampler',
    kind: 'weights',
    bytes: enc.bytes,
    shape: enc.shape,
    meta: enc.meta,
  });
  s.putArtifact({ runId: runA, nodeId: 'zoo', kind: 'zoo', bytes: new Uint8Array([1, 2]) });
  s.upsertNodeRun({
    runId: runA,
    nodeId: 'sampler',
    type: 'sample',
    status: 'done',
    started: 1000,
    finished: 3000,
  });
  s.addMetrics(runA, 'eval', [
    { key: 'accuracy/d2nwg', step: 0, value: 0.781 },
    { key: 'accuracy/d2nwg', step: 1, value: 0.833 },
    { key: 'accuracy/randinit', step: 1, value: 0.42 },
  ]);
  s.addMetrics(runB, 'eval', [{ key: 'accuracy/d2nwg', step: 0, value: 0.589 }]);
  s.finishRun(runA, { status: 'done', at: 5000 });
  s.finishRun(runB, { status: 'failed', error: 'boom', at: 6000 });
  s.close();
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('d2nwg runs', () => {
  it('lists runs, filters by status, and refuses a bad status', async () => {
    const all = await cli('runs', 'list', '--db', db);
    expect(all.code).toBe(0);
    expect(all.out).toContain(runA);
    expect(all.out).toContain(runB);
    expect(all.out.indexOf(runB)).toBeLessThan(all.out.indexOf(runA)); // newest first
    const done = await cli('runs', 'list', '--status', 'done', '--db', db);
    expect(done.out).toContain(runA);
    expect(done.out).not.toContain(runB);
    const json = JSON.parse((await cli('runs', 'list', '--json', '--db', db)).out) as {
      total: number;
    };
    expect(json.total).toBe(2);
    const bad = await cli('runs', 'list', '--status', 'finished', '--db', db);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--status must be one of/);
  });

  it('names, tags and notes a run with set; list shows and filters them', async () => {
    const set = await cli(
      'runs',
      'set',
      runA.slice(0, 10),
      '--name',
      'mnist lr 1e-3',
      '--tags',
      'baseline, mnist,',
      '--notes',
      'first good run\nsecond line',
      '--db',
      db,
    );
    expect(set).toMatchObject({ code: 0, err: '' });
    expect(set.out).toBe(
      `run ${runA}  mnist lr 1e-3  tags: baseline, mnist  notes: first good run …`,
    );
    const all = await cli('runs', 'list', '--db', db);
    const header = all.out.split('\n')[0];
    expect(header).toMatch(/^id\s+name\s+tags\s+status/);
    const rowA = all.out.split('\n').find((l) => l.startsWith(runA));
    expect(rowA).toMatch(/mnist lr 1e-3\s+baseline,mnist\s+done/);
    const tagged = await cli('runs', 'list', '--tag', 'baseline', '--db', db);
    expect(tagged.out).toContain(runA);
    expect(tagged.out).not.toContain(runB);
    const byNote = await cli('runs', 'list', '--search', 'GOOD RUN', '--db', db);
    expect(byNote.out).toContain(runA);
    expect(byNote.out).not.toContain(runB);
    expect((await cli('runs', 'show', runA, '--db', db)).out).toContain('tags baseline, mnist');
    // --tags '' clears them.
    expect((await cli('runs', 'set', runA, '--tags', '', '--db', db)).out).toContain('tags: -');
  });

  it('refuses bad set requests with exit code 2 and a message naming the field', async () => {
    const bad = await cli('runs', 'set', runA, '--tags', 'ok,bad!tag', '--db', db);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain(
      `run '${runA}': tags[1]: a tag may only hold letters, digits and _ - . : / +`,
    );
    const empty = await cli('runs', 'set', runA, '--name', ' ', '--db', db);
    expect(empty.code).toBe(2);
    expect(empty.err).toContain('name: a run name cannot be empty');
    const nothing = await cli('runs', 'set', runA, '--db', db);
    expect(nothing.code).toBe(2);
    expect(nothing.err).toContain('give --name, --tags or --notes');
    expect((await cli('runs', 'set', 'run_nope', '--name', 'x', '--db', db)).err).toContain(
      "unknown run 'run_nope'",
    );
    const show = await cli('runs', 'show', runA, '--db', db);
    expect(show.out).toContain(`run ${runA}  mnist d2nwg  [done]`);
    expect(show.out).not.toContain('tags ');
  });

  it('says so when the default database does not exist yet', async () => {
    const prev = process.env.XDG_DATA_HOME;
    process.env.XDG_DATA_HOME = path.join(dir, 'xdg');
    try {
      const r = await cli('runs', 'list');
      expect(r.code).toBe(0);
      expect(r.out).toContain(path.join(dir, 'xdg', 'd2nwg-studio', 'studio.db'));
      expect(fs.existsSync(path.join(dir, 'xdg'))).toBe(false);
      expect((await cli('runs', 'show', 'x')).code).toBe(2);
    } finally {
      if (prev === undefined) delete process.env.XDG_DATA_HOME;
      else process.env.XDG_DATA_HOME = prev;
    }
  });

  it('refuses a file that is not a database with exit code 2', async () => {
    const txt = path.join(dir, 'notes.txt');
    fs.writeFileSync(txt, 'hello world, this is not sqlite at all'.repeat(5));
    const r = await cli('runs', 'list', '--db', txt);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${txt} is not a D2NWG Studio database (not SQLite)`);
  });

  it('shows a run by unique id prefix; unknown ids exit 2', async () => {
    const r = await cli('runs', 'show', runA.slice(0, 10), '--db', db);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`run ${runA}  mnist d2nwg  [done]`);
    expect(r.out).toMatch(/sampler\s+sample\s+done\s+2\.0s/);
    expect(r.out).toMatch(/eval\s+accuracy\/d2nwg\s+1\s+0\.8330\s+2/);
    expect(r.out).toMatch(/weights\s+\[2, 23\]/);
    const missing = await cli('runs', 'show', 'run_nope', '--db', db);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain("unknown run 'run_nope'");
    expect((await cli('runs', 'show', '--db', db)).code).toBe(2);
  });

  it('compares runs as a method × epoch table', async () => {
    const r = await cli('runs', 'compare', runA, runB, '--db', db);
    expect(r.code).toBe(0);
    const lines = r.out.split('\n');
    expect(lines[0]).toBe('accuracy (columns: step/epoch)');
    expect(lines[1]).toMatch(/^method\s+run\s+@0\s+@1$/);
    expect(r.out).toMatch(new RegExp(`d2nwg\\s+${runA} \\(mnist d2nwg\\)\\s+0\\.7810\\s+0\\.8330`));
    expect(r.out).toMatch(new RegExp(`d2nwg\\s+${runB} \\(svhn d2nwg\\)\\s+0\\.5890\\s+-`));
    expect(r.out).toMatch(new RegExp(`randinit\\s+${runA} \\(mnist d2nwg\\)\\s+-\\s+0\\.4200`));
    const json = JSON.parse(
      (await cli('runs', 'compare', runA, runB, '--json', '--db', db)).out,
    ) as {
      rows: unknown[];
    };
    expect(json.rows).toHaveLength(3);
    expect((await cli('runs', 'compare', runA, 'zzz', '--db', db)).code).toBe(2);
  });

  it('exports the weights a node produced, in each format, into DIR/<run id>/', async () => {
    const out = path.join(dir, 'exp');
    const exp = (...more: string[]) =>
      cli('runs', 'export', runA, '--node', 'sampler', '--out', out, '--db', db, ...more);
    const r = await exp('--format', 'safetensors');
    expect(r.code).toBe(0);
    // Default --select best: sample 1 has the higher training-set accuracy.
    const best = path.join(out, runA, 't0', 'sample-001');
    expect(r.out).toContain(
      `exported 1 model(s) (best per task) as safetensors to ${path.join(out, runA)}`,
    );
    const m = JSON.parse(fs.readFileSync(path.join(best, 'manifest.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(m).toMatchObject({
      exportFormat: 'safetensors',
      source: { runId: runA, nodeId: 'sampler' },
      conditioningDataset: 'mnist, 5 per class',
      head: 'discriminant (train)',
      accuracy: 0.72,
      accuracyOn: 'the 10 test samples of task t0',
      classNames: ['seven', 'three'],
      task: { id: 't0', classes: [7, 3] },
      input: { raw: true, shape: ['n', 6], scale: 1 / 255 },
      parameterCount: layout.size,
    });
    expect(fs.existsSync(path.join(best, 'weights.safetensors'))).toBe(true);

    // A second export of the run never overwrites the first: it goes to <run id>-2.
    const all = await exp('--format', 'npy', '--select', 'all');
    expect(all.code).toBe(0);
    expect(all.out).toMatch(
      /exported 2 model\(s\) \(all per task\).*already exists; nothing was overwritten/,
    );
    const second = path.join(out, `${runA}-2`, 't0');
    expect(fs.readdirSync(second).sort()).toEqual(['sample-000', 'sample-001']);
    const buf = fs.readFileSync(path.join(second, 'sample-001', 'params.npy'));
    const start = 10 + buf.readUInt16LE(8);
    const vals = new Float32Array(
      buf.buffer.slice(buf.byteOffset + start, buf.byteOffset + buf.length),
    );
    expect(vals).toEqual(vectors[1]);
    expect(fs.existsSync(path.join(second, 'sample-000', 'features.basis.npy'))).toBe(true);
    expect(
      (
        JSON.parse(fs.readFileSync(path.join(second, 'sample-000', 'manifest.json'), 'utf8')) as {
          accuracy: number;
        }
      ).accuracy,
    ).toBe(0.61);

    expect((await exp('--format', 'tfjs', '--sample', '0')).code).toBe(0);
    expect(fs.readdirSync(path.join(out, `${runA}-3`, 't0', 'sample-000')).sort()).toEqual([
      'manifest.json',
      'model.json',
      'weights.bin',
    ]);
    expect((await exp('--format', 'onnx')).code).toBe(0);
    expect(fs.existsSync(path.join(out, `${runA}-4`, 't0', 'sample-001', 'model.onnx'))).toBe(true);
  });

  it('refuses bad export requests with exit code 2', async () => {
    const base = ['--out', path.join(dir, 'x'), '--db', db];
    const badFormat = await cli(
      'runs',
      'export',
      runA,
      '--node',
      'sampler',
      '--format',
      'pt',
      ...base,
    );
    expect(badFormat.code).toBe(2);
    expect(badFormat.err).toMatch(/--format must be one of safetensors, tfjs, npy, onnx/);
    const badSelect = await cli(
      'runs',
      'export',
      runA,
      '--node',
      'sampler',
      '--format',
      'npy',
      '--select',
      'worst',
      ...base,
    );
    expect(badSelect.code).toBe(2);
    expect(badSelect.err).toMatch(/--select must be one of best, all/);
    const noWeights = await cli(
      'runs',
      'export',
      runA,
      '--node',
      'zoo',
      '--format',
      'npy',
      ...base,
    );
    expect(noWeights.code).toBe(2);
    expect(noWeights.err).toMatch(/produced no 'weights' artifact \(it has: zoo\)/);
    const badSample = await cli(
      'runs',
      'export',
      runA,
      '--node',
      'sampler',
      '--format',
      'npy',
      '--sample',
      '5',
      ...base,
    );
    expect(badSample.code).toBe(2);
    expect(
      (await cli('runs', 'export', 'nope', '--node', 'sampler', '--format', 'npy', ...base)).code,
    ).toBe(2);
    expect(fs.existsSync(path.join(dir, 'x'))).toBe(false);
  });

  it('deletes a run and the artifact files only it used', async () => {
    const r = await cli('runs', 'delete', runA, '--db', db);
    expect(r.code).toBe(0);
    expect(r.out).toBe(`deleted run ${runA}; removed 2 artifact file(s) no other run uses`);
    expect((await cli('runs', 'show', runA, '--db', db)).code).toBe(2);
    expect(fs.readdirSync(path.join(dir, 'blobs'))).toEqual([]);
    expect((await cli('runs', 'delete', runA, '--db', db)).code).toBe(2);
    expect((await cli('runs', 'frobnicate', '--db', db)).code).toBe(2);
  });
});
