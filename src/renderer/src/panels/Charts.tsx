/**
 * Charts over stored and live metrics: accuracy per method with error bars (mean ± std over the
 * selected runs and their evaluation nodes) at fine-tuning epochs 0/1/5, fine-tuning curves per
 * run, and training-loss curves per stage, live while the current run trains.
 */
import { useMemo } from 'react';
import type { Data } from 'plotly.js-dist-min';
import type { CompareResult, MetricSeries } from '../../../shared/ipc.ts';
import { Plot } from './Plot.tsx';

/** Live loss points of the current run: `${nodeId} · ${key}` → points. */
export type LiveSeries = ReadonlyMap<
  string,
  { readonly x: readonly number[]; readonly y: readonly number[] }
>;

const ACC = /^accuracy\/(.+)$/;
const EPOCHS = [0, 1, 5];

function meanStd(xs: readonly number[]): [number, number] {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const v = xs.length > 1 ? xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1) : 0;
  return [m, Math.sqrt(v)];
}

function accuracyBars(series: readonly MetricSeries[]): Data[] {
  const byMethod = new Map<string, Map<number, number[]>>();
  for (const s of series) {
    const m = ACC.exec(s.key);
    if (!m) continue;
    const method = m[1];
    let steps = byMethod.get(method);
    if (!steps) byMethod.set(method, (steps = new Map()));
    s.steps.forEach((step, i) => {
      const v = s.values[i];
      if (!Number.isFinite(v)) return;
      const list = steps.get(step) ?? [];
      list.push(v * (v <= 1 ? 100 : 1));
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

function finetuneCurves(result: CompareResult): Data[] {
  const names = new Map(result.runs.map((r) => [r.id, `${r.name} (${r.id.slice(-6)})`]));
  return result.series
    .filter((s) => ACC.test(s.key) && s.steps.length > 1)
    .map((s) => ({
      type: 'scatter',
      mode: 'lines+markers',
      name: `${names.get(s.runId) ?? s.runId} · ${s.key.replace('accuracy/', '')}`,
      x: s.steps,
      y: s.values.map((v) => v * (v <= 1 ? 100 : 1)),
    }));
}

function lossCurves(result: CompareResult | null, live: LiveSeries): Data[] {
  const stored: Data[] = (result?.series ?? [])
    .filter((s) => /loss/i.test(s.key))
    .map((s) => ({
      type: 'scatter',
      mode: 'lines',
      name: `${s.runId.slice(-6)} · ${s.nodeId} · ${s.key}`,
      x: s.steps,
      y: s.values,
    }));
  const current: Data[] = [...live.entries()].map(([name, pts]) => ({
    type: 'scatter',
    mode: 'lines',
    name: `live · ${name}`,
    x: pts.x,
    y: pts.y,
    line: { width: 2 },
  }));
  return [...current, ...stored];
}

export interface ChartsProps {
  readonly compare: CompareResult | null;
  readonly live: LiveSeries;
}

export function Charts({ compare, live }: ChartsProps) {
  const bars = useMemo(() => (compare ? accuracyBars(compare.series) : []), [compare]);
  const curves = useMemo(() => (compare ? finetuneCurves(compare) : []), [compare]);
  const losses = useMemo(() => lossCurves(compare, live), [compare, live]);
  return (
    <div className="charts" data-testid="charts">
      {bars.length > 0 ? (
        <Plot
          title="Accuracy by method (mean ± std over selected runs)"
          data={bars}
          layout={{
            barmode: 'group',
            yaxis: { title: { text: 'accuracy %' }, gridcolor: '#262b36' },
          }}
          file="accuracy-by-method"
          testId="chart-accuracy"
        />
      ) : (
        <div className="chart-empty" data-testid="chart-accuracy-empty">
          No <code>accuracy/&lt;method&gt;</code> metrics in the selected runs yet: select runs with
          an evaluation node and press Compare.
        </div>
      )}
      {curves.length > 0 && (
        <Plot
          title="Fine-tuning curves"
          data={curves}
          layout={{
            xaxis: { title: { text: 'fine-tuning epoch' }, gridcolor: '#262b36' },
            yaxis: { title: { text: 'accuracy %' }, gridcolor: '#262b36' },
          }}
          file="finetune-curves"
          testId="chart-finetune"
        />
      )}
      {losses.length > 0 ? (
        <Plot
          title="Training loss per stage"
          data={losses}
          layout={{
            xaxis: { title: { text: 'step / epoch' }, gridcolor: '#262b36' },
            yaxis: { title: { text: 'loss' }, gridcolor: '#262b36' },
          }}
          file="training-loss"
          testId="chart-loss"
        />
      ) : (
        <div className="chart-empty">Loss curves appear here while a training node runs.</div>
      )}
      <div className="chart-note muted small">
        Latent 2-D projection: not shown — the engine does not expose VAE latents to the UI yet.
      </div>
    </div>
  );
}
