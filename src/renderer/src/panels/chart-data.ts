/**
 * Plotly traces for the charts, as pure functions of stored and live data (no React, no DOM), so
 * what each chart shows (which series, under which legend name) is decided in one testable place.
 */
import type { CompareResult, MetricSeries, RunLatents } from '../../../shared/ipc.ts';
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

function meanStd(xs: readonly number[]): [number, number] {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const v = xs.length > 1 ? xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1) : 0;
  return [m, Math.sqrt(v)];
}

/** Bars of mean ± std accuracy per method at fine-tuning epochs 0/1/5 (or whatever exists). */
export function accuracyBars(series: readonly MetricSeries[]): Trace[] {
  const byMethod = new Map<string, Map<number, number[]>>();
  for (const s of dedupeSeries(series)) {
    const m = ACC.exec(s.key);
    if (!m) continue;
    const method = m[1];
    let steps = byMethod.get(method);
    if (!steps) byMethod.set(method, (steps = new Map()));
    s.steps.forEach((step, i) => {
      const v = s.values[i];
      if (!Number.isFinite(v)) return;
      const list = steps.get(step) ?? [];
      list.push(pct(v));
      steps.set(step, list);
    });
  }
  const allSteps = new Set([...byMethod.values()].flatMap((m) => [...m.keys()]));
  const shown = EPOCHS.some((e) => allSteps.has(e))
    ? EPOCHS.filter((e) => allSteps.has(e))
    : [...allSteps].sort((a, b) => a - b);
  return [...byMethod.entries()].map(([method, steps]) => {
    const stats = shown.map((e) =>
      steps.get(e)?.length ? meanStd(steps.get(e) ?? []) : [Number.NaN, 0],
    );
    return {
      type: 'bar',
      name: method,
      x: shown.map((e) => `epoch ${e}`),
      y: stats.map((s) => s[0]),
      error_y: { type: 'data', array: stats.map((s) => s[1]), visible: true, color: '#c9d1d9' },
    };
  });
}

/** Short label of a run: its name and the end of its id. */
function runLabels(result: CompareResult | null): Map<string, string> {
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
  readonly x: readonly number[];
  readonly y: readonly number[];
}

/**
 * Training-loss curves: the stored ones of the compared runs and the live ones of the current
 * run, each (run, node, metric) once: when a curve is both stored and live, the one that reaches
 * further wins. One-point series (a final loss in a summary) are left out. Run ids appear in the
 * names only when curves of several runs are shown.
 */
export function lossCurves(
  result: CompareResult | null,
  live: { readonly runId: string; readonly curves: LiveSeries } | null,
): Trace[] {
  const byId = new Map<string, LossCurve>();
  const lastX = (c: LossCurve) => (c.x.length ? c.x[c.x.length - 1] : -Infinity);
  const add = (c: LossCurve) => {
    if (c.x.length < 2) return;
    const id = `${c.runId}\u0000${c.nodeId}\u0000${c.key}`;
    const old = byId.get(id);
    if (!old || lastX(c) > lastX(old) || (lastX(c) === lastX(old) && c.x.length > old.x.length))
      byId.set(id, c);
  };
  for (const s of result?.series ?? []) {
    if (/loss/i.test(s.key)) add({ ...s, x: s.steps, y: s.values });
  }
  for (const c of live?.curves.values() ?? []) add({ runId: live?.runId ?? '', ...c });
  const curves = [...byId.values()];
  const several = new Set(curves.map((c) => c.runId)).size > 1;
  return curves.map((c) => {
    const stage = c.key.includes(':') ? c.key.slice(0, c.key.indexOf(':')) : '';
    const what = stage === c.nodeId ? c.key : `${c.nodeId} · ${c.key}`;
    return {
      type: 'scatter',
      mode: 'lines',
      name: several ? `${c.runId.slice(-6)} · ${what}` : what,
      x: c.x,
      y: c.y,
    };
  });
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

/** Axis titles of the latent map: which principal component, and its share of the variance. */
export function latentAxisTitles(p: LatentProjection): { x: string; y: string } {
  const share = (v: number) => `${Math.round(v * 100)}%`;
  return {
    x: `PC1 (${share(p.explained[0])} of zoo latent variance)`,
    y: `PC2 (${share(p.explained[1])})`,
  };
}
