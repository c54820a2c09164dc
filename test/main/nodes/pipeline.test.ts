import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunEvent } from '../../../src/shared/events.ts';
import { registry } from '../../../src/shared/nodes/registry.ts';
import { parsePipeline, type Pipeline } from '../../../src/shared/pipeline.ts';
import { MemoryNodeCache, runPipeline, type RunResult } from '../../../src/main/graph/index.ts';
import { runners } from '../../../src/main/nodes/index.ts';
import type { PortValue } from '../../../src/main/nodes/values.ts';
import { latentsOfSummary } from '../../../src/shared/schemas/latents.ts';
import { decodeWeightsArtifact } from '../../../src/main/engine/export/artifact.ts';
import { expectNoLeakedTensors } from '../../helpers/tf.ts';
import { dropCarriedEdges } from '../../helpers/chain.ts';
import { needPythonNumpy, readback } from '../../helpers/python.ts';
import { loadDataset } from '../../../src/main/engine/data/sources.ts';
import { generateTasks, materializeTask } from '../../../src/main/engine/data/tasks.ts';
import { encodeNpy } from '../../../src/main/engine/formats/npy.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-nodes-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The whole method at toy size: every real node type except zoo.import, in seconds. */
function tinyPipeline(): Pipeline {
  const n = (id: string, type: string, config: unknown = {}) => ({
    id,
    type,
    version: registry.get(type)?.version ?? 1,
    config,
  });
  const nodes = [
    n('data', 'dataset.source'),
    n('tasks', 'tasks.generate', {
      k: 3,
      nTrain: 10,
      nTest: 10,
      heldOutClasses: 1,
      numSeen: 3,
      numUnseenCombo: 1,
      numUnseenClass: 1,
    }),
    n('features', 'features.extract', { extractor: { kind: 'pca', components: 6 } }),
    n('zoo', 'zoo.build', {
      architecture: { kind: 'mlp', hidden: [4] },
      train: { epochs: 3, keepLast: 2, seeds: 2, batchSize: 10, lr: 0.01 },
      workers: 0,
    }),
    n('vae', 'model.vae', { hidden: [16], latentDim: 4, epochs: 3, batchSize: 4 }),
    n('encoder', 'model.encoder', { epochs: 2, dModel: 8, inducing: 2, embedDim: 4, perClass: 3 }),
    n('diffusion', 'model.diffusion', {
      timesteps: 50,
      steps: 10,
      batchSize: 4,
      denoiser: { width: 8, depth: 1, timeEmbDim: 8 },
    }),
    n('sampler', 'sample.generate', {
      sampler: 'ddim',
      steps: 5,
      samplesPerTask: 2,
      splits: ['seen', 'unseen-combo'],
      maxTasks: 1,
    }),
    n('rand', 'eval.finetune', {
      init: 'randinit',
      splits: ['unseen-combo'],
      maxTasks: 1,
      finetuneEpochs: [0, 1],
    }),
    n('kde', 'eval.finetune', {
      init: 'kde30',
      splits: ['unseen-combo'],
      maxTasks: 1,
      finetuneEpochs: [0, 1],
    }),
    ...(
      [
        'pretrained_source',
        'noise_nearest',
        'noise_matched',
        'noise_fn_matched',
        'weight_avg',
      ] as const
    ).map((init) =>
      n(init, 'eval.finetune', {
        init,
        splits: ['unseen-combo'],
        maxTasks: 1,
        finetuneEpochs: [0, 1],
      }),
    ),
    n('ref', 'eval.reference', {
      method: 'lda',
      splits: ['seen', 'unseen-combo', 'unseen-class'],
      maxTasks: 1,
    }),
    n('gen', 'eval.finetune', {
      init: 'd2nwg',
      label: 'D2NWG',
      splits: ['seen', 'unseen-combo'],
      maxTasks: 1,
      finetuneEpochs: [0, 1],
    }),
    n('gen_mean', 'eval.finetune', {
      init: 'd2nwg',
      label: 'D2NWG mean',
      samples: 'mean',
      splits: ['seen', 'unseen-combo'],
      maxTasks: 1,
      finetuneEpochs: [0, 1],
    }),
    n('zoo_own', 'eval.finetune', {
      init: 'zoo',
      samples: 'mean',
      splits: ['seen'],
      maxTasks: 1,
      finetuneEpochs: [0, 1],
    }),
    n('compare', 'eval.compare'),
    {
      ...n('export', 'export.weights', {
        format: 'safetensors',
        folder: 'exports',
        select: 'best',
      }),
      version: 2,
    },
  ];
  const e: [string, string, string, string][] = [
    ['data', 'dataset', 'tasks', 'dataset'],
    ['data', 'dataset', 'features', 'dataset'],
    ['tasks', 'tasks', 'features', 'tasks'],
    ['features', 'features', 'zoo', 'features'],
    ['tasks', 'tasks', 'zoo', 'tasks'],
    ['zoo', 'zoo', 'vae', 'zoo'],
  ];
  for (const t of ['encoder', 'diffusion']) {
    e.push(
      ['zoo', 'zoo', t, 'zoo'],
      ['vae', 'vae', t, 'vae'],
      ['features', 'features', t, 'features'],
      ['tasks', 'tasks', t, 'tasks'],
    );
  }
  e.push(['encoder', 'encoder', 'diffusion', 'encoder']);
  e.push(
    ['diffusion', 'diffusion', 'sampler', 'diffusion'],
    ['vae', 'vae', 'sampler', 'vae'],
    ['encoder', 'encoder', 'sampler', 'encoder'],
    ['features', 'features', 'sampler', 'features'],
    ['tasks', 'tasks', 'sampler', 'tasks'],
    ['zoo', 'zoo', 'sampler', 'zoo'],
  );
  for (const ev of [
    'rand',
    'kde',
    'pretrained_source',
    'noise_nearest',
    'noise_matched',
    'noise_fn_matched',
    'weight_avg',
    'ref',
    'gen',
    'gen_mean',
    'zoo_own',
  ]) {
    e.push(
      ['features', 'features', ev, 'features'],
      ['tasks', 'tasks', ev, 'tasks'],
      [ev, 'metrics', 'compare', 'metrics'],
    );
    if (ev !== 'gen' && ev !== 'gen_mean' && ev !== 'ref') e.push(['zoo', 'zoo', ev, 'zoo']);
  }
  e.push(
    ['vae', 'vae', 'kde', 'vae'],
    ['sampler', 'weights', 'gen', 'weights'],
    ['sampler', 'weights', 'gen_mean', 'weights'],
    ['sampler', 'weights', 'noise_matched', 'weights'],
    ['sampler', 'weights', 'noise_fn_matched', 'weights'],
    ['sampler', 'weights', 'export', 'weights'],
  );
  const r = parsePipeline({
    format: 'd2nwg-pipeline',
    version: 1,
    name: 'tiny',
    nodes,
    edges: e.map(([source, sourcePort, target, targetPort], i) => ({
      id: `e${i}`,
      source,
      sourcePort,
      target,
      targetPort,
    })),
  });
  if (!r.ok) throw new Error(r.problems.join('\n'));
  return r.pipeline;
}

/**
 * Run only the `keep` nodes of the tiny pipeline (and the edges between them), with `override`
 * merged into the config of node `id`.
 */
function runSubset(
  keep: readonly string[],
  id: string,
  override: Record<string, unknown>,
  onEvent?: (ev: RunEvent) => void,
): Promise<RunResult> {
  const base = tinyPipeline();
  const ids = new Set(keep);
  return runPipeline<PortValue>({
    pipeline: {
      ...base,
      nodes: base.nodes
        .filter((nd) => ids.has(nd.id))
        .map((nd) =>
          nd.id === id ? { ...nd, config: { ...(nd.config as object), ...override } } : nd,
        ),
      edges: base.edges.filter((e) => ids.has(e.source) && ids.has(e.target)),
    },
    registry,
    runners,
    seed: 5,
    dataDir: tmp,
    ...(onEvent ? { onEvent } : {}),
  });
}

let first: RunResult | null = null;

describe('the real node types, wired into one small pipeline', () => {
  it('runs end to end, compares methods, exports weights, re-runs from cache and leaks no tensors', async () => {
    const pipeline = tinyPipeline();
    const events: RunEvent[] = [];
    const cache = new MemoryNodeCache<PortValue>();
    const events2: RunEvent[] = [];
    const result = await expectNoLeakedTensors(async () => {
      const r = await runPipeline<PortValue>({
        pipeline,
        registry,
        runners,
        seed: 5,
        dataDir: tmp,
        cache,
        onEvent: (ev) => events.push(ev),
      });
      // Second run: the D2NWG evaluation now asks for tasks the sampler made no weights for.
      const edited = {
        ...pipeline,
        nodes: pipeline.nodes.map((nd) =>
          nd.id === 'gen'
            ? { ...nd, config: { init: 'd2nwg', splits: ['unseen-class'], maxTasks: 1 } }
            : nd,
        ),
      };
      await runPipeline<PortValue>({
        pipeline: edited,
        registry,
        runners,
        seed: 5,
        dataDir: tmp,
        cache,
        onEvent: (ev) => events2.push(ev),
      });
      cache.clear();
      return r;
    });
    const cachedIds = events2.flatMap((ev) => (ev.type === 'nodeCached' ? [ev.nodeId] : []));
    expect(cachedIds).toEqual(
      expect.arrayContaining([
        'data',
        'tasks',
        'features',
        'zoo',
        'vae',
        'encoder',
        'diffusion',
        'sampler',
        'rand',
        'gen_mean',
      ]),
    );
    expect(
      events2
        .filter((ev) => ev.type === 'nodeStart')
        .map((ev) => ev.type === 'nodeStart' && ev.nodeId),
    ).toEqual(['gen', 'export']);
    expect(events2.find((ev) => ev.type === 'nodeError')).toMatchObject({
      nodeId: 'gen',
      kind: 'input',
      message: expect.stringMatching(/no sample for task .* same splits and maxTasks/),
    });
    expect(events2.find((ev) => ev.type === 'nodeSkipped')).toMatchObject({ nodeId: 'compare' });
    first = result;
    const errors = events.filter((ev) => ev.type === 'nodeError');
    expect(errors).toEqual([]);
    expect(result.status).toBe('done');

    // One row per (split, method), grouped by split (seen, unseen-combo, unseen-class); the
    // zoo's own checkpoints exist on seen tasks only.
    const table = result.nodes.get('compare')?.summary?.table;
    const rows = (Array.isArray(table) ? table : []) as {
      method: string;
      split: string;
      tasks: number;
    }[];
    expect(rows.map((row) => `${row.split} ${row.method}`)).toEqual([
      'seen lda',
      'seen D2NWG',
      'seen D2NWG mean',
      'seen zoo',
      'unseen-combo randinit',
      'unseen-combo kde30',
      'unseen-combo pretrained_source',
      'unseen-combo noise_nearest',
      'unseen-combo noise_matched',
      'unseen-combo noise_fn_matched',
      'unseen-combo weight_avg',
      'unseen-combo lda',
      'unseen-combo D2NWG',
      'unseen-combo D2NWG mean',
      'unseen-class lda',
    ]);
    expect(rows.every((row) => row.tasks === 1)).toBe(true);
    const metrics = result.nodes.get('compare')?.summary?.metrics ?? {};
    for (const key of [
      'accuracy/unseen-combo/randinit@0',
      'accuracy/unseen-combo/D2NWG@1',
      'accuracy/seen/D2NWG@1',
      'accuracy/seen/D2NWG mean@0',
      'accuracy/seen/zoo@0',
      'accuracy/unseen-combo/kde30@0',
      'accuracy/unseen-combo/noise_matched@0',
      'accuracy/unseen-combo/noise_matched@1',
      'accuracy/unseen-combo/noise_fn_matched@0',
      'accuracy/unseen-combo/noise_fn_matched@1',
      'accuracy/unseen-class/lda@0',
    ]) {
      expect(metrics[key]).toBeGreaterThanOrEqual(0);
      expect(metrics[key]).toBeLessThanOrEqual(1);
    }
    expect(Object.keys(metrics).some((k) => k.startsWith('accuracy/unseen-combo/zoo'))).toBe(false);
    expect(result.nodes.get('zoo')?.summary?.metrics?.members).toBe(3 * 2 * 2);

    // Latent maps: the VAE's zoo means, and the sampler's samples on the same PCA axes.
    const vaeMap = latentsOfSummary(result.nodes.get('vae')?.summary);
    const samplerMap = latentsOfSummary(result.nodes.get('sampler')?.summary);
    expect(vaeMap?.zoo.x).toHaveLength(12);
    expect(vaeMap?.latentDim).toBe(4);
    expect(vaeMap?.samples).toBeUndefined();
    expect(new Set(vaeMap?.zoo.task.map((t) => vaeMap.tasks[t])).size).toBe(3);
    expect(samplerMap?.zoo).toEqual(vaeMap?.zoo);
    // One seen and one unseen-combo task, 2 samples each; no zoo member trained on the latter.
    expect(samplerMap?.samples?.x).toHaveLength(4);
    const sampledTasks = new Set(samplerMap?.samples?.task.map((t) => samplerMap.tasks[t]));
    const zooTasks = new Set(samplerMap?.zoo.task.map((t) => samplerMap.tasks[t]));
    expect(sampledTasks.size).toBe(2);
    expect([...sampledTasks].filter((t) => zooTasks.has(t))).toHaveLength(1);

    const exported = events.filter((ev) => ev.type === 'artifact');
    expect(exported.length).toBeGreaterThan(0);
    for (const a of exported) if (a.type === 'artifact') expect(fs.existsSync(a.path)).toBe(true);
    const manifest = exported.find((a) => a.type === 'artifact' && a.kind === 'export-manifest');
    expect(
      manifest?.type === 'artifact' && JSON.parse(fs.readFileSync(manifest.path, 'utf8')).format,
    ).toBe('d2nwg-weights-export');
    // Self-contained: the export takes raw images, names its classes and states its test accuracy.
    const m: unknown =
      manifest?.type === 'artifact' && JSON.parse(fs.readFileSync(manifest.path, 'utf8'));
    expect(m).toMatchObject({
      input: { raw: true },
      features: { kind: 'pca' },
      accuracy: expect.any(Number),
      classNames: expect.arrayContaining([expect.any(String)]),
      task: { id: expect.any(String) },
    });
    // Outside the app: NumPy on the raw 0..255 test images of that task gives the same accuracy.
    const mm = m as { accuracy: number; task: { id: string } };
    const skipped: string[] = [];
    if (manifest?.type === 'artifact' && needPythonNumpy((note) => skipped.push(note))) {
      const data = await loadDataset({ kind: 'fashion-mnist', variant: 'embedded' });
      const cfg = pipeline.nodes.find((x) => x.id === 'tasks')?.config;
      const t = generateTasks(data.labels, data.classNames.length, cfg ?? {}, data.classNames);
      const task = [...t.seen, ...t.unseenCombo, ...t.unseenClass].find((x) => x.id === mm.task.id);
      if (!task) throw new Error(`task ${mm.task.id} not found`);
      const td = materializeTask(data, task);
      const x = path.join(tmp, 'raw-x.npy');
      const y = path.join(tmp, 'raw-y.npy');
      const px = td.xTest.map((v) => Math.round(v * 255));
      fs.writeFileSync(x, encodeNpy(px, [td.yTest.length, px.length / td.yTest.length]));
      fs.writeFileSync(y, encodeNpy(td.yTest, [td.yTest.length]));
      const folder = path.dirname(manifest.path);
      expect(Math.abs(readback(x, y, [folder])[folder].accuracy - mm.accuracy)).toBeLessThan(1e-3);
    }
    for (const note of skipped) console.warn(`export read-back part ${note}`);

    // The sampler stores its samples as 'weights' artifacts that decode back to the zoo layout.
    const stored = exported.filter((a) => a.type === 'artifact' && a.kind === 'weights');
    expect(stored.length).toBeGreaterThan(0);
    for (const a of stored) {
      if (a.type !== 'artifact') continue;
      const decoded = decodeWeightsArtifact(
        new Uint8Array(fs.readFileSync(a.path)),
        a.meta,
        a.path,
      );
      expect(decoded.vectors.length).toBe(a.shape?.[0]);
      expect(decoded.layout.size).toBe(decoded.vectors[0].length);
      expect(decoded.vectors[0].every((v) => Number.isFinite(v))).toBe(true);
      expect(decoded.features?.basis?.length).toBeGreaterThan(0);
      expect(decoded.meta.sampleMetrics?.[0].testAccuracy).toEqual(expect.any(Number));
    }
  });

  it('gives the same numbers for the same seed, wired as a chain of carried inputs', async () => {
    // Compared with the first test's run (seed 5, every input wired), recomputed from scratch
    // with the inputs the spine carries left unwired: every node gets the same values, under the
    // same cache keys.
    expect(first).not.toBeNull();
    const wired = tinyPipeline();
    const chain = dropCarriedEdges(wired);
    expect([wired.edges.length, chain.edges.length]).toEqual([68, 33]);
    const b = await runPipeline<PortValue>({
      pipeline: chain,
      registry,
      runners,
      seed: 5,
      dataDir: tmp,
    });
    expect(b.status).toBe('done');
    for (const [id, record] of b.nodes) {
      expect(record.cacheKey, id).toBe(first?.nodes.get(id)?.cacheKey);
    }
    expect(b.nodes.get('compare')?.summary).toEqual(first?.nodes.get('compare')?.summary);
    expect(b.nodes.get('diffusion')?.summary).toEqual(first?.nodes.get('diffusion')?.summary);
    expect(b.nodes.get('sampler')?.summary?.latents).toEqual(
      first?.nodes.get('sampler')?.summary?.latents,
    );
  });

  it('trains the VAE with the accuracy predictor term (Eq. 7) when predictorWeight > 0', async () => {
    const upToVae = ['data', 'tasks', 'features', 'zoo', 'vae'];
    const run = (predictorWeight: number) =>
      runSubset(upToVae, 'vae', { epochs: 6, predictorWeight });
    const metrics = (r: RunResult) =>
      (r.nodes.get('vae')?.summary as { metrics?: Record<string, number> } | undefined)?.metrics;
    const plain = await run(0);
    const eq7 = await expectNoLeakedTensors(() => run(0.5));
    expect(metrics(plain)?.predictorTerm).toBeUndefined();
    const term = metrics(eq7)?.predictorTerm;
    expect(term).toBeGreaterThan(0);
    // The term is part of the objective: per vector, loss = dim·recon + 1e-6·KL + 0.5·term (each
    // an epoch average over the same batches). dim comes from the plain run's own objective.
    const p = metrics(plain) ?? {};
    const q = metrics(eq7) ?? {};
    const dim = (p.loss - 1e-6 * p.kl) / p.recon;
    expect(Math.round(dim)).toBeGreaterThan(10);
    expect((q.recon * Math.round(dim) + 1e-6 * q.kl + 0.5 * (term ?? NaN)) / q.loss).toBeCloseTo(
      1,
      4,
    );
  });

  it('ranks samples by the accuracy predictor when the sampler asks for it', async () => {
    const events: RunEvent[] = [];
    const r = await expectNoLeakedTensors(() =>
      runSubset(
        ['data', 'tasks', 'features', 'zoo', 'vae', 'encoder', 'diffusion', 'sampler'],
        'sampler',
        { samplesPerTask: 4, rankBy: 'predictor', splits: ['unseen-combo'] },
        (ev) => events.push(ev),
      ),
    );
    expect(r.status).toBe('done');
    const stored = events.filter((a) => a.type === 'artifact' && a.kind === 'weights');
    expect(stored).toHaveLength(1);
    const a = stored[0];
    if (a.type !== 'artifact') throw new Error('not an artifact');
    const meta = a.meta as {
      sampleMetrics?: { predictedAccuracy?: number; supportAccuracy?: number }[];
    };
    const predicted = (meta.sampleMetrics ?? []).map((m) => m.predictedAccuracy ?? NaN);
    expect(predicted).toHaveLength(4);
    for (const p of predicted) expect(p >= 0 && p <= 1).toBe(true);
    // Best first.
    for (let i = 1; i < predicted.length; i++)
      expect(predicted[i - 1]).toBeGreaterThanOrEqual(predicted[i]);
    expect(meta.sampleMetrics?.[0]?.supportAccuracy).toBeUndefined();
  });

  it('refits the output layer on the generated body when the sampler asks for an LDA head', async () => {
    const nodes = ['data', 'tasks', 'features', 'zoo', 'vae', 'encoder', 'diffusion', 'sampler'];
    const stored = async (override: Record<string, unknown>) => {
      const events: RunEvent[] = [];
      const over = { samplesPerTask: 4, splits: ['unseen-combo'], ...override };
      const r = await runSubset(nodes, 'sampler', over, (ev) => events.push(ev));
      expect(r.status).toBe('done');
      const a = events.find((ev) => ev.type === 'artifact' && ev.kind === 'weights');
      if (a?.type !== 'artifact') throw new Error('no weights artifact');
      const w = decodeWeightsArtifact(fs.readFileSync(a.path), a.meta, a.path);
      const meta = a.meta as { head?: string; sampleMetrics?: { supportAccuracy: number }[] };
      return { w, meta, acc: (meta.sampleMetrics ?? []).map((m) => m.supportAccuracy) };
    };
    const plain = await stored({});
    const lda = await expectNoLeakedTensors(() =>
      stored({ head: 'discriminant', headFrom: 'train' }),
    );
    expect(plain.meta.head).toBeUndefined();
    expect(lda.meta.head).toBe('discriminant (train)');
    // Same samples (same seed), same bodies; only the output layer differs.
    const headStart = plain.w.layout.params[plain.w.layout.params.length - 2].offset;
    const rows = (w: typeof plain.w) => w.vectors;
    const bodies = (w: typeof plain.w) =>
      rows(w)
        .map((r) => Array.from(r.subarray(0, headStart)).join(','))
        .sort();
    expect(bodies(lda.w)).toEqual(bodies(plain.w));
    const heads = (w: typeof plain.w) => rows(w).map((r) => Array.from(r.subarray(headStart)));
    for (const h of heads(lda.w)) expect(heads(plain.w)).not.toContainEqual(h);
    // On an unseen class tuple the generated head cannot know the class order; the LDA head,
    // fitted on the training samples, fits them better.
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    expect(lda.acc).toHaveLength(4);
    expect(mean(lda.acc)).toBeGreaterThan(mean(plain.acc));
  });

  it('reports zero-training reference classifiers at epoch 0', async () => {
    const run = async (override: Record<string, unknown>) => {
      const r = await runSubset(['data', 'tasks', 'features', 'ref'], 'ref', override);
      expect(r.status).toBe('done');
      return r.nodes.get('ref')?.summary ?? {};
    };
    const ncm = await run({ method: 'ncm', maxTasks: 2, splits: ['seen'] });
    const lda1 = await run({ method: 'lda', shrinkage: 1, maxTasks: 2, splits: ['seen'] });
    const lda = await run({ method: 'lda', maxTasks: 2, splits: ['seen'] });
    const support = await run({
      method: 'ncm',
      samples: 'support',
      perClass: 2,
      maxTasks: 2,
      splits: ['seen'],
    });
    const row = (x: typeof ncm, i = 0) =>
      (
        x.table as {
          split: string;
          epochs: number[];
          mean: number[];
          std: number[];
          tasks: number;
        }[]
      )[i];
    expect(ncm).toMatchObject({ method: 'ncm', splits: ['seen'] });
    expect(row(ncm)).toMatchObject({ split: 'seen', epochs: [0], tasks: 2 });
    expect(row(lda)).toMatchObject({ split: 'seen', epochs: [0], tasks: 2 });
    expect(support).toMatchObject({ method: 'ncm_support' });
    expect(row(support)).toMatchObject({ tasks: 2 });
    const mean = (s: typeof ncm) => row(s).mean[0];
    for (const s of [ncm, lda, support]) expect(mean(s) > 1 / 3 && mean(s) <= 1).toBe(true);
    // The std is over the split's tasks: two tasks that score differently give a spread.
    expect(row(ncm).std[0]).toBeGreaterThan(0);
    // LDA with its covariance shrunk all the way is the nearest class mean.
    expect(mean(lda1)).toBe(mean(ncm));
    expect(ncm.metrics).toEqual({ 'accuracy/seen/ncm@0': mean(ncm) });
    // Several splits: one row each, in the order asked.
    const all = await run({
      method: 'ncm',
      maxTasks: 2,
      splits: ['seen', 'unseen-combo', 'unseen-class'],
    });
    expect((all.table as { split: string }[]).map((r) => r.split)).toEqual([
      'seen',
      'unseen-combo',
      'unseen-class',
    ]);
    expect(row(all)).toEqual(row(ncm));
    // Asking for more shots than a class has training samples is a clear error.
    const r = await runSubset(['data', 'tasks', 'features', 'ref'], 'ref', {
      samples: 'support',
      perClass: 50,
    });
    expect(r.status).toBe('failed');
    expect(r.nodes.get('ref')?.error).toMatch(
      /has 10 training samples, fewer than the 50 per class the support set needs/,
    );
  });

  it("evaluates the zoo's own checkpoints on seen tasks, with a spread over tasks, and refuses unseen ones", async () => {
    const keep = ['data', 'tasks', 'features', 'zoo', 'zoo_own'];
    const ok = await runSubset(keep, 'zoo_own', { maxTasks: 3, finetuneEpochs: [0] });
    expect(ok.status).toBe('done');
    const s = ok.nodes.get('zoo_own')?.summary ?? {};
    const rows = s.table as { split: string; mean: number[]; std: number[]; tasks: number }[];
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ split: 'seen', tasks: 3 });
    expect(rows[0].mean[0]).toBeGreaterThan(1 / 3);
    expect(rows[0].std[0]).toBeGreaterThan(0);
    const bad = await runSubset(keep, 'zoo_own', { splits: ['seen', 'unseen-combo'] });
    expect(bad.status).toBe('failed');
    expect(bad.nodes.get('zoo_own')?.error).toMatch(/applies to the seen split only/);
  });
});
