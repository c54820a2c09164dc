import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { QualityReportSchema } from '../../../src/shared/schemas/quality.ts';
import { benchQuality } from '../../../src/main/quality/cli.ts';

// `d2nwg bench quality --preset smoke` end to end, through the CLI entry: the whole method
// (features → zoo → VAE → encoder → diffusion → sampling → every baseline) on the embedded
// Fashion-MNIST. It takes a few minutes on 2 cores. The thresholds sit well above chance and well
// below the targets, so seed noise cannot fail it but a broken stage does.
describe('d2nwg bench quality --preset smoke', () => {
  const dir = mkdtempSync(join(tmpdir(), 'd2nwg-smoke-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the fixed-schema report with D2NWG well above chance on seen tasks', async () => {
    const out = join(dir, 'quality.json');
    // The test runner already runs two files at once on 2 cores: train the zoo in this thread.
    const cfgFile = join(dir, 'override.json');
    writeFileSync(cfgFile, JSON.stringify({ zoo: { workers: 0 } }));
    const code = await benchQuality(['--preset', 'smoke', '--config', cfgFile, '--out', out]);
    expect(code).toBe(0);

    const report = QualityReportSchema.parse(JSON.parse(readFileSync(out, 'utf8')));
    expect(report.protocol).toBe('d2nwg-quality/1');
    expect(report.preset).toBe('smoke');
    for (const row of report.results) {
      expect(row.accuracy_mean).toBeGreaterThanOrEqual(0);
      expect(row.accuracy_mean).toBeLessThanOrEqual(1);
    }
    const get = (split: string, method: string, epoch: number) =>
      report.results.find((x) => x.split === split && x.method === method && x.epoch === epoch)
        ?.accuracy_mean ?? Number.NaN;
    const k = (report.config as { tasks: { k: number } }).tasks.k;
    const chance = 1 / k;
    for (const split of ['seen', 'unseen-combo', 'unseen-class']) {
      for (const method of [
        'randinit',
        'pretrained_source',
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
      ]) {
        expect(Number.isFinite(get(split, method, 0)), `${split}/${method}@0`).toBe(true);
      }
    }
    expect(get('seen', 'zoo', 0)).toBeGreaterThan(0.6);
    // Conditioning per class: heads generated class by class from the support set keep the
    // generated bodies well above chance on classes the zoo never saw.
    for (const split of ['seen', 'unseen-combo', 'unseen-class']) {
      expect(get(split, 'd2nwg_class_head', 0), split).toBeGreaterThan(2.5 * chance);
      // Conditioned on every training sample (100 per class) rather than 5, the same bodies
      // class heads are at least as good on average over the split's tasks, give or take noise.
      expect(get(split, 'd2nwg_class_head_all', 0), split).toBeGreaterThan(
        get(split, 'd2nwg_class_head', 0) - 0.05,
      );
    }
    const allVsNcm = (report.targets ?? []).find(
      (t) =>
        t.method === 'd2nwg_class_head_all' && t.baseline === 'ncm' && t.split === 'unseen-class',
    );
    expect(allVsNcm?.paired_tasks).toBeGreaterThan(0);
    expect(get('seen', 'd2nwg_mean', 0)).toBeGreaterThan(2 * chance);
    expect(get('seen', 'd2nwg_best', 0)).toBeGreaterThan(2.5 * chance);
    // Generated weights must be far better than an untrained network of the same architecture.
    expect(get('seen', 'd2nwg_mean', 0)).toBeGreaterThan(get('seen', 'randinit', 0) + 0.2);
    // noise_matched: present on every split at every fine-tuning epoch, a fraction, one copy per
    // D2NWG sample, and exactly as far from its source checkpoint as the samples are from the zoo.
    for (const split of ['seen', 'unseen-combo', 'unseen-class']) {
      for (const epoch of [0, 1, 5]) {
        const v = get(split, 'noise_matched', epoch);
        expect(v, `${split}/noise_matched@${epoch}`).toBeGreaterThanOrEqual(0);
        expect(v, `${split}/noise_matched@${epoch}`).toBeLessThanOrEqual(1);
      }
    }
    const samplesOf = (m: string) =>
      report.results.find((x) => x.split === 'seen' && x.method === m && x.epoch === 0)
        ?.samples_per_task;
    expect(samplesOf('noise_matched')).toBe(samplesOf('d2nwg_mean'));
    const mem = report.memorisation;
    expect(mem.sample_to_zoo_median).toBeGreaterThan(0);
    expect(mem.noise_matched_to_source_median).toBeCloseTo(mem.sample_to_zoo_median, 4);
    expect(report.targets?.find((t) => t.baseline === 'noise_fn_matched')?.required).toBe(true);
    expect(samplesOf('noise_fn_matched')).toBe(samplesOf('d2nwg_mean'));
    // Samples for seen tasks are not replays of their own checkpoints: a memorising generator
    // would sit closer to them than the zoo's members sit to each other.
    const copies = report.checks?.find(
      (c) => c.name === 'samples_not_copies' && c.split === 'seen',
    );
    expect(copies?.value).toBe(mem.by_split?.seen?.sample_to_zoo_median);
    expect(copies?.held).toBe(true);
    expect(report.timings_s.total).toBeGreaterThan(0);
    // The extras' parts: each timed, together no more than the evaluation stage they are part of.
    const parts = report.timings_s.extras ?? {};
    for (const name of ['vae_round_trip', 'soups', 'noise_copies', 'finetuning'])
      expect(parts[name], name).toBeGreaterThan(0);
    const sum = Object.values(parts).reduce((a, b) => a + b, 0);
    expect(sum).toBeLessThanOrEqual(report.timings_s.eval);
  }, 900_000);
});
