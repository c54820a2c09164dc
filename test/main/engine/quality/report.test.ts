import { describe, expect, it } from 'vitest';
import {
  convergenceRows,
  epochToFraction,
  ResultCollector,
  acceptanceChecks,
  formatChecks,
  formatTargets,
  pairedDifference,
  targetChecks,
} from '../../../../src/main/engine/quality/report.ts';
import { Rng } from '../../../../src/main/engine/rng.ts';
import { QualityCheckSchema, QualityTargetSchema } from '../../../../src/shared/schemas/quality.ts';

const tasks = (values: number[]) => new Map(values.map((v, i) => [`t${i}`, v]));

describe('paired difference between two methods', () => {
  it('averages per-task differences over the shared tasks only, and counts both directions', () => {
    const a = new Map([
      ['x', 0.9],
      ['y', 0.8],
      ['z', 0.7],
      ['only-a', 0.1],
    ]);
    const b = new Map([
      ['x', 0.85],
      ['y', 0.85],
      ['z', 0.6],
      ['only-b', 0.99],
    ]);
    const p = pairedDifference(a, b, new Rng(1));
    expect(p?.tasks).toBe(3);
    expect(p?.mean).toBeCloseTo((0.05 - 0.05 + 0.1) / 3, 12);
    expect(p?.higher).toBe(2);
    expect(p?.lower).toBe(1);
    expect(pairedDifference(new Map([['q', 1]]), b, new Rng(1))).toBeNull();
  });

  it('gives an interval that excludes 0 for a consistent gain and includes it for noise', () => {
    const rng = new Rng(3);
    const base = Array.from({ length: 30 }, () => 0.6 + 0.3 * rng.next());
    // Consistently +1 point, with ±0.2 points of noise.
    const better = base.map((v) => v + 0.01 + 0.002 * (rng.next() - 0.5));
    const gain = pairedDifference(tasks(better), tasks(base), new Rng(5));
    expect(gain?.ci95[0]).toBeGreaterThan(0.008);
    expect(gain?.ci95[1]).toBeLessThan(0.012);
    // Symmetric ±1 point noise: the interval straddles 0.
    const noisy = base.map((v, i) => v + (i % 2 === 0 ? 0.01 : -0.01));
    const tie = pairedDifference(tasks(noisy), tasks(base), new Rng(5));
    expect(tie?.mean).toBeCloseTo(0, 12);
    expect(tie?.ci95[0]).toBeLessThan(0);
    expect(tie?.ci95[1]).toBeGreaterThan(0);
  });

  it('is reproducible for a seed', () => {
    const a = tasks([0.5, 0.7, 0.9, 0.4]);
    const b = tasks([0.6, 0.6, 0.8, 0.45]);
    expect(pairedDifference(a, b, new Rng(9))).toEqual(pairedDifference(a, b, new Rng(9)));
  });
});

describe('target checks with per-task values', () => {
  it('adds the paired fields, flags indistinguishable ties, and prints them', () => {
    const c = new ResultCollector();
    for (let i = 0; i < 12; i++) {
      const t = `task-${i}`;
      c.add('seen', 'd2nwg_mean', 0, 0.88 + (i % 2 === 0 ? 0.002 : -0.002), 10, t);
      c.add('seen', 'noise_fn_matched', 0, 0.88, 10, t);
      c.add('seen', 'kde30', 0, 0.2 + 0.01 * (i % 3), 10, t);
      c.add('seen', 'weight_avg', 0, 0.85, 1, t);
    }
    c.add('seen', 'ncm', 0, 0.5); // no task id: kept in the rows, absent from per_task
    const perTask = c.perTask();
    expect(perTask).toHaveLength(48);
    expect(perTask[0]).toEqual({
      split: 'seen',
      method: 'd2nwg_mean',
      epoch: 0,
      task: 'task-0',
      accuracy: 0.882,
    });
    const targets = targetChecks(c.rows(), perTask, 1);
    // Only seen@0 rows exist here: the unseen checks, with neither row, are left out.
    expect(targets.every((t) => t.split === 'seen' && t.epoch === 0)).toBe(true);
    expect(targets).toHaveLength(5);
    for (const t of targets) expect(QualityTargetSchema.safeParse(t).success).toBe(true);
    const by = new Map(targets.map((t) => [t.baseline, t]));
    const kde = by.get('kde30');
    expect(kde?.paired_tasks).toBe(12);
    expect(kde?.tasks_higher).toBe(12);
    expect(kde?.distinguishable).toBe(true);
    expect(kde?.met).toBe(true);
    const fn = by.get('noise_fn_matched');
    expect(fn?.difference_mean).toBeCloseTo(0, 12);
    expect(fn?.tasks_higher).toBe(6);
    expect(fn?.tasks_lower).toBe(6);
    expect(fn?.distinguishable).toBe(false);
    // No per-task values for the reference baselines that were never measured.
    expect(by.get('noise_nearest')?.paired_tasks).toBeUndefined();
    const text = formatTargets(targets).split('\n');
    expect(text[0]).toMatch(
      /^target d2nwg_mean 88\.0% > kde30 21\.0% \(seen@0\): met; paired \+67\.\d\d pts, 95% CI \[\+6\d\.\d\d, \+6\d\.\d\d\], higher on 12\/12 tasks, lower on 0$/,
    );
    expect(text.find((l) => l.includes('> noise_fn_matched'))).toMatch(/\(not distinguishable\)$/);
    // Without per-task values the checks keep their old form.
    const plain = targetChecks(c.rows());
    expect(plain[0].paired_tasks).toBeUndefined();
    expect(formatTargets(plain).split('\n')[0]).toMatch(/: met$/);
  });
});

describe('acceptance checks beyond accuracy', () => {
  const memo = {
    sample_to_zoo_median: 4,
    zoo_to_zoo_median: 0.2,
    zoo_to_zoo_agreement_median: 0.99,
    by_split: {
      seen: {
        samples: 10,
        sample_to_zoo_median: 0.15,
        sample_to_zoo_cosine_median: 0.01,
        prediction_agreement_median: 0.995,
      },
    },
  };

  it('judges memorisation over all samples and on seen tasks alone, and the time budget', () => {
    const checks = acceptanceChecks(memo, 250, 'smoke');
    for (const c of checks) expect(QualityCheckSchema.safeParse(c).success).toBe(true);
    const by = new Map(checks.map((c) => [`${c.name}/${c.split}`, c]));
    expect([...by.keys()]).toEqual([
      'samples_not_copies/all',
      'samples_not_copies/seen',
      'predictions_not_copies/seen',
      'time_budget/all',
    ]);
    // Pooled over splits the samples look novel; on seen tasks they sit closer to their own
    // checkpoints than the zoo's members sit to each other: a copy, and the check says so.
    expect(by.get('samples_not_copies/all')).toMatchObject({
      value: 4,
      reference: 0.2,
      held: true,
    });
    expect(by.get('samples_not_copies/seen')).toMatchObject({
      value: 0.15,
      reference: 0.2,
      held: false,
      required: true,
    });
    expect(by.get('predictions_not_copies/seen')).toMatchObject({
      comparison: 'below',
      held: false,
      required: false,
    });
    expect(by.get('time_budget/all')).toMatchObject({ value: 250, reference: 300, held: true });
    expect(acceptanceChecks(memo, 301, 'smoke').at(-1)?.held).toBe(false);
    expect(acceptanceChecks(memo, 1700, 'standard').at(-1)).toMatchObject({
      reference: 1800,
      held: true,
    });
    const text = formatChecks(checks).split('\n');
    expect(text[1]).toBe('check samples_not_copies (seen): 0.150 > 0.200: NOT held');
    expect(text[2]).toBe(
      'check predictions_not_copies (seen): 0.995 < 0.990: NOT held (reference only)',
    );
    expect(text[3]).toBe('check time_budget (all): 250 < 300: held');
  });

  it("judges the plain samples on seen tasks against 99 % of the zoo's accuracy there", () => {
    const row = (split: string, method: string, epoch: number, accuracy_mean: number) => ({
      split,
      method,
      epoch,
      accuracy_mean,
      accuracy_std: 0,
      tasks: 10,
      samples_per_task: 1,
    });
    const results = [
      row('seen', 'zoo', 0, 0.8),
      row('seen', 'd2nwg_mean', 0, 0.795),
      // Other epochs and splits must not be taken for the seen, epoch-0 rows.
      row('seen', 'd2nwg_mean', 1, 0.5),
      row('unseen-class', 'd2nwg_mean', 0, 0.1),
    ] as Parameters<typeof acceptanceChecks>[3];
    const ratio = acceptanceChecks(memo, 250, 'smoke', results).find(
      (c) => c.name === 'seen_of_zoo',
    );
    expect(ratio).toMatchObject({ split: 'seen', reference: 0.99, required: true, held: true });
    expect(ratio?.value).toBeCloseTo(0.795 / 0.8, 12);
    const low = [row('seen', 'zoo', 0, 0.8), row('seen', 'd2nwg_mean', 0, 0.79)];
    expect(
      acceptanceChecks(memo, 250, 'smoke', low as never).find((c) => c.name === 'seen_of_zoo')
        ?.held,
    ).toBe(false);
    // Without both rows (a run with no zoo reference) the check is left out, not invented.
    expect(
      acceptanceChecks(memo, 250, 'smoke', [row('seen', 'zoo', 0, 0.8)] as never).some(
        (c) => c.name === 'seen_of_zoo',
      ),
    ).toBe(false);
  });

  it('leaves the split checks out without per-split values, and marks a missing value', () => {
    const checks = acceptanceChecks(
      { sample_to_zoo_median: Number.NaN, zoo_to_zoo_median: 0.2 },
      10,
      'custom',
    );
    expect(checks).toHaveLength(1);
    expect(checks[0]).toMatchObject({ value: null, held: null });
    expect(formatChecks(checks)).toMatch(/: missing$/);
  });
});

describe('convergence', () => {
  it('finds the first epoch at 95 % of the final accuracy, per run, then mean and median', () => {
    expect(epochToFraction([0.2, 0.5, 0.9, 0.95, 1.0])).toBe(3);
    expect(epochToFraction([0.97, 0.9, 1.0])).toBe(0);
    expect(epochToFraction([0.1, 0.2, 0.3])).toBe(2);
    const rows = convergenceRows(
      new Map([
        [
          'a',
          {
            split: 'unseen-class' as const,
            method: 'd2nwg_mean',
            acc: [
              [0.8, 0.9, 0.9],
              [0.5, 0.6, 0.9],
              [0.1, 0.86, 0.9],
            ],
          },
        ],
        ['b', { split: 'seen' as const, method: 'randinit', acc: [] }],
      ]),
    );
    expect(rows).toEqual([
      {
        split: 'unseen-class',
        method: 'd2nwg_mean',
        runs: 3,
        final_epoch: 2,
        final_accuracy_mean: expect.closeTo(0.9, 10),
        // Runs reach 0.855 at epochs 1, 2 and 1.
        epoch_to_95_mean: expect.closeTo(4 / 3, 10),
        epoch_to_95_median: 1,
      },
    ]);
  });
});
