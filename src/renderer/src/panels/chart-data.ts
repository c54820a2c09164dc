/**
 * Plotly traces for the charts, as pure functions of stored and live data (no React, no DOM), so
 * what each chart shows (which series, under which legend name) is decided in one testable place.
 */
import type { CompareResult, MetricSeries, RunLatents } from '../../../shared/ipc.ts';
import { TASK_SPLITS } from '../../../shared/nodes/eval-finetune.ts';
import {
  ACCURACY_STD_PREFIX,
  accuracyKeyTail,
  parseAccuracyKeyTail,
} from '../../../shared/schemas/accuracy.ts';
import type { LatentProjection } from '../../../shared/schemas/latents.ts';
import type { LiveSeries } from '../lib/run-store.ts';

/** A Plotly trace (plotly.js ships no types; see plotly.d.ts). */
export type Trace = Record<string, unknown>;

const ACC = /^accuracy\/(.+)$/;
const EPOCHS = [0, 1, 5];
/** Display accuracy in percent (stored as a fraction). */
const pct = (v: number) => v * (v <= 1 ? 100 : 1);

/**
 * Series without exact repeats: an evaluation node and the Compare node downstream of it report
 * the same `accuracy/<method>` values, which must count (and show) once.
 */
export function dedupeSeries(series: readonly MetricSeries[]): MetricSeries[] {
  const seen = new Set<string>();
  return series.filter((s) => {
    const k = JSON.stringify([s.runId, s.key, s.steps, s.values.map(String)]);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** Where an accuracy series belongs: its run, node, method and split (absent in older runs). */
interface AccuracySeries {
  readonly s: MetricSeries;
  readonly method: string;
  readonly split?: string;
  readonly nodeId: string;
}

function accuracySeries(unique: readonly MetricSeries[]): AccuracySeries[] {
  return unique.flatMap((s) => {
    const m = ACC.exec(s.key);
    if (!m) return [];
    const { method, split } = parseAccuracyKeyTail(m[1]);
    return [{ s, method, nodeId: s.nodeId, ...(split ? { split } : {}) }];
  });
}

/** The splits the accuracy series name, in TASK_SPLITS order (the chart's x groups). */
export function accuracySplits(series: readonly MetricSeries[]): string[] {
  const present = new Set(accuracySeries(series).map((a) => a.split));
  return TASK_SPLITS.filter((sp) => present.has(sp));
}

/**
 * Accuracy bars at fine-tuning epochs 0/1/5 (or whatever epochs exist): one bar per (run,
 * method), its height the accuracy the run recorded (the mean over the evaluation's tasks).
 * Results that carry a split (`accuracy/<split>/<method>`) are grouped on a two-level x-axis,
 * split then epoch, in the order and with the rows of the CLI's table: one trace per (run,
 * method) across the splits, a gap where a method has no result (the zoo on unseen splits).
 * Error bars are the std over tasks, from the `accuracy_std/…` series at the same epochs
 * (runs.compare reads them from the evaluation nodes' summaries; the metrics table stores only
 * the mean); a run without them gets no error bar rather than a spread over runs, which would
 * mix the runs up. A series that an Evaluate node and the Compare node
 * after it both report counts once; run names appear when several runs are shown, node ids when
 * one run reports a method twice with different values.
 */
export function accuracyBars(
  series: readonly MetricSeries[],
  result: Pick<CompareResult, 'runs'> | null = null,
): Trace[] {
  const unique = dedupeSeries(series);
  const all = accuracySeries(unique);
  const stdOf = (runId: string, nodeId: string, method: string, split?: string) => {
    const key = `${ACCURACY_STD_PREFIX}${accuracyKeyTail(method, split)}`;
    const found = unique.filter((t) => t.runId === runId && t.key === key);
    return found.find((t) => t.nodeId === nodeId) ?? found[0];
  };
  const allSteps = new Set(all.flatMap((b) => b.s.steps));
  const shown = EPOCHS.some((e) => allSteps.has(e))
    ? EPOCHS.filter((e) => allSteps.has(e))
    : [...allSteps].sort((a, b) => a - b);
  const splits = accuracySplits(unique);
  // Bars: one per (run, method) gathering its splits; by node too where one run reports a
  // method twice on a split with different values.
  const groups = new Map<string, AccuracySeries[]>();
  const add = (key: string, a: AccuracySeries) => groups.set(key, [...(groups.get(key) ?? []), a]);
  for (const a of all) add(`${a.s.runId}\u0000${a.method}`, a);
  const bars: {
    parts: AccuracySeries[];
    runId: string;
    method: string;
    nodeId: string;
    name: string;
  }[] = [];
  for (const parts of groups.values()) {
    const clash = new Set(parts.map((p) => p.split ?? '')).size < parts.length;
    const byNode = new Map<string, AccuracySeries[]>();
    for (const p of parts) {
      const k = clash ? p.nodeId : '';
      byNode.set(k, [...(byNode.get(k) ?? []), p]);
    }
    for (const ps of byNode.values()) {
      bars.push({
        parts: ps,
        runId: ps[0].s.runId,
        method: ps[0].method,
        nodeId: ps[0].nodeId,
        name: '',
      });
    }
  }
  const names = runLabels(result);
  const several = new Set(bars.map((b) => b.runId)).size > 1;
  for (const b of bars) {
    b.name = several ? `${names.get(b.runId) ?? b.runId} · ${b.method}` : b.method;
  }
  uniqueNames(bars);
  const at = (s: MetricSeries | undefined, e: number) => {
    const i = s ? s.steps.indexOf(e) : -1;
    const v = s && i >= 0 ? s.values[i] : NaN;
    return Number.isFinite(v) ? v : NaN;
  };
  // x positions: (split, epoch) pairs when results carry splits, else epochs.
  const cells: { split?: string; epoch: number }[] = splits.length
    ? splits.flatMap((split) => shown.map((epoch) => ({ split, epoch })))
    : shown.map((epoch) => ({ epoch }));
  const x = splits.length
    ? [cells.map((c) => c.split ?? ''), cells.map((c) => `epoch ${c.epoch}`)]
    : cells.map((c) => `epoch ${c.epoch}`);
  return bars.map(({ parts, runId, method, name }) => {
    const partOf = (split?: string) => parts.find((p) => (p.split ?? '') === (split ?? ''));
    // Percent when stored as fractions; the std takes its accuracy's scale.
    const scale = parts.every((p) => p.s.values.every((v) => !(v > 1))) ? 100 : 1;
    const y = cells.map((c) => at(partOf(c.split)?.s, c.epoch) * scale);
    const stds = cells.map((c) => {
      const p = partOf(c.split);
      return p ? stdOf(runId, p.nodeId, method, c.split) : undefined;
    });
    const err = cells.map((c, i) => at(stds[i], c.epoch) * scale);
    return {
      type: 'bar',
      name,
      x,
      y,
      ...(stds.some((t) => t !== undefined) && err.some(Number.isFinite)
        ? {
            error_y: {
              type: 'data',
              array: err.map((v) => (Number.isFinite(v) ? v : 0)),
              visible: true,
              color: '#c9d1d9',
            },
          }
        : {}),
    };
  });
}

/** Short label of a run: its name and the end of its id. */
function runLabels(result: Pick<CompareResult, 'runs'> | null): Map<string, string> {
  return new Map((result?.runs ?? []).map((r) => [r.id, `${r.name} (${r.id.slice(-6)})`]));
}

/** Give repeated names a distinguishing suffix (the node id), so no two legend items read alike. */
function uniqueNames(items: { name: string; nodeId: string }[]): void {
  const count = new Map<string, number>();
  for (const it of items) count.set(it.name, (count.get(it.name) ?? 0) + 1);
  for (const it of items) if ((count.get(it.name) ?? 0) > 1) it.name = `${it.name} · ${it.nodeId}`;
}

/** Accuracy over fine-tuning epochs, one line per run and method. */
export function finetuneCurves(result: CompareResult): Trace[] {
  const names = runLabels(result);
  const items = dedupeSeries(result.series)
    .filter((s) => ACC.test(s.key) && s.steps.length > 1)
    .map((s) => ({
      s,
      nodeId: s.nodeId,
      name: `${names.get(s.runId) ?? s.runId} · ${s.key.replace('accuracy/', '')}`,
    }));
  uniqueNames(items);
  return items.map(({ s, name }) => ({
    type: 'scatter',
    mode: 'lines+markers',
    name,
    x: s.steps,
    y: s.values.map(pct),
  }));
}

/** A loss curve, stored or live, before it becomes a trace. */
interface LossCurve {
  readonly runId: string;
  readonly nodeId: string;
  readonly key: string;
  /** What x counts, when known (live curves carry their progress unit). */
  readonly unit?: string;
  readonly x: readonly unknown[];
  readonly y: readonly unknown[];
}

/** What a loss chart's x-axis counts: training epochs, or optimizer steps. */
export type LossAxis = 'epoch' | 'step';

/** Stages whose progress counts optimizer steps (the rest count epochs). */
const STEP_STAGES = new Set(['diffusion']);

/**
 * The x-axis a loss curve belongs on: its progress unit when known, else its stage (the part
 * of the key before ':'): diffusion counts steps, the VAE, encoder and predictor count epochs.
 */
export function lossAxisOf(key: string, unit?: string): LossAxis {
  if (unit === 'step' || unit === 'epoch') return unit;
  const stage = key.includes(':') ? key.slice(0, key.indexOf(':')) : '';
  return STEP_STAGES.has(stage) ? 'step' : 'epoch';
}

/**
 * A curve's points with numeric x in increasing order, one point per x (the later one wins, as
 * in the store, which overwrites a repeated step). Points whose x is not a finite number are
 * dropped. Plotly types an axis from the first trace's values, so one curve with string x (or
 * an unsorted one) turned the whole loss chart into a category axis with zig-zag lines.
 */
export function numericSorted(
  xs: readonly unknown[],
  ys: readonly unknown[],
): { x: number[]; y: number[] } {
  const byX = new Map<number, number>();
  xs.forEach((raw, i) => {
    const x = typeof raw === 'number' ? raw : typeof raw === 'string' ? Number(raw) : NaN;
    if (!Number.isFinite(x) || (typeof raw === 'string' && raw.trim() === '')) return;
    const y = ys[i];
    byX.set(x, typeof y === 'number' ? y : typeof y === 'string' ? Number(y) : NaN);
  });
  const x = [...byX.keys()].sort((a, b) => a - b);
  return { x, y: x.map((v) => byX.get(v) ?? NaN) };
}

/**
 * Training-loss curves: the stored ones of the compared runs and the live ones of the current
 * run, each (run, node, metric) once: when a curve is both stored and live, the one that reaches
 * further wins. One-point series (a final loss in a summary) are left out. Run ids appear in the
 * names only when curves of several runs are shown. Each trace has numeric, sorted x and sits on
 * the subplot of its kind (`xaxis` 'x' for epochs, 'x2' for steps when both kinds are shown; see
 * lossLayout), so VAE epochs and diffusion steps never share an axis.
 */
export function lossCurves(
  result: CompareResult | null,
  live: { readonly runId: string; readonly curves: LiveSeries } | null,
): Trace[] {
  const byId = new Map<string, { c: LossCurve; x: number[]; y: number[] }>();
  const units = new Map<string, string>();
  const idOf = (c: { runId: string; nodeId: string; key: string }) =>
    `${c.runId}\u0000${c.nodeId}\u0000${c.key}`;
  const lastX = (x: readonly number[]) => (x.length ? x[x.length - 1] : -Infinity);
  const add = (c: LossCurve) => {
    const pts = numericSorted(c.x, c.y);
    if (pts.x.length < 2) return;
    const id = idOf(c);
    const old = byId.get(id);
    if (
      !old ||
      lastX(pts.x) > lastX(old.x) ||
      (lastX(pts.x) === lastX(old.x) && pts.x.length > old.x.length)
    )
      byId.set(id, { c, ...pts });
  };
  const liveRun = live?.runId ?? '';
  for (const c of live?.curves.values() ?? [])
    if (c.unit) units.set(idOf({ runId: liveRun, ...c }), c.unit);
  for (const s of result?.series ?? []) {
    if (/loss/i.test(s.key)) add({ ...s, x: s.steps, y: s.values });
  }
  for (const c of live?.curves.values() ?? []) add({ runId: liveRun, ...c });
  const curves = [...byId.entries()].map(([id, v]) => ({
    ...v,
    axis: lossAxisOf(v.c.key, units.get(id) ?? v.c.unit),
  }));
  const several = new Set(curves.map((v) => v.c.runId)).size > 1;
  const both = new Set(curves.map((v) => v.axis)).size > 1;
  return curves.map(({ c, x, y, axis }) => {
    const stage = c.key.includes(':') ? c.key.slice(0, c.key.indexOf(':')) : '';
    const what = stage === c.nodeId ? c.key : `${c.nodeId} · ${c.key}`;
    const second = both && axis === 'step';
    return {
      type: 'scatter',
      mode: 'lines',
      name: several ? `${c.runId.slice(-6)} · ${what}` : what,
      x,
      y,
      xaxis: second ? 'x2' : 'x',
      yaxis: second ? 'y2' : 'y',
      meta: { axis },
    };
  });
}

/** Title of a loss x-axis. */
const LOSS_AXIS_TITLE: Record<LossAxis, string> = {
  epoch: 'epoch',
  step: 'step',
};

/**
 * The loss chart's layout: one subplot per x-axis kind among the traces (epochs left, steps
 * right), each x-axis numeric (never category, whatever Plotly would guess) and each y-axis log
 * or linear as asked; a narrow log range gets 1-2-5 ticks. Same inputs give an equal layout.
 */
export function lossLayout(traces: readonly Trace[], log: boolean): Record<string, unknown> {
  const kinds = (['epoch', 'step'] as const).filter((k) =>
    traces.some((t) => (t.meta as { axis?: LossAxis } | undefined)?.axis === k),
  );
  const shown = kinds.length ? kinds : (['epoch'] as const);
  const layout: Record<string, unknown> = {};
  shown.forEach((kind, i) => {
    const group = traces.filter((t) => (t.meta as { axis?: LossAxis } | undefined)?.axis === kind);
    const narrow = narrowLogRange(group);
    const suffix = i === 0 ? '' : String(i + 1);
    const half = shown.length > 1;
    layout[`xaxis${suffix}`] = {
      type: 'linear',
      title: { text: LOSS_AXIS_TITLE[kind] },
      ...(half ? { domain: i === 0 ? [0, 0.46] : [0.54, 1], anchor: `y${suffix}` } : {}),
    };
    layout[`yaxis${suffix}`] = {
      ...(i === 0
        ? { title: { text: log ? 'loss (log scale)' : 'loss' } }
        : { anchor: `x${suffix}` }),
      type: log ? 'log' : 'linear',
      ...(log && narrow ? { dtick: 'D2', tickformat: '~g' } : {}),
    };
  });
  return layout;
}

/**
 * Whether the positive y values of the traces span under 2.5 decades: then a log axis reads
 * best with ticks at 1, 2 and 5 of each decade labelled in full (0.2, 0.5, 1, 2) rather than one
 * labelled tick per decade.
 */
export function narrowLogRange(traces: readonly Trace[]): boolean {
  let lo = Infinity;
  let hi = -Infinity;
  for (const t of traces) {
    for (const v of (t.y as readonly number[] | undefined) ?? []) {
      if (!Number.isFinite(v) || v <= 0) continue;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  return hi > 0 && Math.log10(hi / lo) < 2.5;
}

/** Whether every finite y of the traces is positive, so a log axis loses nothing. */
export function positiveY(traces: readonly Trace[]): boolean {
  let any = false;
  for (const t of traces) {
    for (const v of (t.y as readonly number[] | undefined) ?? []) {
      if (!Number.isFinite(v)) continue;
      if (v <= 0) return false;
      any = true;
    }
  }
  return any;
}

const CATEGORY10 = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf',
];

/**
 * One colour per task: the category-10 palette for up to 10 tasks, else hues a golden angle
 * apart (neighbouring task indices get very different hues) at three lightness levels.
 */
export function taskColors(n: number): string[] {
  if (n <= CATEGORY10.length) return CATEGORY10.slice(0, n);
  return Array.from(
    { length: n },
    (_, t) => `hsl(${((t * 137.508) % 360).toFixed(1)}, 70%, ${[60, 48, 72][t % 3]}%)`,
  );
}

/** The latent maps to choose from: live ones of the current run first, each (run, node) once. */
export function latentChoices(
  live: readonly RunLatents[],
  stored: readonly RunLatents[],
): RunLatents[] {
  const seen = new Set<string>();
  return [...live, ...stored].filter((l) => {
    const k = `${l.runId}\u0000${l.nodeId}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** The map shown by default: the first that has generated samples, else the first. */
export function defaultLatent(choices: readonly RunLatents[]): RunLatents | undefined {
  return choices.find((c) => c.projection.samples) ?? choices[0];
}

/**
 * The latent scatter: zoo checkpoints as dots and generated samples as crosses, coloured by task
 * (the same colour for a task's checkpoints and samples). The legend has one item per kind, not
 * one per task (there may be a hundred); clicking it toggles that kind. Hover names the task.
 */
export function latentTraces(p: LatentProjection): Trace[] {
  const colors = taskColors(p.tasks.length);
  const zooTasks = new Set(p.zoo.task).size;
  const out: Trace[] = [];
  const kind = (
    group: 'zoo' | 'samples',
    label: string,
    pts: LatentProjection['zoo'],
    marker: Record<string, unknown>,
  ) => {
    // Legend proxy: a neutral symbol, so the item stands for the kind and not for one task.
    out.push({
      type: 'scatter',
      mode: 'markers',
      name: label,
      legendgroup: group,
      x: [null],
      y: [null],
      marker: { ...marker, color: '#c9d1d9' },
      hoverinfo: 'skip',
    });
    out.push({
      type: 'scatter',
      mode: 'markers',
      name: group,
      legendgroup: group,
      showlegend: false,
      x: pts.x,
      y: pts.y,
      text: pts.task.map((t) => p.tasks[t]),
      marker: { ...marker, color: pts.task.map((t) => colors[t]) },
      hovertemplate: `task %{text}<br>PC1 %{x:.3g}, PC2 %{y:.3g}<extra>${group}</extra>`,
    });
  };
  kind(
    'zoo',
    `zoo checkpoints (${p.zoo.x.length}, ${zooTasks} task${zooTasks === 1 ? '' : 's'})`,
    p.zoo,
    { symbol: 'circle', size: 6, opacity: 0.8 },
  );
  if (p.samples) {
    const sampleTasks = new Set(p.samples.task).size;
    kind(
      'samples',
      `generated samples (${p.samples.x.length}, ${sampleTasks} task${sampleTasks === 1 ? '' : 's'})`,
      p.samples,
      { symbol: 'x', size: 10, line: { width: 1, color: '#0b0d12' } },
    );
  }
  return out;
}

/** One task in the latent map's legend. */
export interface LatentLegendItem {
  readonly task: string;
  /** The colour of the task's dots and crosses. */
  readonly color: string;
  /** Zoo checkpoints of the task on the map. */
  readonly zoo: number;
  /** Generated samples of the task on the map. */
  readonly samples: number;
}

/**
 * The latent map's task legend: each task on the map with its colour (the one latentTraces
 * gives it) and its counts; tasks with generated samples first, then the others, each group in
 * the projection's task order. Plotly's own legend keeps one item per kind (see latentTraces).
 */
export function latentLegend(p: LatentProjection): LatentLegendItem[] {
  const colors = taskColors(p.tasks.length);
  const zoo = new Array<number>(p.tasks.length).fill(0);
  const samples = new Array<number>(p.tasks.length).fill(0);
  for (const t of p.zoo.task) zoo[t] += 1;
  for (const t of p.samples?.task ?? []) samples[t] += 1;
  const items = p.tasks.map((task, t) => ({
    task,
    color: colors[t],
    zoo: zoo[t],
    samples: samples[t],
  }));
  return [
    ...items.filter((i) => i.samples > 0),
    ...items.filter((i) => i.samples === 0 && i.zoo > 0),
  ];
}

/** Axis titles of the latent map: which principal component, and its share of the variance. */
export function latentAxisTitles(p: LatentProjection): { x: string; y: string } {
  const share = (v: number) => `${Math.round(v * 100)}%`;
  return {
    x: `PC1 (${share(p.explained[0])} of zoo latent variance)`,
    y: `PC2 (${share(p.explained[1])})`,
  };
}
