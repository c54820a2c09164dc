/**
 * Charts over stored and live metrics: accuracy per run and method at fine-tuning epochs 0/1/5,
 * grouped by task split with a line under it saying what each split means (error bars: std over
 * tasks, where the run records it), fine-tuning curves per run,
 * training-loss curves per stage (live while the current run trains; log scale by default; epochs
 * and steps on separate x-axes), and the 2-D map of the weight VAE's latent space with the
 * generated samples on it and a legend of its tasks.
 */
import { useMemo, useState } from 'react';
import type { Layout } from 'plotly.js-dist-min';
import type { CompareResult } from '../../../shared/ipc.ts';
import { SPLIT_MEANING, TASK_SPLITS, type TaskSplit } from '../../../shared/nodes/eval-finetune.ts';
import { useLiveLatents, useLiveSeries } from '../lib/context.ts';
import {
  accuracyBars,
  accuracySplits,
  defaultLatent,
  finetuneCurves,
  latentAxisTitles,
  latentChoices,
  latentLegend,
  latentTraces,
  lossCurves,
  lossLayout,
  positiveY,
} from './chart-data.ts';
import { Plot } from './Plot.tsx';

// Layouts are constants so a re-render with the same data does not redraw the chart.
const ACCURACY_LAYOUT: Layout = { barmode: 'group', yaxis: { title: { text: 'accuracy %' } } };
const FINETUNE_LAYOUT: Layout = {
  xaxis: { title: { text: 'fine-tuning epoch' } },
  yaxis: { title: { text: 'accuracy %' } },
};

export interface ChartsProps {
  /** Metrics and latent maps of the compared runs. */
  readonly compare: CompareResult | null;
  /** The run whose live curves and latent maps are shown too. */
  readonly activeRunId: string | null;
}

export function Charts({ compare, activeRunId }: ChartsProps) {
  const liveCurves = useLiveSeries(activeRunId);
  const liveLatents = useLiveLatents(activeRunId);
  const [logLoss, setLogLoss] = useState(true);
  const [latentKey, setLatentKey] = useState<string | null>(null);

  const bars = useMemo(() => (compare ? accuracyBars(compare.series, compare) : []), [compare]);
  const barsHaveStd = bars.some((b) => b.error_y !== undefined);
  const splits = useMemo(
    () =>
      (compare ? accuracySplits(compare.series) : []).filter((sp): sp is TaskSplit =>
        (TASK_SPLITS as readonly string[]).includes(sp),
      ),
    [compare],
  );
  const curves = useMemo(() => (compare ? finetuneCurves(compare) : []), [compare]);
  const losses = useMemo(
    () => lossCurves(compare, activeRunId ? { runId: activeRunId, curves: liveCurves } : null),
    [compare, activeRunId, liveCurves],
  );
  const canLog = useMemo(() => positiveY(losses), [losses]);
  const log = logLoss && canLog;
  // Kept equal while the same axes show, so a streamed point does not rebuild the layout.
  const lossLayoutKey = JSON.stringify(lossLayout(losses, log));
  const lossFigLayout = useMemo(() => JSON.parse(lossLayoutKey) as Layout, [lossLayoutKey]);

  const choices = useMemo(
    () => latentChoices(liveLatents, compare?.latents ?? []),
    [liveLatents, compare],
  );
  const keyOf = (c: { runId: string; nodeId: string }) => `${c.runId}/${c.nodeId}`;
  const latent = choices.find((c) => keyOf(c) === latentKey) ?? defaultLatent(choices);
  const latentData = useMemo(() => (latent ? latentTraces(latent.projection) : []), [latent]);
  const legend = useMemo(() => (latent ? latentLegend(latent.projection) : []), [latent]);
  const latentLayout = useMemo((): Layout | undefined => {
    if (!latent) return undefined;
    const t = latentAxisTitles(latent.projection);
    return {
      xaxis: { title: { text: t.x }, zeroline: false },
      yaxis: { title: { text: t.y }, zeroline: false },
      hovermode: 'closest',
    };
  }, [latent]);
  const runName = (runId: string) =>
    compare?.runs.find((r) => r.id === runId)?.name ?? (runId === activeRunId ? 'current run' : '');

  return (
    <div className="charts" data-testid="charts">
      {bars.length > 0 ? (
        <div className="chart-with-legend">
          <Plot
            title={`Accuracy by ${splits.length ? 'split, ' : ''}run and method${barsHaveStd ? ' (± std over tasks)' : ''}`}
            data={bars}
            layout={ACCURACY_LAYOUT}
            file="accuracy-by-method"
            testId="chart-accuracy"
          />
          {splits.length > 0 && (
            <ul className="task-legend split-legend" data-testid="chart-accuracy-splits">
              {splits.map((sp) => (
                <li key={sp}>
                  <b>{sp}</b>: {SPLIT_MEANING[sp]}
                </li>
              ))}
            </ul>
          )}
        </div>
      ) : (
        <div className="chart-empty" data-testid="chart-accuracy-empty">
          <span>
            No <code>accuracy/&lt;method&gt;</code> metrics in the selected runs yet: select runs
            with an evaluation node and press Compare.
          </span>
        </div>
      )}
      {curves.length > 0 && (
        <Plot
          title="Fine-tuning curves"
          data={curves}
          layout={FINETUNE_LAYOUT}
          file="finetune-curves"
          testId="chart-finetune"
        />
      )}
      {losses.length > 0 ? (
        <Plot
          title="Training loss per stage"
          data={losses}
          layout={lossFigLayout}
          file="training-loss"
          testId="chart-loss"
          tools={
            <label
              className="small plot-toggle"
              title={canLog ? 'Logarithmic loss axis' : 'A loss ≤ 0 cannot go on a log axis'}
            >
              <input
                type="checkbox"
                checked={log}
                disabled={!canLog}
                onChange={(e) => setLogLoss(e.target.checked)}
                data-testid="loss-log"
              />
              log y
            </label>
          }
        />
      ) : (
        <div className="chart-empty">Loss curves appear here while a training node runs.</div>
      )}
      {latent && latentLayout ? (
        <div className="chart-with-legend" data-testid="chart-latents-box">
          <Plot
            title="VAE latents (PCA of the zoo)"
            data={latentData}
            layout={latentLayout}
            file="vae-latents"
            testId="chart-latents"
            tools={
              choices.length > 1 ? (
                <select
                  className="small"
                  aria-label="Latent map"
                  value={keyOf(latent)}
                  onChange={(e) => setLatentKey(e.target.value)}
                  data-testid="latents-pick"
                >
                  {choices.map((c) => (
                    <option key={keyOf(c)} value={keyOf(c)}>
                      {`${runName(c.runId)} (${c.runId.slice(-6)}) · ${c.nodeId}${c.projection.samples ? ' + samples' : ''}`}
                    </option>
                  ))}
                </select>
              ) : undefined
            }
          />
          <ul
            className="task-legend"
            aria-label="Tasks on the latent map"
            data-testid="latents-legend"
          >
            {legend.map((t) => (
              <li
                key={t.task}
                title={`${t.task}: ${t.zoo} zoo checkpoint${t.zoo === 1 ? '' : 's'}${t.samples ? `, ${t.samples} generated sample${t.samples === 1 ? '' : 's'}` : ''}`}
              >
                <span className="swatch" style={{ background: t.color }} />
                {t.task}
                {t.samples > 0 && <span className="muted"> ×{t.samples}</span>}
              </li>
            ))}
          </ul>
        </div>
      ) : (
        <div className="chart-empty" data-testid="chart-latents-empty">
          The VAE latent map appears here once a Weight VAE node has run (and the Sampler&apos;s
          samples once it has too): compare runs that have one, or run a pipeline.
        </div>
      )}
    </div>
  );
}
