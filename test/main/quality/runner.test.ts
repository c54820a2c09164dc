import { describe, expect, it } from 'vitest';
import { QUALITY_PRESETS, QualityReportSchema } from '../../../src/shared/schemas/quality.ts';
import { resolveQualityConfig } from '../../../src/main/engine/quality/config.ts';
import { runQuality } from '../../../src/main/quality/runner.ts';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll } from 'vitest';
import { InputError } from '../../../src/main/engine/errors.ts';
import { Rng } from '../../../src/main/engine/rng.ts';
import { toTorchStateDict } from '../../../src/main/engine/export/torch.ts';
import { writeSafetensors, type StTensor } from '../../../src/main/engine/formats/safetensors.ts';
import { layoutOf, resolveArchitecture } from '../../../src/main/engine/nn/architecture.ts';
import { initParams } from '../../../src/main/engine/nn/params.ts';
import { ArchitectureSchema } from '../../../src/shared/schemas/zoo.ts';
import { tempDir, writeSquaresIdx } from '../../fixtures/datagen.ts';
import { expectNoLeakedTensors } from '../../helpers/tf.ts';
import { qualityPipeline } from '../../../src/main/quality/pipeline.ts';
import { parsePipeline } from '../../../src/shared/pipeline.ts';
import { registry } from '../../../src/shared/nodes/registry.ts';
import { validatePipeline } from '../../../src/shared/nodes/validate.ts';
import { runners, type PortValue } from '../../../src/main/nodes/index.ts';
import { runPipeline } from '../../../src/main/graph/executor.ts';
import { MemoryNodeCache } from '../../../src/main/graph/cache.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** Another labelled source (squares, see writeSquaresIdx) in a temp dir removed after the tests. */
function otherSource(classes: number, perClass: number, side: number) {
  const dir = tempDir('unseen-dataset');
  dirs.push(dir);
  return writeSquaresIdx(dir, classes, perClass, side);
}

/** A config small enough to run twice in a unit test (numbers are meaningless, plumbing is not). */
const MICRO = {
  features: { kind: 'pca', components: 6, whiten: true },
  tasks: { k: 3, nTrain: 12, nTest: 10, numSeen: 2, numUnseenCombo: 1, numUnseenClass: 1 },
  zoo: {
    architecture: { kind: 'mlp', hidden: [4] },
    train: { epochs: 2, keepLast: 2, seeds: 1, batchSize: 16 },
    workers: 0,
  },
  vae: { hidden: [16], latentDim: 4, epochs: 3 },
  encoder: { dModel: 4, heads: 2, inducing: 2, embedDim: 4, epochs: 2, perClass: 3 },
  diffusion: { steps: 5, denoiser: { width: 16, depth: 1, timeEmbDim: 8 } },
  sampler: { steps: 3 },
  predictor: { hidden: [8, 4], epochs: 3 },
  eval: {
    finetuneEpochs: [0, 1],
    samplesPerTask: 2,
    soupTopK: 2,
    finetuneSamples: 1,
    maxTasksPerSplit: 1,
    classHead: { steps: 20, batchMembers: 2, queryPerClass: 4 },
  },
};

describe('quality benchmark runner', () => {
  it('is deterministic for a config and seed, and fills the fixed report schema', async () => {
    const cfg = resolveQualityConfig('smoke', MICRO);
    const a = await expectNoLeakedTensors(() => runQuality({ config: cfg }));
    const b = await runQuality({ config: cfg });
    QualityReportSchema.parse(a);
    expect(a.protocol).toBe('d2nwg-quality/1');
    expect(a.config).toMatchObject({ seed: cfg.seed, preset: 'smoke' });
    const strip = (r: typeof a) =>
      r.results.map((x) => [x.split, x.method, x.epoch, x.accuracy_mean]);
    expect(strip(b)).toEqual(strip(a));
    expect(b.memorisation.sample_to_zoo_median).toBe(a.memorisation.sample_to_zoo_median);
    const methods = new Set(a.results.map((r) => r.method));
    for (const m of [
      'randinit',
      'pretrained_source',
      'pretrained_probe',
      'zoo',
      'kde30',
      'noise_nearest',
      'noise_matched',
      'noise_fn_matched',
      'weight_avg',
      'ncm',
      'd2nwg_mean',
      'd2nwg_best',
      'd2nwg_soup',
      'd2nwg_greedy_soup',
      'd2nwg_predicted_best',
      'lda',
      'lda_support',
      'd2nwg_lda_head',
      'd2nwg_class_head',
      'd2nwg_class_head_ensemble',
      'zoo_ensemble',
      'd2nwg_ensemble',
      'noise_fn_ensemble',
    ]) {
      expect(methods.has(m), m).toBe(true);
    }
    expect(new Set(a.results.map((r) => r.split))).toEqual(
      new Set(['seen', 'unseen-combo', 'unseen-class']),
    );
    // noise_matched: one copy per D2NWG sample, on every split the samples exist for.
    for (const split of ['seen', 'unseen-combo', 'unseen-class'] as const) {
      const row = (m: string) =>
        a.results.find((r) => r.split === split && r.method === m && r.epoch === 0);
      expect(row('noise_matched')?.samples_per_task, split).toBe(
        row('d2nwg_mean')?.samples_per_task,
      );
      expect(row('noise_matched')?.tasks, split).toBe(row('d2nwg_mean')?.tasks);
      expect(row('noise_fn_matched')?.samples_per_task, split).toBe(
        row('d2nwg_mean')?.samples_per_task,
      );
    }
    // Its copies sit exactly as far from their source checkpoint as the samples from the zoo.
    const mem = a.memorisation;
    expect(mem.noise_matched_to_source_median).toBeCloseTo(mem.sample_to_zoo_median, 4);
    expect(mem.noise_matched_to_zoo_median).toBeLessThanOrEqual(
      (mem.noise_matched_to_source_median ?? Number.NaN) + 1e-4,
    );
    // Function-matched copies were matched on training samples: they disagree with their source
    // about as often as the samples do with theirs, at a positive noise norm. (Not always less
    // often: on MICRO's 3-class tasks a sample that agrees with its checkpoint near chance can sit
    // below anything noise reaches, since huge noise collapses a copy onto one class, which agrees
    // about a third of the time; the copy then stops at the closest agreement it reached.)
    expect(
      Math.abs(
        (mem.noise_fn_matched_train_agreement_median ?? Number.NaN) -
          (mem.noise_fn_matched_target_agreement_median ?? Number.NaN),
      ),
    ).toBeLessThan(0.05);
    expect(mem.noise_fn_matched_norm_median).toBeGreaterThan(0);
    // Seen@0: d2nwg_mean against noise_fn_matched and kde30 (required), noise_matched,
    // noise_nearest and weight_avg (reference). Unseen splits at epochs 0 and 1: against randinit and
    // pretrained_source; at epoch 0, the prototype head against NCM, d2nwg_mean against the
    // support-set NCM, and the LDA head against NCM and raw-feature LDA (all reference).
    const targets = a.targets ?? [];
    expect(
      targets
        .filter((t) => t.split === 'seen' && t.method !== 'd2nwg_mean')
        .map((t) => `${t.method}>${t.baseline}:${t.required}`)
        .sort(),
    ).toEqual(['d2nwg_ensemble>noise_fn_ensemble:false', 'zoo_ensemble>zoo:false']);
    // Ensembles: epoch 0 only; the zoo's on seen tasks only, over all of the task's checkpoints;
    // the samples' and their noise copies' over as many members as d2nwg_mean has samples.
    const ensembleRows = a.results.filter((r) => r.method.endsWith('_ensemble'));
    expect(new Set(ensembleRows.map((r) => r.epoch))).toEqual(new Set([0]));
    expect(
      new Set(ensembleRows.filter((r) => r.method === 'zoo_ensemble').map((r) => r.split)),
    ).toEqual(new Set(['seen']));
    const zooRow = a.results.find((r) => r.split === 'seen' && r.method === 'zoo' && r.epoch === 0);
    expect(ensembleRows.find((r) => r.method === 'zoo_ensemble')?.samples_per_task).toBe(
      zooRow?.samples_per_task,
    );
    for (const r of ensembleRows.filter((x) => x.method !== 'zoo_ensemble')) {
      const mean = a.results.find(
        (x) => x.split === r.split && x.method === 'd2nwg_mean' && x.epoch === 0,
      );
      expect(r.samples_per_task, `${r.method} ${r.split}`).toBe(mean?.samples_per_task);
    }
    const seenTargets = targets.filter((t) => t.split === 'seen' && t.method === 'd2nwg_mean');
    const byBaseline = new Map(seenTargets.map((t) => [t.baseline, t]));
    expect([...byBaseline.keys()].sort()).toEqual(
      ['kde30', 'noise_fn_matched', 'noise_matched', 'noise_nearest', 'weight_avg'].sort(),
    );
    expect(byBaseline.get('noise_fn_matched')?.required).toBe(true);
    expect(byBaseline.get('noise_matched')?.required).toBe(false);
    expect(byBaseline.get('noise_nearest')?.required).toBe(false);
    expect(byBaseline.get('kde30')?.required).toBe(true);
    // weight_avg averages a seen task's own checkpoints: a reference; the seen target is the
    // seen_of_zoo check, computed from the report's own zoo and d2nwg_mean rows.
    expect(byBaseline.get('weight_avg')?.required).toBe(false);
    const ratio = a.checks?.find((c) => c.name === 'seen_of_zoo');
    const seenAt0 = (m: string) =>
      a.results.find((r) => r.split === 'seen' && r.method === m && r.epoch === 0)?.accuracy_mean;
    expect(ratio?.value).toBeCloseTo((seenAt0('d2nwg_mean') ?? NaN) / (seenAt0('zoo') ?? NaN), 12);
    expect(ratio?.required).toBe(true);
    for (const split of ['unseen-combo', 'unseen-class'] as const) {
      const keys = targets
        .filter((t) => t.split === split)
        .map((t) => `${t.method}>${t.baseline}@${t.epoch}:${t.required}`);
      expect(keys.sort(), split).toEqual(
        [
          'd2nwg_mean>randinit@0:true',
          'd2nwg_mean>pretrained_source@0:true',
          'd2nwg_mean>randinit@1:true',
          'd2nwg_mean>pretrained_source@1:true',
          'd2nwg_protohead>ncm@0:false',
          'd2nwg_mean>ncm_support@0:false',
          'd2nwg_mean>lda_support@0:false',
          'd2nwg_lda_head>ncm@0:false',
          'd2nwg_lda_head>lda@0:false',
          'd2nwg_lda_head>pretrained_probe@0:false',
          'd2nwg_ensemble>noise_fn_ensemble@0:false',
          'd2nwg_class_head>ncm_support@0:false',
          'd2nwg_class_head>lda_support@0:false',
          'd2nwg_class_head>d2nwg_mean@0:false',
          'd2nwg_class_head>d2nwg_protohead@0:false',
          'd2nwg_class_head_ensemble>ncm_support@0:false',
          'd2nwg_class_head_ensemble>lda_support@0:false',
          'd2nwg_class_head_all>ncm@0:false',
          'd2nwg_class_head_all>lda@0:false',
        ].sort(),
      );
    }
    const row = (split: string, epoch: number, m: string) =>
      a.results.find((r) => r.split === split && r.method === m && r.epoch === epoch)
        ?.accuracy_mean;
    for (const t of targets) {
      expect(t.method_accuracy).toBe(row(t.split, t.epoch, t.method));
      expect(t.baseline_accuracy).toBe(row(t.split, t.epoch, t.baseline));
      expect(t.met).toBe((t.method_accuracy ?? 0) > (t.baseline_accuracy ?? 0));
    }
    // Every row is the mean of its per-task values, which the report carries for paired tests.
    const perTask = a.per_task ?? [];
    for (const r of a.results) {
      const vals = perTask
        .filter((p) => p.split === r.split && p.method === r.method && p.epoch === r.epoch)
        .map((p) => p.accuracy);
      expect(vals.length, `${r.split} ${r.method}@${r.epoch}`).toBe(r.tasks);
      expect(vals.reduce((s, v) => s + v, 0) / vals.length).toBeCloseTo(r.accuracy_mean, 12);
    }
    for (const t of targets) {
      const tasks = a.results.find((r) => r.split === t.split && r.method === t.method)?.tasks;
      expect(t.paired_tasks, `${t.split} ${t.baseline}`).toBe(tasks);
      expect(t.difference_mean ?? NaN).toBeCloseTo(
        (t.method_accuracy ?? NaN) - (t.baseline_accuracy ?? NaN),
        12,
      );
      const [lo, hi] = t.difference_ci95 ?? [NaN, NaN];
      expect(lo).toBeLessThanOrEqual(t.difference_mean ?? NaN);
      expect(hi).toBeGreaterThanOrEqual(t.difference_mean ?? NaN);
    }
    expect(b.targets).toEqual(a.targets);
    // The VAE round-trip diagnostic is read against the same members' own accuracy.
    // MICRO's zoo has 2 tasks × 1 seed × 2 checkpoints, all four measured.
    const diag = a.diagnostics ?? {};
    expect(diag.vae_recon_members).toBe(4);
    // A greedy soup keeps between one and all of a task's samples (2 in MICRO).
    expect(diag.greedy_soup_members_mean).toBeGreaterThanOrEqual(1);
    expect(diag.greedy_soup_members_mean).toBeLessThanOrEqual(2);
    expect(diag.vae_recon_source_accuracy_mean).toBeGreaterThanOrEqual(0);
    expect(diag.vae_recon_source_accuracy_mean).toBeLessThanOrEqual(1);
    // Memorisation per split: MICRO evaluates one task per split, 2 samples each; the pooled
    // median is over all of them. Seen tasks' checkpoints are compared with their nearest other
    // checkpoint for the agreement reference.
    const bySplit = mem.by_split ?? {};
    expect(Object.keys(bySplit).sort()).toEqual(['seen', 'unseen-class', 'unseen-combo']);
    for (const s of Object.values(bySplit)) expect(s.samples).toBe(2);
    expect(mem.samples).toBe(6);
    const l2s = Object.values(bySplit).map((s) => s.sample_to_zoo_median);
    expect(mem.sample_to_zoo_median).toBeGreaterThanOrEqual(Math.min(...l2s));
    expect(mem.sample_to_zoo_median).toBeLessThanOrEqual(Math.max(...l2s));
    expect(mem.zoo_to_zoo_agreement_median).toBeGreaterThanOrEqual(0);
    expect(mem.zoo_to_zoo_agreement_median).toBeLessThanOrEqual(1);
    // The non-accuracy checks read the report's own numbers.
    const checks = new Map((a.checks ?? []).map((c) => [`${c.name}/${c.split}`, c]));
    expect(checks.get('samples_not_copies/seen')?.value).toBe(bySplit.seen?.sample_to_zoo_median);
    expect(checks.get('samples_not_copies/all')?.reference).toBe(mem.zoo_to_zoo_median);
    expect(checks.get('time_budget/all')).toMatchObject({
      value: a.timings_s.total,
      reference: 300,
    });
    // The accuracy predictor was trained (its stage is timed) and scored the samples; MICRO's zoo
    // has 2 tasks, too few to hold one out, so there is no validation.
    expect(a.timings_s.predictor).toBeGreaterThan(0);
    expect(diag.predictor_val_spearman).toBeUndefined();
    expect(a.results.find((r) => r.method === 'd2nwg_predicted_best')?.samples_per_task).toBe(1);
    // The zoo reference exists on seen tasks only.
    expect(a.results.filter((r) => r.method === 'zoo').every((r) => r.split === 'seen')).toBe(true);
  });

  it("reports for each init exactly what its Evaluate node gives when the pipeline is run as a user's", async () => {
    const cfg = resolveQualityConfig('smoke', MICRO);
    const report = await runQuality({ config: cfg });
    // The same pipeline, saved as JSON (as the canvas saves it), parsed and run as `d2nwg run`
    // runs a file: a fresh executor run with its own cache.
    const built = qualityPipeline(cfg);
    const parsed = parsePipeline(JSON.parse(JSON.stringify(built.pipeline)));
    if (!parsed.ok) throw new Error(parsed.problems.join('; '));
    const cache = new MemoryNodeCache<PortValue>();
    try {
      const run = await runPipeline<PortValue>({
        pipeline: parsed.pipeline,
        registry,
        runners,
        seed: cfg.seed,
        cache,
        dataDir: process.cwd(),
      });
      expect(run.status).toBe('done');
      const nodeTypes = new Set(parsed.pipeline.nodes.map((node) => node.type));
      expect(nodeTypes).toEqual(
        new Set([
          'dataset.source',
          'tasks.generate',
          'features.extract',
          'zoo.build',
          'model.vae',
          'model.encoder',
          'model.diffusion',
          'sample.generate',
          'eval.finetune',
          'eval.reference',
        ]),
      );
      const perTask = report.per_task ?? [];
      let compared = 0;
      for (const id of built.targets[0].evals) {
        const key = run.nodes.get(id)?.cacheKey ?? '';
        const metrics = cache.get(key)?.outputs.metrics;
        if (metrics?.type !== 'metrics') throw new Error(`no metrics from ${id}`);
        for (const r of metrics.results) {
          r.epochs.forEach((epoch, j) => {
            const rows = perTask.filter(
              (p) => p.split === r.split && p.method === r.method && p.epoch === epoch,
            );
            expect(
              rows.map((p) => [p.task, p.accuracy]),
              `${id} ${r.split}@${epoch}`,
            ).toEqual(r.perTask.map((p) => [p.taskId, p.accuracy[j]]));
            const row = report.results.find(
              (x) => x.split === r.split && x.method === r.method && x.epoch === epoch,
            );
            expect(row?.accuracy_mean).toBe(r.mean[j]);
            compared += 1;
          });
        }
      }
      // Every init of the Evaluate node on every split at epochs 0 and 1, and the references.
      const methods = new Set(report.results.map((x) => x.method));
      for (const m of ['randinit', 'noise_matched', 'noise_fn_matched', 'kde30', 'd2nwg_mean']) {
        expect(methods.has(m), m).toBe(true);
      }
      expect(compared).toBeGreaterThan(40);
    } finally {
      cache.clear();
    }
  });

  it('runs on a zoo augmented by output permutations: the copies train the generator, the zoo rows stay the tasks own', async () => {
    const cfg = resolveQualityConfig('smoke', {
      ...MICRO,
      zoo: { ...MICRO.zoo, augment: { outputPermutations: 2 } },
      eval: {
        ...MICRO.eval,
        predictorRank: false,
        discriminant: false,
        ensembles: false,
        classHead: { enabled: false },
      },
    });
    const report = await runQuality({ config: cfg });
    // The class-head generator is optional: off, neither its rows nor its diagnostics.
    expect(report.results.some((r) => r.method === 'd2nwg_class_head')).toBe(false);
    expect(report.diagnostics?.class_head_seconds).toBeUndefined();
    // 2 tasks × 1 seed × 2 checkpoints, then 2 permuted copies of each.
    expect(report.diagnostics?.zoo_members).toBe(12);
    const zooRow = report.results.find((r) => r.split === 'seen' && r.method === 'zoo');
    expect(zooRow?.tasks).toBe(1);
    for (const split of ['seen', 'unseen-combo', 'unseen-class'] as const) {
      const row = report.results.find(
        (r) => r.split === split && r.method === 'd2nwg_mean' && r.epoch === 0,
      );
      expect(row?.accuracy_mean, split).toBeGreaterThanOrEqual(0);
    }
  });

  it('builds a valid pipeline for every preset, with the optional nodes only when configured', () => {
    for (const preset of QUALITY_PRESETS) {
      const built = qualityPipeline(resolveQualityConfig(preset));
      const v = validatePipeline(built.pipeline, registry);
      expect(v.problems, preset).toEqual([]);
      const ids = built.pipeline.nodes.map((node) => node.id);
      expect(ids).toContain('eval_d2nwg_predicted_best');
      expect(ids).not.toContain('eval_pretrained_file');
      expect(ids.some((id) => id.startsWith('unseen_'))).toBe(false);
    }
    const cfg = resolveQualityConfig('smoke', {
      ...MICRO,
      eval: { ...MICRO.eval, predictorRank: false, discriminant: false, pretrainedFile: 'w.pt' },
      unseenDataset: { source: { kind: 'npy', x: 'x.npy', y: 'y.npy' }, numTasks: 2 },
    });
    const built = qualityPipeline(cfg);
    expect(validatePipeline(built.pipeline, registry).problems).toEqual([]);
    const ids = built.pipeline.nodes.map((node) => node.id);
    // The checkpoint is read right after the zoo is built, before the generator trains.
    expect(ids.indexOf('eval_pretrained_file')).toBe(ids.indexOf('zoo') + 1);
    expect(ids).not.toContain('sample_predicted');
    expect(ids).not.toContain('ref_lda');
    expect(ids).not.toContain('ref_lda_support');
    expect(built.targets.map((t) => t.splits)).toEqual([
      ['seen', 'unseen-combo', 'unseen-class'],
      ['unseen-dataset'],
    ]);
    // On the other dataset: no zoo and no pretrained_source rows; its own Samplers and references.
    expect(built.targets[1].evals).not.toContain('unseen_eval_zoo');
    expect(built.targets[1].evals).not.toContain('unseen_eval_pretrained_source');
    expect(built.targets[1].evals).toContain('unseen_eval_pretrained_file');
    expect(built.targets[1].sample).toBe('unseen_sample');
  });

  it('reuses a shared node cache across configs: the zoo trains once, no number changes', async () => {
    // Two configs that differ only in the diffusion model: with one cache, the second run takes
    // the zoo, VAE and encoder from the first and gives the same report as a run of its own.
    const first = resolveQualityConfig('smoke', MICRO);
    const second = resolveQualityConfig('smoke', {
      ...MICRO,
      diffusion: { ...MICRO.diffusion, steps: 7 },
    });
    const cache = new MemoryNodeCache<PortValue>();
    const lines: string[] = [];
    const [viaCache] = await expectNoLeakedTensors(async () => {
      try {
        await runQuality({ config: first, cache });
        expect(cache.size).toBeGreaterThan(0);
        const r = await runQuality({ config: second, cache, log: (l) => lines.push(l) });
        return [r];
      } finally {
        cache.clear();
      }
    });
    expect(lines).toContain('[zoo] cached');
    expect(lines).toContain('[vae] cached');
    expect(lines).toContain('[diffusion] running');
    expect(lines).not.toContain('[zoo] running');
    const alone = await runQuality({ config: second });
    const strip = (r: typeof alone) =>
      r.results.map((x) => [x.split, x.method, x.epoch, x.accuracy_mean]);
    expect(strip(viaCache)).toEqual(strip(alone));
  });

  it('runs a CNN zoo on raw images: every method and reference on the same images', async () => {
    // perClass = nTrain: the generator is conditioned on all training samples, and the support-set
    // references are then fitted on exactly the samples the 'train' ones are.
    const cfg = resolveQualityConfig('smoke', {
      ...MICRO,
      features: { kind: 'pixels' },
      zoo: { ...MICRO.zoo, architecture: { kind: 'cnn', channels: [2, 3] } },
      encoder: { ...MICRO.encoder, perClass: MICRO.tasks.nTrain },
    });
    const r = await expectNoLeakedTensors(() => runQuality({ config: cfg }));
    QualityReportSchema.parse(r);
    // Conv 3×3×1×2 + 2, conv 3×3×2×3 + 3, dense 3×3 + 3 (K = 3 outputs).
    expect(r.diagnostics?.weights_per_model).toBe(20 + 57 + 12);
    const methods = (split: string) =>
      new Set(r.results.filter((x) => x.split === split && x.epoch === 0).map((x) => x.method));
    for (const split of ['seen', 'unseen-combo', 'unseen-class']) {
      for (const m of [
        'randinit',
        'pretrained_source',
        'pretrained_probe',
        'pretrained_probe_support',
        'kde30',
        'noise_nearest',
        'noise_matched',
        'noise_fn_matched',
        'weight_avg',
        'd2nwg_mean',
        'd2nwg_best',
        'd2nwg_protohead',
        'd2nwg_lda_head',
        'd2nwg_class_head',
        'ncm',
        'ncm_support',
        'lda',
        'lda_support',
      ]) {
        expect(methods(split).has(m), `${split} ${m}`).toBe(true);
      }
    }
    const at0 = (split: string, m: string) =>
      r.results.find((x) => x.split === split && x.method === m && x.epoch === 0)?.accuracy_mean;
    for (const split of ['seen', 'unseen-combo', 'unseen-class']) {
      expect(at0(split, 'ncm_support'), split).toBe(at0(split, 'ncm'));
      expect(at0(split, 'lda_support'), split).toBeCloseTo(at0(split, 'lda') ?? NaN, 6);
      expect(at0(split, 'pretrained_probe_support'), split).toBeCloseTo(
        at0(split, 'pretrained_probe') ?? NaN,
        6,
      );
    }
    // Fine-tuned rows for the CNN inits too.
    expect(r.results.some((x) => x.method === 'pretrained_probe' && x.epoch === 1)).toBe(true);
  });

  it('refuses a CNN zoo on feature vectors, naming the field', () => {
    expect(() =>
      resolveQualityConfig('smoke', { ...MICRO, zoo: { architecture: { kind: 'cnn' } } }),
    ).toThrow(
      /features\.kind.*a CNN zoo trains on raw images: set features\.kind to 'pixels' \(got 'pca'\)/,
    );
  });

  it('refuses a bad class-head config, naming the field', () => {
    expect(() =>
      resolveQualityConfig('smoke', {
        ...MICRO,
        eval: { ...MICRO.eval, classHead: { hidden: 0 } },
      }),
    ).toThrow(/eval\.classHead\.hidden/);
    expect(() =>
      resolveQualityConfig('smoke', { eval: { classHead: { enabled: true, stepz: 3 } } }),
    ).toThrow(/stepz/);
  });

  it('refuses a config whose zoo would hold a single task', async () => {
    expect(() =>
      resolveQualityConfig('smoke', { ...MICRO, tasks: { ...MICRO.tasks, numSeen: 1 } }),
    ).toThrow(/at least 2 seen tasks/);
  });

  it('trains the VAE with the predictor term (Eq. 7) when predictorWeight > 0, and can skip g', async () => {
    const eq7 = await runQuality({
      config: resolveQualityConfig('smoke', {
        ...MICRO,
        vae: { ...MICRO.vae, predictorWeight: 0.5 },
        eval: { ...MICRO.eval, predictorRank: false },
      }),
    });
    expect(eq7.diagnostics?.vae_final_predictor_term).toBeGreaterThanOrEqual(0);
    expect(eq7.timings_s.predictor).toBeGreaterThan(0);
    expect(eq7.results.some((r) => r.method === 'd2nwg_predicted_best')).toBe(false);
    const none = await runQuality({
      config: resolveQualityConfig('smoke', {
        ...MICRO,
        eval: { ...MICRO.eval, predictorRank: false },
      }),
    });
    expect(none.timings_s.predictor).toBeUndefined();
    expect(none.diagnostics?.vae_final_predictor_term).toBeUndefined();
  });

  it("evaluates another source's tasks as the unseen-dataset split, every method beside D2NWG", async () => {
    const cfg = resolveQualityConfig('smoke', {
      ...MICRO,
      eval: { ...MICRO.eval, maxTasksPerSplit: 2 },
      unseenDataset: { source: otherSource(4, 60, 28), numTasks: 2 },
    });
    const r = await runQuality({ config: cfg });
    QualityReportSchema.parse(r);
    const rows = r.results.filter((x) => x.split === 'unseen-dataset');
    const methods = new Set(rows.map((x) => x.method));
    for (const m of ['randinit', 'ncm', 'lda', 'd2nwg_mean', 'd2nwg_best', 'noise_fn_matched']) {
      expect(methods.has(m), m).toBe(true);
    }
    // No zoo row: no checkpoint was trained on another source. No pretrained_source row either:
    // the Evaluate node refuses it on another dataset's tasks (its model would train on them);
    // eval.pretrainedFile gives a pretrained model there.
    expect(methods.has('zoo')).toBe(false);
    expect(methods.has('pretrained_source')).toBe(false);
    expect(rows.find((x) => x.method === 'randinit' && x.epoch === 1)?.tasks).toBe(2);
    // The classes of the other source are easy: the nearest class mean, on the features fitted
    // on Fashion-MNIST, is far above chance (1/3), so the tasks really are that source's.
    const ncm = rows.find((x) => x.method === 'ncm');
    expect(ncm?.accuracy_mean).toBeGreaterThan(0.8);
    const ids = new Set(
      (r.per_task ?? []).filter((x) => x.split === 'unseen-dataset').map((x) => x.task),
    );
    expect(ids.size).toBe(2);
    for (const id of ids) expect(id.startsWith('ud-')).toBe(true);
    // Its D2NWG checks are reported, not required.
    const checks = (r.targets ?? []).filter((t) => t.split === 'unseen-dataset');
    expect(checks.some((t) => t.method === 'd2nwg_mean' && t.baseline === 'randinit')).toBe(true);
    expect(checks.every((t) => !t.required)).toBe(true);
  });

  it('refuses an unseen-dataset source of another input shape before training, naming both', async () => {
    const cfg = resolveQualityConfig('smoke', {
      ...MICRO,
      unseenDataset: { source: otherSource(4, 60, 12), numTasks: 2 },
    });
    const t0 = performance.now();
    const err = await runQuality({ config: cfg }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect(String((err as Error).message)).toMatch(
      /unseenDataset\.source: its samples have shape \[12, 12, 1\] but .* has \[28, 28, 1\]/,
    );
    expect(performance.now() - t0).toBeLessThan(5000);
    // More tasks than the source has distinct ordered 3-class tuples (4·3·2 = 24).
    const many = resolveQualityConfig('smoke', {
      ...MICRO,
      unseenDataset: { source: otherSource(4, 60, 28), numTasks: 25 },
    });
    await expect(runQuality({ config: many })).rejects.toThrow(/numTasks = 25 is more than the 24/);
  });

  it('adds pretrained_file rows from a checkpoint, and refuses one that does not fit', async () => {
    const dir = tempDir('pretrained-file');
    dirs.push(dir);
    const save = async (hidden: number, name: string) => {
      const arch = resolveArchitecture(
        ArchitectureSchema.parse({ kind: 'mlp', hidden: [hidden] }),
        [6],
        3,
      );
      const layout = layoutOf(arch);
      const tensors: Record<string, StTensor> = {};
      for (const t of toTorchStateDict(layout, initParams(layout, new Rng(4)))) {
        tensors[t.name] = { dtype: 'F32', shape: t.shape, data: t.data };
      }
      const file = path.join(dir, name);
      await writeSafetensors(file, tensors);
      return file;
    };
    const r = await runQuality({
      config: resolveQualityConfig('smoke', {
        ...MICRO,
        eval: { ...MICRO.eval, pretrainedFile: await save(4, 'fits.safetensors') },
      }),
    });
    const rows = r.results.filter((x) => x.method === 'pretrained_file');
    expect(new Set(rows.map((x) => x.split))).toEqual(
      new Set(['seen', 'unseen-combo', 'unseen-class']),
    );
    expect(rows.every((x) => x.epoch !== 1 || x.tasks === 1)).toBe(true);
    const bad = resolveQualityConfig('smoke', {
      ...MICRO,
      eval: { ...MICRO.eval, pretrainedFile: await save(5, 'wide.safetensors') },
    });
    await expect(runQuality({ config: bad })).rejects.toThrow(/shape \[5, 6\].*\[4, 6\]/);
  });
});
