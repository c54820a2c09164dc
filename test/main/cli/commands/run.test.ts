import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import {
  executePipeline,
  formatMethodTable,
  ProgressView,
} from '../../../../src/main/cli/commands/run.ts';
import { SOURCE_SPLITS, SPLIT_MEANING } from '../../../../src/shared/nodes/eval-finetune.ts';
import { validateCommand } from '../../../../src/main/cli/commands/validate.ts';
import { main } from '../../../../src/main/cli/main.ts';
import { printPipeline, textSink } from '../../../helpers/cli.ts';
import { openStore } from '../../../../src/main/store/index.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-cli-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const fixture = (name: string) => new URL(`../../../fixtures/${name}`, import.meta.url).pathname;
const pipelinesDir = new URL('../../../../resources/pipelines/', import.meta.url).pathname;

const sink = textSink;

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

/**
 * dataset → tasks → features → NCM and LDA references on every split (2 tasks each) → Compare:
 * the zero-training rows of the quickstart table, in a second.
 */
function writeReferencePipeline(): string {
  const splits = [...SOURCE_SPLITS];
  const node = (id: string, type: string, version: number, config: object) => ({
    id,
    type,
    version,
    config,
  });
  const nodes = [
    node('data', 'dataset.source', 1, {}),
    node('tasks', 'tasks.generate', 1, {
      numSeen: 3,
      numUnseenCombo: 2,
      numUnseenClass: 2,
      nTrain: 10,
      nTest: 20,
    }),
    node('features', 'features.extract', 1, { extractor: { kind: 'pca', components: 8 } }),
    node('ncm', 'eval.reference', 2, { method: 'ncm', label: 'NCM', splits, maxTasks: 2 }),
    node('lda', 'eval.reference', 2, { method: 'lda', label: 'LDA', splits, maxTasks: 2 }),
    node('compare', 'eval.compare', 1, {}),
  ];
  const e = (source: string, sourcePort: string, target: string, targetPort: string) => ({
    source,
    sourcePort,
    target,
    targetPort,
  });
  const edges = [
    e('data', 'dataset', 'tasks', 'dataset'),
    e('data', 'dataset', 'features', 'dataset'),
    e('tasks', 'tasks', 'features', 'tasks'),
    ...['ncm', 'lda'].flatMap((r) => [
      e('features', 'features', r, 'features'),
      e('tasks', 'tasks', r, 'tasks'),
      e(r, 'metrics', 'compare', 'metrics'),
    ]),
  ].map((x, i) => ({ id: `e${i}`, ...x }));
  const file = path.join(tmp, 'refs.pipeline.json');
  fs.writeFileSync(
    file,
    JSON.stringify({ format: 'd2nwg-pipeline', version: 1, name: 'refs', nodes, edges }),
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

  it('bundled pipelines put seen, unseen-combo and unseen-class side by side, with zoo, D2NWG mean and NCM/LDA rows', () => {
    interface Node {
      readonly id: string;
      readonly type: string;
      readonly config: Record<string, unknown>;
    }
    const read = (f: string) =>
      (JSON.parse(fs.readFileSync(path.join(pipelinesDir, f), 'utf8')) as { nodes: Node[] }).nodes;
    for (const f of [
      'quickstart.json',
      'unseen.json',
      'in-distribution.json',
      'image-folder.json',
    ]) {
      const nodes = read(f);
      // image-folder's default tasks (3 classes, none held out) are seen only, as it says.
      const want = f === 'image-folder.json' ? ['seen'] : [...SOURCE_SPLITS];
      const evals = nodes.filter((n) => n.type === 'eval.finetune' || n.type === 'eval.reference');
      const sampler = nodes.filter((n) => n.type === 'sample.generate');
      expect(sampler, f).toHaveLength(1);
      expect(sampler[0].config.splits, f).toEqual(want);
      const byInit = (init: string) => evals.filter((n) => n.config.init === init);
      // The zoo's own checkpoints: on seen tasks only.
      expect(
        byInit('zoo').map((n) => n.config.splits),
        f,
      ).toEqual([['seen']]);
      for (const n of evals.filter((x) => x.config.init !== 'zoo')) {
        expect(n.config.splits, `${f} ${n.id}`).toEqual(want);
        // Several tasks per split, so the std over tasks means something.
        expect(n.config.maxTasks, `${f} ${n.id}`).toBeGreaterThanOrEqual(4);
        expect(n.config.maxTasks, `${f} ${n.id}`).toBeLessThanOrEqual(
          sampler[0].config.maxTasks as number,
        );
      }
      expect(
        byInit('d2nwg')
          .map((n) => n.config.samples ?? 'first')
          .sort(),
        f,
      ).toEqual(['first', 'mean']);
      for (const init of ['randinit', 'pretrained_source']) expect(byInit(init), f).toHaveLength(1);
      expect(
        evals.filter((n) => n.type === 'eval.reference').map((n) => n.config.method),
        f,
      ).toEqual(['ncm', 'lda']);
      // Every method's label says what it is; the best-of-N row says how it was picked.
      const labels = evals.map((n) => String(n.config.label));
      expect(new Set(labels).size, f).toBe(labels.length);
      expect(
        labels.some((l) => /best of \d+ \(train acc\)/.test(l)),
        f,
      ).toBe(true);
      expect(
        labels.some((l) => /mean of \d+/.test(l)),
        f,
      ).toBe(true);
    }
    // The quickstart stays about a minute: 4 tasks of each split.
    const quick = read('quickstart.json');
    expect(quick.find((n) => n.type === 'sample.generate')?.config.maxTasks).toBe(4);
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

  it('prints one table of every split: split and tasks columns, std over tasks, what each split means', async () => {
    const { code, text } = await printPipeline(writeReferencePipeline(), tmp);
    expect(code).toBe(0);
    // Compare's table only: the Reference nodes' rows are all in it.
    expect(text.match(/test accuracy \(%\)/g)).toHaveLength(1);
    expect(text).toMatch(
      /^compare: test accuracy \(%\) .* mean ± std over the tasks of each split$/m,
    );
    expect(text).toMatch(/^split\s+method\s+tasks\s+epoch 0$/m);
    const rows = [
      ...text.matchAll(
        /^(seen|unseen-combo|unseen-class)\s+(NCM|LDA)\s+(\d+)\s+([\d.]+) ± ([\d.]+)$/gm,
      ),
    ];
    expect(rows.map((m) => `${m[1]} ${m[2]}`)).toEqual([
      'seen NCM',
      'seen LDA',
      'unseen-combo NCM',
      'unseen-combo LDA',
      'unseen-class NCM',
      'unseen-class LDA',
    ]);
    for (const m of rows) {
      expect(m[3]).toBe('2');
      // Two tasks of a split score differently: the std over tasks is not 0.
      expect(Number(m[5])).toBeGreaterThan(0);
    }
    for (const sp of SOURCE_SPLITS)
      expect(text).toContain(`${sp.padEnd(12)}  ${SPLIT_MEANING[sp]}`);
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
  it('groups rows that carry a split by split, with split and tasks columns', () => {
    const t = formatMethodTable([
      { method: 'NCM', split: 'unseen-class', epochs: [0], mean: [0.7], std: [0.1], tasks: 4 },
      {
        method: 'zoo',
        split: 'seen',
        epochs: [0, 5],
        mean: [0.9, 0.9],
        std: [0.02, 0.01],
        tasks: 4,
      },
      { method: 'NCM', split: 'seen', epochs: [0], mean: [0.8], std: [0.03], tasks: 4 },
    ]);
    const lines = t.split('\n');
    expect(lines[0]).toMatch(/^split\s+method\s+tasks\s+epoch 0\s+epoch 5$/);
    expect(lines[2]).toMatch(/^seen\s+zoo\s+4\s+90\.0 ± 2\.0\s+90\.0 ± 1\.0$/);
    expect(lines[3]).toMatch(/^seen\s+NCM\s+4\s+80\.0 ± 3\.0\s+—$/);
    expect(lines[4]).toBe('');
    expect(lines[5]).toMatch(/^unseen-class\s+NCM\s+4\s+70\.0 ± 10\.0\s+—$/);
  });

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
