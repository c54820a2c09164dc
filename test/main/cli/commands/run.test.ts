import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import {
  executePipeline,
  formatMethodTable,
  ProgressView,
  type TextSink,
} from '../../../../src/main/cli/commands/run.ts';
import { validateCommand } from '../../../../src/main/cli/commands/validate.ts';
import { main } from '../../../../src/main/cli/main.ts';
import { openStore } from '../../../../src/main/store/index.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-cli-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const fixture = (name: string) => new URL(`../../../fixtures/${name}`, import.meta.url).pathname;
const pipelinesDir = new URL('../../../../resources/pipelines/', import.meta.url).pathname;

function sink(isTTY = false): TextSink & { text: () => string } {
  const parts: string[] = [];
  return { isTTY, write: (s) => void parts.push(s), text: () => parts.join('') };
}

/** dataset → tasks (real nodes), plus a node of a type that cannot run in this build. */
function writePipeline(extra: 'ok' | 'failing'): string {
  const nodes = [
    { id: 'data', type: 'dataset.source', version: 1 },
    {
      id: 'tasks',
      type: 'tasks.generate',
      version: 1,
      config: { numSeen: 3, numUnseenCombo: 1, numUnseenClass: 1, nTrain: 10, nTest: 10 },
    },
  ];
  const edges = [
    { id: 'e1', source: 'data', sourcePort: 'dataset', target: 'tasks', targetPort: 'dataset' },
  ];
  if (extra === 'failing') {
    nodes.push({ id: 'imp', type: 'zoo.import', version: 1, config: {} } as (typeof nodes)[number]);
  }
  const file = path.join(tmp, `${extra}.pipeline.json`);
  fs.writeFileSync(
    file,
    JSON.stringify({ format: 'd2nwg-pipeline', version: 1, name: `cli-${extra}`, nodes, edges }),
  );
  return file;
}

/** The problem `writeTypoPipeline`'s file has, as validate and run print it. */
const TYPO_PROBLEM = "node 'tasks': config: `numSeeen`: unknown key; did you mean `numSeen`?";

/** dataset → tasks with `numSeen` misspelt in the Tasks node's config. */
function writeTypoPipeline(): string {
  const file = path.join(tmp, 'typo.pipeline.json');
  fs.writeFileSync(
    file,
    JSON.stringify({
      format: 'd2nwg-pipeline',
      version: 1,
      name: 'typo',
      nodes: [
        { id: 'data', type: 'dataset.source', version: 1 },
        { id: 'tasks', type: 'tasks.generate', version: 1, config: { numSeeen: 3 } },
      ],
      edges: [
        { id: 'e1', source: 'data', sourcePort: 'dataset', target: 'tasks', targetPort: 'dataset' },
      ],
    }),
  );
  return file;
}

describe('d2nwg validate', () => {
  it('prints every problem with node ids and exits 2 for an invalid pipeline', async () => {
    const errs: string[] = [];
    const spy = vi.spyOn(console, 'error').mockImplementation((s: string) => void errs.push(s));
    try {
      expect(await validateCommand.run([fixture('invalid-many.pipeline.json')])).toBe(2);
    } finally {
      spy.mockRestore();
    }
    const text = errs.join('\n');
    expect(text).toMatch(/13 problems/);
    expect(text).toMatch(/node 'mystery': unknown node type 'no.such.node'/);
    expect(text).toMatch(/node 'cmpA': cycle through nodes/);
  });

  it('exits 2 for a misspelt config key, printing the path and the key meant', async () => {
    const errs: string[] = [];
    const spy = vi.spyOn(console, 'error').mockImplementation((s: string) => void errs.push(s));
    try {
      expect(await validateCommand.run([writeTypoPipeline()])).toBe(2);
    } finally {
      spy.mockRestore();
    }
    expect(errs.join('\n')).toContain(TYPO_PROBLEM);
  });

  it('exits 0 for every bundled example pipeline', async () => {
    const files = fs.readdirSync(pipelinesDir).filter((f) => f.endsWith('.json'));
    expect(files.sort()).toEqual([
      'image-folder.json',
      'in-distribution.json',
      'quickstart.json',
      'unseen.json',
    ]);
    const spy = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      for (const f of files) {
        expect(await validateCommand.run([path.join(pipelinesDir, f)]), f).toBe(0);
      }
    } finally {
      spy.mockRestore();
    }
  });

  it('exits 2 for a missing file or a wrong argument count (through main)', async () => {
    const spy = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      expect(await main(['validate', path.join(tmp, 'nope.json')])).toBe(2);
      expect(await main(['validate'])).toBe(2);
      expect(await main(['run', 'a.json', '--seed', 'x'])).toBe(2);
    } finally {
      spy.mockRestore();
    }
  });
});

describe('d2nwg run (executePipeline)', () => {
  it('runs real nodes, prints progress lines and a result table, and records the run', async () => {
    const db = path.join(tmp, 'runs.db');
    const err = sink();
    const out = sink();
    const outcome = await executePipeline({
      file: writePipeline('ok'),
      dbPath: db,
      dataDir: tmp,
      seed: 3,
      err,
      out,
    });
    expect(outcome.code).toBe(0);
    expect(err.text()).toMatch(/✓ data \(dataset.source\)/);
    expect(err.text()).toMatch(/run done in/);
    expect(out.text()).toMatch(/^tasks\s+done\s+.*seen=3 unseenCombo=1 unseenClass=1/m);
    const store = openStore(db);
    try {
      const run = outcome.result ? store.getRun(outcome.result.runId) : null;
      expect(run?.status).toBe('done');
      expect(run?.seed).toBe(3);
      expect(run?.nodes.map((n) => [n.nodeId, n.status]).sort()).toEqual([
        ['data', 'done'],
        ['tasks', 'done'],
      ]);
    } finally {
      store.close();
    }
  });

  it('exits 1 when a node fails, reporting which and why, while independent nodes finish', async () => {
    const err = sink(true);
    const out = sink();
    const outcome = await executePipeline({
      file: writePipeline('failing'),
      dbPath: null,
      dataDir: tmp,
      seed: 0,
      err,
      out,
    });
    expect(outcome.code).toBe(1);
    expect(out.text()).toMatch(/^imp\s+failed\s+.*set the folder of the zoo to import/m);
    expect(out.text()).toMatch(/^tasks\s+done/m);
    expect(err.text()).toMatch(/✗ imp \(zoo.import\) failed \(input\)/);
  });

  it('exits 1 and starts nothing when cancelled up front', async () => {
    const ac = new AbortController();
    ac.abort();
    const err = sink();
    const outcome = await executePipeline({
      file: writePipeline('ok'),
      dbPath: null,
      dataDir: tmp,
      seed: 0,
      err,
      out: sink(),
      signal: ac.signal,
    });
    expect(outcome.code).toBe(1);
    expect(outcome.result?.status).toBe('cancelled');
    expect(err.text()).not.toMatch(/started/);
  });

  it('exits 2 on an invalid pipeline without running it', async () => {
    const err = sink();
    const outcome = await executePipeline({
      file: fixture('invalid-many.pipeline.json'),
      dbPath: null,
      dataDir: tmp,
      seed: 0,
      err,
      out: sink(),
    });
    expect(outcome.code).toBe(2);
    expect(err.text()).toMatch(/invalid pipeline \(13 problems\)/);
  });

  it('exits 2 on a misspelt config key without running, printing the key meant', async () => {
    const err = sink();
    const outcome = await executePipeline({
      file: writeTypoPipeline(),
      dbPath: null,
      dataDir: tmp,
      seed: 0,
      err,
      out: sink(),
    });
    expect(outcome.code).toBe(2);
    expect(err.text()).toContain(TYPO_PROBLEM);
  });
});

describe('formatMethodTable', () => {
  it('renders methods × epochs as mean ± std percentages, with gaps as —', () => {
    const t = formatMethodTable([
      { method: 'RandInit', epochs: [0, 1, 5], mean: [0.2, 0.5, 0.7], std: [0.01, 0.02, 0.03] },
      { method: 'D2NWG', epochs: [0, 5], mean: [0.81, 0.9], std: [0.05, 0] },
    ]);
    const lines = t.split('\n');
    expect(lines[0]).toMatch(/^method\s+epoch 0\s+epoch 1\s+epoch 5$/);
    expect(lines[2]).toMatch(/^RandInit\s+20\.0 ± 1\.0\s+50\.0 ± 2\.0\s+70\.0 ± 3\.0$/);
    expect(lines[3]).toMatch(/^D2NWG\s+81\.0 ± 5\.0\s+—\s+90\.0 ± 0\.0$/);
  });
});

describe('ProgressView', () => {
  const pipeline = {
    format: 'd2nwg-pipeline' as const,
    version: 1 as const,
    name: 'p',
    nodes: [{ id: 'vae', type: 'model.vae', version: 1, config: {}, position: { x: 0, y: 0 } }],
    edges: [],
  };
  const progress = (value: number) =>
    ({
      type: 'nodeProgress',
      runId: 'r',
      nodeId: 'vae',
      value,
      max: 10,
      unit: 'epoch',
      metrics: { loss: 0.5 },
      etaS: 90,
    }) as const;

  it('on a terminal redraws one live line with a bar, count, ETA and metrics', () => {
    const s = sink(true);
    const view = new ProgressView(s, pipeline);
    view.listener({ type: 'nodeStart', runId: 'r', nodeId: 'vae' });
    view.listener(progress(5));
    expect(s.text()).toBe(
      '\r\x1b[2K  vae [############............] epoch 5/10 ETA 1m30s loss=0.5000',
    );
    view.listener({ type: 'nodeFinish', runId: 'r', nodeId: 'vae', durationS: 2, summary: {} });
    expect(s.text().endsWith('\r\x1b[2K✓ vae (model.vae) 2.0s\n')).toBe(true);
  });

  it('without a terminal prints a plain line per 10% of progress', () => {
    const s = sink(false);
    const view = new ProgressView(s, pipeline);
    view.listener({ type: 'nodeStart', runId: 'r', nodeId: 'vae' });
    for (const v of [1, 1, 2, 2, 2, 10]) view.listener(progress(v));
    const lines = s.text().trim().split('\n');
    expect(lines).toEqual([
      '… vae (model.vae) started',
      '  vae epoch 1/10 ETA 1m30s loss=0.5000',
      '  vae epoch 2/10 ETA 1m30s loss=0.5000',
      '  vae epoch 10/10 ETA 1m30s loss=0.5000',
    ]);
  });
});
