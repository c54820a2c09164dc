// What the charts show, decided by pure functions over stored and live data.
import { describe, expect, it } from 'vitest';
import type { CompareResult, MetricSeries, RunLatents } from '../../src/shared/ipc.ts';
import {
  accuracyBars,
  accuracySplits,
  dedupeSeries,
  defaultLatent,
  finetuneCurves,
  latentChoices,
  latentLegend,
  latentTraces,
  lossAxisOf,
  lossCurves,
  lossLayout,
  narrowLogRange,
  positiveY,
  taskColors,
} from '../../src/renderer/src/panels/chart-data.ts';
import type { LiveCurve } from '../../src/renderer/src/lib/run-store.ts';
import { buildLatentProjection } from '../../src/main/engine/vae/latents.ts';
import { Rng } from '../../src/main/engine/rng.ts';

const series = (
  runId: string,
  nodeId: string,
  key: string,
  steps: number[],
  values: number[],
): MetricSeries => ({ runId, nodeId, key, steps, values });

const run = (id: string) => ({
  id,
  name: 'quickstart',
  tags: [],
  notes: '',
  status: 'done' as const,
  seed: 0,
  backend: 'cpu',
  startedAt: '2025-01-01T00:00:00Z',
  durationMs: 1,
});

describe('accuracy charts', () => {
  // Each run's evaluation node and the Compare node report the same accuracies.
  const acc = [
    series('r1', 'eval', 'accuracy/d2nwg', [0, 1, 5], [0.7, 0.8, 0.9]),
    series('r1', 'compare', 'accuracy/d2nwg', [0, 1, 5], [0.7, 0.8, 0.9]),
    series('r2', 'eval', 'accuracy/d2nwg', [0, 1, 5], [0.8, 0.8, 0.9]),
    series('r2', 'compare', 'accuracy/d2nwg', [0, 1, 5], [0.8, 0.8, 0.9]),
  ];

  it('counts a series reported by two nodes of a run once, one bar per run and method', () => {
    expect(dedupeSeries(acc).map((s) => `${s.runId}/${s.nodeId}`)).toEqual(['r1/eval', 'r2/eval']);
    const bars = accuracyBars(acc, { runs: [run('r1'), run('r2')] });
    expect(bars.map((b) => b.name)).toEqual(['quickstart (r1) · d2nwg', 'quickstart (r2) · d2nwg']);
    expect(bars[0].x).toEqual(['epoch 0', 'epoch 1', 'epoch 5']);
    // Each run's own accuracy, not a mean pooled over the compared runs.
    expect(bars[0].y).toEqual([70, 80, 90]);
    expect(bars[1].y).toEqual([80, 80, 90]);
    // No std over tasks recorded: no error bar (and never a spread over runs).
    expect(bars.map((b) => b.error_y)).toEqual([undefined, undefined]);
  });

  it('draws error bars of std over tasks where the run records it', () => {
    const bars = accuracyBars([
      series('r1', 'eval', 'accuracy/d2nwg', [0, 5], [0.7, 0.9]),
      series('r1', 'eval', 'accuracy_std/d2nwg', [0, 5], [0.05, 0.02]),
      series('r1', 'ref', 'accuracy/randinit', [0], [0.1]),
    ]);
    // One run: the legend names methods only.
    expect(bars.map((b) => b.name)).toEqual(['d2nwg', 'randinit']);
    const err = (bars[0].error_y as { array: number[] }).array;
    expect(err[0]).toBeCloseTo(5, 9);
    expect(err[1]).toBeCloseTo(2, 9);
    expect(bars[1].y).toEqual([10, Number.NaN]);
    expect(bars[1].error_y).toBeUndefined();
  });

  it('groups results by split on a split × epoch axis, as the CLI table does', () => {
    const sp = ['seen', 'unseen-combo', 'unseen-class'];
    const acc3 = (node: string, method: string, splits: string[], v: number) =>
      splits.flatMap((split) => [
        series('r1', node, `accuracy/${split}/${method}`, [0, 1, 5], [v, v + 0.05, v + 0.1]),
        series('r1', node, `accuracy_std/${split}/${method}`, [0, 1, 5], [0.02, 0.03, 0.04]),
      ]);
    const stored = [
      ...acc3('eval_zoo', 'zoo', ['seen'], 0.88),
      ...acc3('eval_d2nwg', 'D2NWG', sp, 0.5),
      // The Compare node repeats the Evaluate node's values: counted once.
      ...acc3('compare', 'D2NWG', sp, 0.5),
      series('r1', 'ref_ncm', 'accuracy/unseen-class/NCM', [0], [0.75]),
      series('r1', 'ref_ncm', 'accuracy_std/unseen-class/NCM', [0], [0.1]),
      series('r1', 'ref_ncm', 'accuracy/seen/NCM', [0], [0.85]),
    ];
    // Splits in their fixed order, whatever order the series come in.
    expect(accuracySplits(stored)).toEqual(sp);
    const bars = accuracyBars(stored);
    expect(bars.map((b) => b.name)).toEqual(['zoo', 'D2NWG', 'NCM']);
    const x = bars[0].x as string[][];
    expect(x[0]).toEqual(sp.flatMap((s) => [s, s, s]));
    expect(x[1]).toEqual(sp.flatMap(() => ['epoch 0', 'epoch 1', 'epoch 5']));
    for (const b of bars) expect(b.x).toEqual(x);
    // The zoo exists on seen tasks only: no bar on the unseen splits.
    expect((bars[0].y as number[]).slice(0, 3)).toEqual([88, 93, 98]);
    expect((bars[0].y as number[]).slice(3).every(Number.isNaN)).toBe(true);
    expect((bars[1].y as number[]).map(Math.round)).toEqual([50, 55, 60, 50, 55, 60, 50, 55, 60]);
    // Error bars: the std over tasks of each (split, epoch).
    const err = (bars[1].error_y as { array: number[] }).array;
    expect(err.map((v) => Math.round(v))).toEqual([2, 3, 4, 2, 3, 4, 2, 3, 4]);
    const ncm = bars[2].y as number[];
    expect(ncm[0]).toBe(85);
    expect(ncm[6]).toBe(75);
    expect((bars[2].error_y as { array: number[] }).array[6]).toBeCloseTo(10, 9);
  });

  it('draws one fine-tuning line per run and method, names made unique by node', () => {
    const result: CompareResult = {
      runs: [run('run_aaaaaa1'), run('run_bbbbbb2')],
      series: [
        ...acc.map((s) => ({ ...s, runId: s.runId === 'r1' ? 'run_aaaaaa1' : 'run_bbbbbb2' })),
        series('run_aaaaaa1', 'eval2', 'accuracy/d2nwg', [0, 1], [0.1, 0.2]),
      ],
      latents: [],
    };
    expect(finetuneCurves(result).map((t) => t.name)).toEqual([
      'quickstart (aaaaa1) · d2nwg · eval',
      'quickstart (bbbbb2) · d2nwg',
      'quickstart (aaaaa1) · d2nwg · eval2',
    ]);
  });
});

describe('loss chart', () => {
  const curve = (nodeId: string, key: string, x: number[]): LiveCurve => ({
    nodeId,
    key,
    x,
    y: x.map((v) => 1 / v),
  });

  it('shows a curve that is both stored and live once, the one that reaches further', () => {
    const stored: CompareResult = {
      runs: [run('run_1')],
      series: [
        series('run_1', 'vae', 'vae:loss', [1, 2, 3], [1, 0.5, 0.3]),
        series('run_1', 'diffusion', 'loss', [0], [0.2]), // final value only: not a curve
        series('run_1', 'vae', 'vae:recon', [1, 2], [1, 2]), // not a loss
      ],
      latents: [],
    };
    const live = new Map([['vae\u0000vae:loss', curve('vae', 'vae:loss', [1, 2, 3, 4, 5])]]);
    const traces = lossCurves(stored, { runId: 'run_1', curves: live });
    expect(traces.map((t) => t.name)).toEqual(['vae:loss']);
    expect(traces[0].x).toEqual([1, 2, 3, 4, 5]);
    // Stored data that is further along (the run went on after the live view) wins.
    const shortLive = new Map([['vae\u0000vae:loss', curve('vae', 'vae:loss', [1, 2])]]);
    expect(lossCurves(stored, { runId: 'run_1', curves: shortLive })[0].x).toEqual([1, 2, 3]);
  });

  it('names curves by node and stage, with the run only when several runs are shown', () => {
    const live = new Map([['src\u0000loss', curve('src', 'loss', [1, 2])]]);
    expect(lossCurves(null, { runId: 'run_1', curves: live }).map((t) => t.name)).toEqual([
      'src · loss',
    ]);
    const other: CompareResult = {
      runs: [run('run_222222')],
      series: [series('run_222222', 'src', 'loss', [1, 2], [3, 2])],
      latents: [],
    };
    expect(lossCurves(other, { runId: 'run_111111', curves: live }).map((t) => t.name)).toEqual([
      '222222 · src · loss',
      '111111 · src · loss',
    ]);
  });

  it('gives numeric, sorted x whatever order or type the steps arrive in', () => {
    // A compared run whose steps came back as strings and out of order, next to a live curve
    // that restarted: both used to reach Plotly as is (category axis, zig-zag lines).
    const stored: CompareResult = {
      runs: [run('run_1'), run('run_2')],
      series: [
        series('run_1', 'vae', 'vae:loss', ['3', '1', '2'] as unknown as number[], [0.3, 1, 0.5]),
      ],
      latents: [],
    };
    const live = new Map([
      [
        'vae\u0000vae:loss',
        { nodeId: 'vae', key: 'vae:loss', x: [1, 2, 3, 1, 2], y: [9, 8, 7, 6, 5] },
      ],
    ]);
    const traces = lossCurves(stored, { runId: 'run_2', curves: live });
    expect(traces.map((t) => t.x)).toEqual([
      [1, 2, 3],
      [1, 2, 3],
    ]);
    expect(traces[0].y).toEqual([1, 0.5, 0.3]);
    // A repeated x keeps the later point, as the store does.
    expect(traces[1].y).toEqual([6, 5, 7]);
    for (const t of traces) for (const x of t.x as unknown[]) expect(typeof x).toBe('number');
    expect((lossLayout(traces, true).xaxis as { type: string }).type).toBe('linear');
  });

  it('puts epochs and steps on separate x-axes', () => {
    expect(lossAxisOf('vae:loss')).toBe('epoch');
    expect(lossAxisOf('diffusion:loss')).toBe('step');
    expect(lossAxisOf('loss', 'step')).toBe('step');
    const stored: CompareResult = {
      runs: [run('run_1')],
      series: [
        series('run_1', 'vae', 'vae:loss', [1, 2, 3], [3, 2, 1]),
        series('run_1', 'diffusion', 'diffusion:loss', [50, 100], [0.9, 0.8]),
      ],
      latents: [],
    };
    const traces = lossCurves(stored, null);
    expect(traces.map((t) => [t.name, t.xaxis, t.yaxis])).toEqual([
      ['vae:loss', 'x', 'y'],
      ['diffusion:loss', 'x2', 'y2'],
    ]);
    const layout = lossLayout(traces, true) as Record<string, Record<string, unknown>>;
    expect(layout.xaxis.title).toEqual({ text: 'epoch' });
    expect(layout.xaxis2.title).toEqual({ text: 'step' });
    expect(layout.xaxis2.anchor).toBe('y2');
    expect(layout.yaxis2.anchor).toBe('x2');
    expect([layout.yaxis.type, layout.yaxis2.type]).toEqual(['log', 'log']);
    expect(lossLayout(traces, false).yaxis).toMatchObject({ type: 'linear' });
    // One kind only: one plot, on the first axes, titled by its kind.
    const stepsOnly = lossCurves({ ...stored, series: [stored.series[1]] }, null);
    expect(stepsOnly[0].xaxis).toBe('x');
    const one = lossLayout(stepsOnly, true) as Record<string, Record<string, unknown>>;
    expect(one.xaxis.title).toEqual({ text: 'step' });
    expect(one.xaxis2).toBeUndefined();
    // A live curve's progress unit decides, also for the stored twin of the same curve.
    const live = new Map([
      ['n\u0000loss', { nodeId: 'n', key: 'loss', unit: 'step', x: [1, 2], y: [2, 1] }],
    ]);
    const withLive = lossCurves(
      {
        runs: [run('run_1')],
        series: [series('run_1', 'n', 'loss', [1, 2, 3], [3, 2, 1])],
        latents: [],
      },
      { runId: 'run_1', curves: live },
    );
    expect(withLive.map((t) => (t.meta as { axis: string }).axis)).toEqual(['step']);
  });

  it('offers a log axis only for positive losses, with 1-2-5 ticks on a narrow range', () => {
    expect(positiveY([{ y: [1, 0.01, Number.NaN] }])).toBe(true);
    expect(positiveY([{ y: [1, 0] }])).toBe(false);
    expect(positiveY([])).toBe(false);
    expect(narrowLogRange([{ y: [2, 0.2] }])).toBe(true);
    expect(narrowLogRange([{ y: [1000, 0.01] }])).toBe(false);
  });
});

describe('latent map', () => {
  function projection(tasks: number, withSamples: boolean) {
    const rng = new Rng(1);
    const n = tasks * 2;
    return buildLatentProjection({
      latentDim: 3,
      zoo: {
        latents: rng.normalArray(n * 3),
        n,
        taskIds: Array.from({ length: n }, (_, i) => `t${Math.floor(i / 2)}`),
      },
      ...(withSamples
        ? {
            samples: {
              latents: rng.normalArray(6 * 3),
              n: 6,
              taskIds: ['t0', 't0', 't1', 't1', 'u', 'u'],
            },
          }
        : {}),
    });
  }

  it('has one legend item per kind and one colour per task, samples as crosses', () => {
    const p = projection(100, true);
    const traces = latentTraces(p);
    const inLegend = traces.filter((t) => t.showlegend !== false).map((t) => t.name);
    expect(inLegend).toEqual([
      'zoo checkpoints (200, 100 tasks)',
      'generated samples (6, 3 tasks)',
    ]);
    const [, zoo, , samples] = traces;
    const zooColours = (zoo.marker as { color: string[] }).color;
    expect(zooColours).toHaveLength(200);
    expect(new Set(zooColours).size).toBe(100);
    expect((samples.marker as { symbol: string }).symbol).toBe('x');
    expect((zoo.marker as { symbol: string }).symbol).toBe('circle');
    // A task's samples take the colour of its checkpoints.
    const t0 = p.tasks.indexOf('t0');
    const zooT0 = zooColours[p.zoo.task.indexOf(t0)];
    expect((samples.marker as { color: string[] }).color[0]).toBe(zooT0);
    expect(samples.text).toEqual(['t0', 't0', 't1', 't1', 'u', 'u']);
  });

  it("has a task legend in the map's colours, tasks with samples first", () => {
    const p = projection(4, true);
    const legend = latentLegend(p);
    expect(legend.map((l) => l.task)).toEqual(['t0', 't1', 'u', 't2', 't3']);
    expect(legend[0]).toMatchObject({ zoo: 2, samples: 2 });
    expect(legend.find((l) => l.task === 'u')).toMatchObject({ zoo: 0, samples: 2 });
    expect(legend.find((l) => l.task === 't3')).toMatchObject({ zoo: 2, samples: 0 });
    const colours = taskColors(p.tasks.length);
    for (const l of legend) expect(l.color).toBe(colours[p.tasks.indexOf(l.task)]);
    expect(latentLegend(projection(3, false)).map((l) => l.task)).toEqual(['t0', 't1', 't2']);
  });

  it('gives distinct colours to any number of tasks', () => {
    for (const n of [1, 10, 11, 100, 300]) expect(new Set(taskColors(n)).size).toBe(n);
  });

  it('lists each map once, live first, and shows one with samples by default', () => {
    const zooOnly: RunLatents = { runId: 'r', nodeId: 'vae', projection: projection(3, false) };
    const withSamples: RunLatents = {
      runId: 'r',
      nodeId: 'sampler',
      projection: projection(3, true),
    };
    const choices = latentChoices([zooOnly], [zooOnly, withSamples]);
    expect(choices.map((c) => c.nodeId)).toEqual(['vae', 'sampler']);
    expect(defaultLatent(choices)?.nodeId).toBe('sampler');
    expect(defaultLatent([zooOnly])?.nodeId).toBe('vae');
    expect(defaultLatent([])).toBeUndefined();
  });
});
