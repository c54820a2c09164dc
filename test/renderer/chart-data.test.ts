// What the charts show, decided by pure functions over stored and live data.
import { describe, expect, it } from 'vitest';
import type { CompareResult, MetricSeries, RunLatents } from '../../src/shared/ipc.ts';
import {
  accuracyBars,
  dedupeSeries,
  defaultLatent,
  finetuneCurves,
  latentChoices,
  latentTraces,
  lossCurves,
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

  it('counts a series reported by two nodes of a run once', () => {
    expect(dedupeSeries(acc).map((s) => `${s.runId}/${s.nodeId}`)).toEqual(['r1/eval', 'r2/eval']);
    const [bars] = accuracyBars(acc);
    expect(bars.x).toEqual(['epoch 0', 'epoch 1', 'epoch 5']);
    const y = bars.y as number[];
    expect(y[0]).toBeCloseTo(75, 9);
    // Sample std of [70, 80]; with the duplicates it would be that of [70, 70, 80, 80].
    const err = (bars.error_y as { array: number[] }).array;
    expect(err[0]).toBeCloseTo(Math.sqrt(50), 9);
    expect(err[1]).toBe(0);
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
