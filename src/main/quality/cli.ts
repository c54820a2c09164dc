/**
 * `d2nwg bench quality --preset smoke|standard|large|standard-cnn|large-cnn [--config FILE]
 * --out FILE.json`: resolves the config, runs the benchmark, writes the report JSON atomically and
 * prints the table. Returns the process exit code; InputError propagates so the CLI maps it to
 * exit code 2.
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import {
  QUALITY_PRESETS,
  QualityReportSchema,
  type QualityPreset,
} from '../../shared/schemas/quality.ts';
import { initBackend } from '../engine/backend.ts';
import { InputError } from '../engine/errors.ts';
import { writeJsonReport } from '../engine/formats/atomic.ts';
import { readConfigFile, resolveQualityConfig } from '../engine/quality/config.ts';
import { formatChecks, formatTable, formatTargets } from '../engine/quality/report.ts';
import { qualityPipeline } from './pipeline.ts';
import { runQuality } from './runner.ts';
import { errorMessage } from '../../shared/errors.ts';

export const QUALITY_USAGE = `Usage: d2nwg bench quality --preset smoke|standard|large|standard-cnn|large-cnn [--config FILE.json] [--seed N] [--out FILE.json] [--save-pipeline FILE.pipeline.json]

Builds a zoo, trains the weight VAE, the dataset encoder and the latent diffusion model, then
compares D2NWG samples (mean, best on the support set, best by the accuracy predictor, soups,
prototype head) with randinit, pretrained_source, pretrained_probe, zoo, kde30, noise_nearest, noise_matched,
noise_fn_matched, weight_avg and ncm on seen, unseen-combo and unseen-class tasks (bench/QUALITY.md). --config is a JSON object
deep-merged over the preset (any dataset source, class counts, held-out classes, seeds…).
It runs as a pipeline through the executor (the same nodes as \`d2nwg run\`): every init's row is
its Evaluate node's. --save-pipeline also writes that pipeline, to open on the canvas or run with
\`d2nwg run\`.`;

/** Entry of the bench registry: parse argv, run, write, print; returns the exit code. */
export async function benchQuality(argv: string[]): Promise<number> {
  let values: {
    preset?: string;
    config?: string;
    out?: string;
    seed?: string;
    quiet?: boolean;
    'save-pipeline'?: string;
  };
  try {
    values = parseArgs({
      args: argv,
      options: {
        preset: { type: 'string', default: 'smoke' },
        config: { type: 'string' },
        out: { type: 'string' },
        seed: { type: 'string' },
        quiet: { type: 'boolean', default: false },
        'save-pipeline': { type: 'string' },
      },
      allowPositionals: false,
      strict: true,
    }).values;
  } catch (err) {
    throw new InputError(errorMessage(err), 'd2nwg bench quality');
  }
  const preset = values.preset ?? 'smoke';
  if (!(QUALITY_PRESETS as readonly string[]).includes(preset)) {
    throw new InputError(
      `unknown preset '${preset}'; expected ${QUALITY_PRESETS.join(' or ')}`,
      '--preset',
    );
  }
  const out = values.out ?? path.join('bench', 'out', 'quality.json');
  const override: Record<string, unknown> = values.config
    ? ((await readConfigFile(values.config)) as Record<string, unknown>)
    : {};
  if (values.seed !== undefined) {
    const seed = Number(values.seed);
    if (!Number.isInteger(seed) || seed < 0)
      throw new InputError(`--seed must be a non-negative integer, got '${values.seed}'`);
    override.seed = seed;
  }
  const config = resolveQualityConfig(preset as QualityPreset, override, values.config ?? 'config');
  const pipelineOut = values['save-pipeline'];
  if (pipelineOut !== undefined) {
    // The pipeline the benchmark runs, to open on the canvas or run with `d2nwg run`.
    await writeJsonReport(pipelineOut, qualityPipeline(config).pipeline);
  }
  await initBackend({ quiet: values.quiet });
  const log = values.quiet ? undefined : (line: string) => process.stderr.write(`${line}\n`);
  const report = await runQuality({ config, log });
  QualityReportSchema.parse(report);
  await writeJsonReport(out, report);
  console.log(formatTable(report.results));
  const m = report.memorisation;
  console.log(
    `memorisation: sample→zoo median L2 ${m.sample_to_zoo_median.toFixed(3)}, zoo→zoo median L2 ${m.zoo_to_zoo_median.toFixed(3)}`,
  );
  for (const [split, s] of Object.entries(m.by_split ?? {})) {
    console.log(
      `  ${split}: ${s.samples} samples, sample→zoo median L2 ${s.sample_to_zoo_median.toFixed(3)}, test-set agreement with that checkpoint ${s.prediction_agreement_median.toFixed(3)}`,
    );
  }
  if (m.zoo_to_zoo_agreement_median !== undefined) {
    console.log(
      `  zoo→nearest other checkpoint test-set agreement ${m.zoo_to_zoo_agreement_median.toFixed(3)} (seen tasks)`,
    );
  }
  if (
    m.noise_matched_to_source_median !== undefined &&
    m.noise_matched_to_zoo_median !== undefined
  ) {
    console.log(
      `noise_matched: copy→source median L2 ${m.noise_matched_to_source_median.toFixed(3)}, copy→nearest zoo median L2 ${m.noise_matched_to_zoo_median.toFixed(3)}`,
    );
  }
  if (
    m.noise_fn_matched_norm_median !== undefined &&
    m.noise_fn_matched_target_agreement_median !== undefined &&
    m.noise_fn_matched_train_agreement_median !== undefined
  ) {
    console.log(
      `noise_fn_matched: median noise L2 ${m.noise_fn_matched_norm_median.toFixed(3)}; train-set agreement with the source ${m.noise_fn_matched_train_agreement_median.toFixed(3)} (samples with theirs ${m.noise_fn_matched_target_agreement_median.toFixed(3)})`,
    );
  }
  const dg = report.diagnostics;
  if (
    dg?.vae_recon_accuracy_mean !== undefined &&
    dg.vae_recon_source_accuracy_mean !== undefined
  ) {
    console.log(
      `vae round trip: decoded members ${(100 * dg.vae_recon_accuracy_mean).toFixed(1)}% vs the same members ${(100 * dg.vae_recon_source_accuracy_mean).toFixed(1)}% on their own test sets (${dg.vae_recon_members ?? '?'} members)`,
    );
  }
  if (dg?.predictor_val_spearman !== undefined && dg.predictor_val_mae !== undefined) {
    console.log(
      `accuracy predictor: held-out zoo tasks MAE ${(100 * dg.predictor_val_mae).toFixed(2)} pts, Spearman ${dg.predictor_val_spearman.toFixed(3)}` +
        (dg.predictor_sample_spearman_mean !== undefined
          ? `; within a task's samples, Spearman with test accuracy ${dg.predictor_sample_spearman_mean.toFixed(3)}`
          : ''),
    );
  }
  const conv = report.convergence ?? [];
  if (conv.length > 0) {
    console.log(
      `convergence: first fine-tuning epoch reaching 95% of the epoch-${conv[0].final_epoch} accuracy (median over runs)`,
    );
    for (const split of new Set(conv.map((c) => c.split))) {
      const parts = conv
        .filter((c) => c.split === split)
        .sort((a, b) => a.epoch_to_95_median - b.epoch_to_95_median)
        .map((c) => `${c.method} ${c.epoch_to_95_median}`);
      console.log(`  ${split}: ${parts.join(', ')}`);
    }
  }
  if (report.targets) console.log(formatTargets(report.targets));
  if (report.checks) console.log(formatChecks(report.checks));
  console.log(`total ${report.timings_s.total.toFixed(1)} s; report written to ${out}`);
  return 0;
}
