/**
 * Aggregation and presentation of quality results: per-task accuracies become
 * {split, method, epoch, mean, std} rows (bench/QUALITY.md's fixed schema), and the rows become
 * one table with a row per method and a column per (split, epoch).
 */
import type {
  QualityCheck,
  QualityPerTask,
  QualityReport,
  QualityResult,
  QualityTarget,
} from '../../../shared/schemas/quality.ts';
import { Rng } from '../rng.ts';
import { meanStd } from '../../../shared/stats.ts';

export type Split = QualityResult['split'];

/** Accumulates per-task accuracies of (split, method, epoch). */
export class ResultCollector {
  private readonly cells = new Map<
    string,
    {
      split: Split;
      method: string;
      epoch: number;
      values: number[];
      tasks: (string | null)[];
      samples: number;
    }
  >();

  /**
   * Record one task's accuracy (already averaged over its samples, if any).
   * `samples` = how many samples per task the value averages (1 for a single init); `task` names
   * the task, so that two methods can be compared task by task (paired).
   */
  add(
    split: Split,
    method: string,
    epoch: number,
    accuracy: number,
    samples = 1,
    task: string | null = null,
  ): void {
    const key = `${split}\u0000${method}\u0000${epoch}`;
    let c = this.cells.get(key);
    if (!c) {
      c = { split, method, epoch, values: [], tasks: [], samples };
      this.cells.set(key, c);
    }
    c.values.push(accuracy);
    c.tasks.push(task);
    c.samples = Math.max(c.samples, samples);
  }

  /** Every recorded per-task value that names its task, in insertion order. */
  perTask(): QualityPerTask[] {
    const out: QualityPerTask[] = [];
    for (const c of this.cells.values()) {
      c.tasks.forEach((task, i) => {
        if (task !== null) {
          out.push({
            split: c.split,
            method: c.method,
            epoch: c.epoch,
            task,
            accuracy: c.values[i],
          });
        }
      });
    }
    return out;
  }

  /** Rows in insertion order (methods in the order they were first added). */
  rows(): QualityResult[] {
    return [...this.cells.values()].map((c) => {
      const { mean, std } = meanStd(c.values);
      return {
        split: c.split,
        method: c.method,
        epoch: c.epoch,
        accuracy_mean: clamp01(mean),
        accuracy_std: std,
        tasks: c.values.length,
        samples_per_task: c.samples,
      };
    });
  }
}

function clamp01(v: number): number {
  return Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0;
}

const SPLIT_ORDER: Split[] = ['seen', 'unseen-combo', 'unseen-class', 'unseen-dataset'];

/** Fixed-width text table: one row per method, one column per (split, epoch), "mean±std" in %. */
export function formatTable(rows: readonly QualityResult[]): string {
  const cols: { split: Split; epoch: number }[] = [];
  for (const split of SPLIT_ORDER) {
    const epochs = [...new Set(rows.filter((r) => r.split === split).map((r) => r.epoch))].sort(
      (a, b) => a - b,
    );
    for (const epoch of epochs) cols.push({ split, epoch });
  }
  const methods = [...new Set(rows.map((r) => r.method))];
  const cell = (m: string, c: { split: Split; epoch: number }) => {
    const r = rows.find((x) => x.method === m && x.split === c.split && x.epoch === c.epoch);
    return r ? `${(100 * r.accuracy_mean).toFixed(1)}±${(100 * r.accuracy_std).toFixed(1)}` : '—';
  };
  const header = ['method', ...cols.map((c) => `${c.split}@${c.epoch}`)];
  const body = methods.map((m) => [m, ...cols.map((c) => cell(m, c))]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/** One acceptance check of the quality protocol: `method` above `baseline` at (split, epoch). */
export interface TargetSpec {
  readonly split: Split;
  readonly epoch: number;
  readonly method: string;
  readonly baseline: string;
  /** false: reported for reference, not part of the acceptance. */
  readonly required: boolean;
  readonly note: string;
}

/**
 * The seen-task comparisons at epoch 0: d2nwg_mean above S_KDE30 and the noise-added nearest
 * checkpoint (required), and above the weight average (reference: with one run per task, the
 * average of its kept checkpoints is a soup of the task's own checkpoints, an ensemble a
 * generator reproducing its zoo cannot clear; the seen target is the `seen_of_zoo` check,
 * d2nwg_mean at 99 % of the zoo). "Noise-added" is noise_fn_matched, the baseline of the
 * memorisation critique (arXiv 2506.07998) at equal novelty, novelty measured as that paper does,
 * in predictions. noise_matched (equal L2 distance: weight space is so flat that such noise barely
 * changes the function) and noise_nearest (a fixed, small noise: a near-copy of the best zoo
 * checkpoint) are listed for reference, not required.
 */
export const TARGET_BASELINES: readonly { baseline: string; required: boolean; note: string }[] = [
  { baseline: 'kde30', required: true, note: 'S_KDE30 (Schürholt et al. 2022)' },
  {
    baseline: 'weight_avg',
    required: false,
    note:
      "mean of the nearest task's checkpoints; reference: on a seen task it averages the task's " +
      'own checkpoints (a weight-space ensemble), which a generator reproducing its zoo cannot ' +
      'clear; the seen target is the seen_of_zoo check',
  },
  {
    baseline: 'noise_fn_matched',
    required: true,
    note:
      "noise-added nearest checkpoint at the samples' behavioural novelty: as often wrong where its " +
      'source is right as the samples (arXiv 2506.07998 measures novelty in predictions)',
  },
  {
    baseline: 'noise_matched',
    required: false,
    note: "noise-added nearest checkpoint at the samples' L2 distance to the zoo; reference",
  },
  {
    baseline: 'noise_nearest',
    required: false,
    note: 'best zoo checkpoint + fixed small noise (a near-copy); reference only',
  },
];

const UNSEEN = ['unseen-combo', 'unseen-class'] as const satisfies readonly Split[];
/** Splits whose checks are reported but not required: another source's tasks (config-dependent). */
const UNSEEN_REFERENCE = ['unseen-dataset'] as const satisfies readonly Split[];

/**
 * Every check, in report order: the seen-task ones above; on unseen tasks at epochs 0 and 1,
 * d2nwg_mean above RandInit and Pretrained (source); and, reported either way, order-aware
 * conditioning with a prototype head against the nearest-class-mean classifier (all training
 * samples), d2nwg_mean against the same classifier built from the support set (perClass
 * shots per class) the generator is conditioned on (equal data), and the generated bodies with an
 * LDA head against NCM and against LDA on the raw features (all training samples for all three).
 * For reference too, at epoch 0: the seen task's checkpoints as one ensemble against each of them
 * (the headroom above the zoo), and on every split the samples as one ensemble against their
 * noise_fn_matched copies as one.
 */
export const TARGETS: readonly TargetSpec[] = [
  ...TARGET_BASELINES.map((b) => ({
    split: 'seen' as const,
    epoch: 0,
    method: 'd2nwg_mean',
    ...b,
  })),
  {
    split: 'seen',
    epoch: 0,
    method: 'zoo_ensemble',
    baseline: 'zoo',
    required: false,
    note:
      "headroom: the task's own checkpoints as one ensemble against each of them; a generator " +
      'that recombines its zoo is unlikely to gain more over the zoo than this; reference',
  },
  ...(['seen', ...UNSEEN, ...UNSEEN_REFERENCE] as const).map((split) => ({
    split,
    epoch: 0,
    method: 'd2nwg_ensemble',
    baseline: 'noise_fn_ensemble',
    required: false,
    note: "the N samples as one ensemble against their noise_fn_matched copies as one: do the samples' differences carry information that noise does not?; reference",
  })),
  ...[...UNSEEN, ...UNSEEN_REFERENCE].flatMap((split) => [
    ...[0, 1].flatMap((epoch) =>
      (['randinit', 'pretrained_source'] as const).map((baseline) => ({
        split,
        epoch,
        method: 'd2nwg_mean',
        baseline,
        required: split !== 'unseen-dataset',
        note:
          baseline === 'randinit'
            ? 'the architecture’s default initialisation'
            : "trained on every known class (the zoo's own starting body when it was pretrained), head re-initialised",
      })),
    ),
    {
      split,
      epoch: 0,
      method: 'd2nwg_protohead',
      baseline: 'ncm',
      required: false,
      note: 'order-aware conditioning should reach the nearest-class-mean reference (all training samples); reported either way',
    },
    {
      split,
      epoch: 0,
      method: 'd2nwg_mean',
      baseline: 'ncm_support',
      required: false,
      note: 'nearest class mean from the same support set the generator sees (equal data); reference',
    },
    {
      split,
      epoch: 0,
      method: 'd2nwg_mean',
      baseline: 'lda_support',
      required: false,
      note: 'linear discriminant from the same support set the generator sees (equal data); reference',
    },
    ...(['ncm_support', 'lda_support'] as const).map((baseline) => ({
      split,
      epoch: 0,
      method: 'd2nwg_class_head_ensemble',
      baseline,
      required: false,
      note: 'the N samples with class-generated heads as one ensemble (no fitting) against the same zero-training classifier from the same support set (equal data); reference',
    })),
    ...(['ncm_support', 'lda_support', 'd2nwg_mean', 'd2nwg_protohead'] as const).map(
      (baseline) => ({
        split,
        epoch: 0,
        method: 'd2nwg_class_head',
        baseline,
        required: false,
        note:
          baseline === 'd2nwg_mean' || baseline === 'd2nwg_protohead'
            ? 'conditioning per class: the generated bodies with a head generated class by class from the support set (no fitting), against ' +
              (baseline === 'd2nwg_mean'
                ? 'the order-aware generated heads; reference'
                : 'the prototype head of the same support set; reference')
            : 'conditioning per class against the same zero-training classifier from the same support set (equal data); reference',
      }),
    ),
    ...(['ncm', 'lda'] as const).map((baseline) => ({
      split,
      epoch: 0,
      method: 'd2nwg_class_head_all',
      baseline,
      required: false,
      note: 'conditioning per class on every training sample (no fitting) against the same zero-training classifier on every training sample (equal data); the target: within 3 points; reference',
    })),
    {
      split,
      epoch: 0,
      method: 'd2nwg_lda_head',
      baseline: 'ncm',
      required: false,
      note: 'generated bodies with an LDA head, against the nearest class mean; both from all training samples; reference',
    },
    {
      split,
      epoch: 0,
      method: 'd2nwg_lda_head',
      baseline: 'lda',
      required: false,
      note: 'the same LDA head on the generated bodies’ hidden features against on the raw features: does the body help?; reference',
    },
    {
      split,
      epoch: 0,
      method: 'd2nwg_lda_head',
      baseline: 'pretrained_probe',
      required: false,
      note: 'the same LDA head on the generated bodies against on the pretrained body (a linear probe); both from all training samples; reference',
    },
  ]),
];

/**
 * Paired comparison of two methods over the tasks both were measured on: the mean per-task
 * difference a − b, a percentile-bootstrap 95% interval of it (tasks resampled with replacement,
 * seeded, so a report gives the same interval twice), and on how many tasks a was higher.
 */
export interface PairedDifference {
  readonly tasks: number;
  readonly mean: number;
  readonly ci95: [number, number];
  readonly higher: number;
  readonly lower: number;
}

export function pairedDifference(
  a: ReadonlyMap<string, number>,
  b: ReadonlyMap<string, number>,
  rng: Rng,
  resamples = 2000,
): PairedDifference | null {
  const diffs: number[] = [];
  for (const [task, va] of a) {
    const vb = b.get(task);
    if (vb !== undefined) diffs.push(va - vb);
  }
  const n = diffs.length;
  if (n === 0) return null;
  const mean = diffs.reduce((x, y) => x + y, 0) / n;
  const means = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += diffs[rng.int(n)];
    means[r] = sum / n;
  }
  means.sort();
  const at = (q: number) =>
    means[Math.min(resamples - 1, Math.max(0, Math.round(q * (resamples - 1))))];
  return {
    tasks: n,
    mean,
    ci95: [at(0.025), at(0.975)],
    higher: diffs.filter((x) => x > 0).length,
    lower: diffs.filter((x) => x < 0).length,
  };
}

/** Per-task accuracies of one (split, method, epoch), by task id. */
function byTask(
  perTask: readonly QualityPerTask[],
  split: Split,
  method: string,
  epoch: number,
): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of perTask) {
    if (r.split === split && r.method === method && r.epoch === epoch) m.set(r.task, r.accuracy);
  }
  return m;
}

/**
 * Evaluate target checks on result rows. A check whose two rows are both absent (e.g. a config
 * without fine-tuning epoch 1) is left out; one with a single row present is kept with
 * `met: null`. With per-task values, each check also gets the paired difference and its
 * bootstrap interval: `met` stays "the mean is higher", `distinguishable` says whether the
 * interval excludes 0.
 */
export function targetChecks(
  rows: readonly QualityResult[],
  perTask: readonly QualityPerTask[] = [],
  seed = 0,
  specs: readonly TargetSpec[] = TARGETS,
): QualityTarget[] {
  const acc = (split: Split, epoch: number, m: string) =>
    rows.find((r) => r.split === split && r.epoch === epoch && r.method === m)?.accuracy_mean ??
    null;
  const out: QualityTarget[] = [];
  for (const { split, epoch, method, baseline, required, note } of specs) {
    const mine = acc(split, epoch, method);
    const theirs = acc(split, epoch, baseline);
    if (mine === null && theirs === null) continue;
    const paired = pairedDifference(
      byTask(perTask, split, method, epoch),
      byTask(perTask, split, baseline, epoch),
      new Rng(seed).fork('bootstrap').fork(`${split}/${epoch}/${method}/${baseline}`),
    );
    out.push({
      split,
      epoch,
      method,
      baseline,
      method_accuracy: mine,
      baseline_accuracy: theirs,
      met: mine === null || theirs === null ? null : mine > theirs,
      required,
      note,
      ...(paired
        ? {
            paired_tasks: paired.tasks,
            difference_mean: paired.mean,
            difference_ci95: paired.ci95,
            tasks_higher: paired.higher,
            tasks_lower: paired.lower,
            distinguishable: paired.ci95[0] > 0 || paired.ci95[1] < 0,
          }
        : {}),
    });
  }
  return out;
}

/**
 * One line per target check: "d2nwg_mean 87.9% > kde30 21.4% (seen@0): met", then, when paired
 * values exist, the per-task difference with its 95% interval and the task count either way.
 */
export function formatTargets(targets: readonly QualityTarget[]): string {
  const pct = (v: number | null) => (v === null ? '—' : `${(100 * v).toFixed(1)}%`);
  const pts = (v: number) => `${v >= 0 ? '+' : '−'}${Math.abs(100 * v).toFixed(2)}`;
  return targets
    .map((t) => {
      const verdict = t.met === null ? 'missing' : t.met ? 'met' : 'NOT met';
      let line = `target ${t.method} ${pct(t.method_accuracy)} > ${t.baseline} ${pct(t.baseline_accuracy)} (${t.split}@${t.epoch}): ${verdict}${t.required ? '' : ' (reference only)'}`;
      if (t.difference_mean !== undefined && t.difference_ci95 && t.paired_tasks !== undefined) {
        const [lo, hi] = t.difference_ci95;
        line += `; paired ${pts(t.difference_mean)} pts, 95% CI [${pts(lo)}, ${pts(hi)}], higher on ${t.tasks_higher}/${t.paired_tasks} tasks, lower on ${t.tasks_lower}${t.distinguishable ? '' : ' (not distinguishable)'}`;
      }
      return line;
    })
    .join('\n');
}

/** The plain samples on seen tasks, as a fraction of the zoo's own accuracy there (issue 20). */
export const SEEN_OF_ZOO_TARGET = 0.99;

/** The time budgets on 2 cores, by preset. */
export const TIME_BUDGET_S: Readonly<Record<string, number>> = {
  smoke: 300,
  standard: 1800,
  large: 3600,
  'standard-cnn': 1200,
};

function check(
  c: Omit<QualityCheck, 'held' | 'value' | 'reference'> & {
    value: number | undefined;
    reference: number | undefined;
  },
): QualityCheck {
  const value = c.value !== undefined && Number.isFinite(c.value) ? c.value : null;
  const reference = c.reference !== undefined && Number.isFinite(c.reference) ? c.reference : null;
  const held =
    value === null || reference === null
      ? null
      : c.comparison === 'above'
        ? value > reference
        : value < reference;
  return { ...c, value, reference, held };
}

/**
 * The issue's checks that are not accuracy comparisons. "Samples are not copies": the median L2
 * distance of a sample to its nearest zoo checkpoint exceeds the zoo's own nearest-neighbour
 * median, over all samples (required) and over seen tasks' samples alone (required: there the
 * nearest checkpoint is the task's own, so a memorising generator shows most clearly). For
 * reference, the same question in predictions: the samples agree with their nearest checkpoint
 * less often than zoo checkpoints agree with theirs. The plain samples on seen tasks at 99 % of
 * the zoo's accuracy there, when `results` has both rows. And the preset's time budget.
 */
export function acceptanceChecks(
  memorisation: QualityReport['memorisation'],
  totalSeconds: number,
  preset: string,
  results: readonly QualityReport['results'][number][] = [],
): QualityCheck[] {
  const seen = memorisation.by_split?.seen;
  const seenAt0 = (method: string) =>
    results.find((r) => r.split === 'seen' && r.method === method && r.epoch === 0)?.accuracy_mean;
  const zooAcc = seenAt0('zoo');
  const sampleAcc = seenAt0('d2nwg_mean');
  const out: QualityCheck[] = [
    check({
      name: 'samples_not_copies',
      split: 'all',
      value: memorisation.sample_to_zoo_median,
      reference: memorisation.zoo_to_zoo_median,
      comparison: 'above',
      required: true,
      note: 'median L2 of a sample to its nearest zoo checkpoint, against zoo → nearest other checkpoint',
    }),
  ];
  if (seen) {
    out.push(
      check({
        name: 'samples_not_copies',
        split: 'seen',
        value: seen.sample_to_zoo_median,
        reference: memorisation.zoo_to_zoo_median,
        comparison: 'above',
        required: true,
        note: 'the same on seen tasks, whose own checkpoints a memorising generator would replay',
      }),
      check({
        name: 'predictions_not_copies',
        split: 'seen',
        value: seen.prediction_agreement_median,
        reference: memorisation.zoo_to_zoo_agreement_median,
        comparison: 'below',
        required: false,
        note: 'test-set agreement with the nearest checkpoint, against zoo → nearest other checkpoint; reference',
      }),
    );
  }
  if (zooAcc !== undefined && sampleAcc !== undefined) {
    out.push(
      check({
        name: 'seen_of_zoo',
        split: 'seen',
        value: zooAcc > 0 ? sampleAcc / zooAcc : Number.NaN,
        reference: SEEN_OF_ZOO_TARGET,
        comparison: 'above',
        required: true,
        note: "d2nwg_mean at epoch 0 as a fraction of the zoo's accuracy on the same seen tasks",
      }),
    );
  }
  const budget = TIME_BUDGET_S[preset];
  if (budget !== undefined) {
    out.push(
      check({
        name: 'time_budget',
        split: 'all',
        value: totalSeconds,
        reference: budget,
        comparison: 'below',
        required: true,
        note: `total seconds against the ${preset} preset's budget on 2 cores`,
      }),
    );
  }
  return out;
}

/** One line per check: "check samples_not_copies (seen): 0.981 > 0.195: held". */
export function formatChecks(checks: readonly QualityCheck[]): string {
  const num = (v: number | null) =>
    v === null ? '—' : Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3);
  return checks
    .map((c) => {
      const verdict = c.held === null ? 'missing' : c.held ? 'held' : 'NOT held';
      const op = c.comparison === 'above' ? '>' : '<';
      return `check ${c.name} (${c.split}): ${num(c.value)} ${op} ${num(c.reference)}: ${verdict}${c.required ? '' : ' (reference only)'}`;
    })
    .join('\n');
}

/** One convergence row of the report (QualityReport['convergence']). */
export type ConvergenceRow = NonNullable<QualityReport['convergence']>[number];

/**
 * The first epoch at which `curve` (accuracy at epochs 0..E) reaches `fraction` of its value at
 * E. A curve that is already there at epoch 0 gives 0; the last epoch always qualifies.
 */
export function epochToFraction(curve: readonly number[], fraction = 0.95): number {
  const last = curve.length - 1;
  const target = fraction * curve[last];
  for (let e = 0; e <= last; e++) if (curve[e] >= target) return e;
  return last;
}

/** Convergence rows from each (split, method)'s fine-tuning curves (accuracy per epoch). */
export function convergenceRows(
  curves: ReadonlyMap<
    string,
    { split: Split; method: string; acc: readonly (readonly number[])[] }
  >,
): ConvergenceRow[] {
  const rows: ConvergenceRow[] = [];
  for (const { split, method, acc } of curves.values()) {
    if (acc.length === 0) continue;
    const epochs = acc.map((c) => epochToFraction(c));
    const sorted = [...epochs].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    rows.push({
      split,
      method,
      runs: acc.length,
      final_epoch: acc[0].length - 1,
      final_accuracy_mean: meanStd(acc.map((c) => c[c.length - 1])).mean,
      epoch_to_95_mean: meanStd(epochs).mean,
      epoch_to_95_median: sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2,
    });
  }
  return rows;
}
