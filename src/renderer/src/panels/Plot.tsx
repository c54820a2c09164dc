/** One Plotly chart, loaded lazily (plotly.js is large), with a PNG export button. */
import { useEffect, useRef, useState } from 'react';
import type { Data, Layout } from 'plotly.js-dist-min';

type PlotlyModule = typeof import('plotly.js-dist-min').default;
let plotly: Promise<PlotlyModule> | null = null;
/** The Plotly module, imported on first use. */
export function loadPlotly(): Promise<PlotlyModule> {
  plotly ??= import('plotly.js-dist-min').then((m) => m.default);
  return plotly;
}

const BASE_LAYOUT: Layout = {
  paper_bgcolor: '#171a21',
  plot_bgcolor: '#171a21',
  font: { color: '#c9d1d9', size: 11, family: 'Inter, system-ui, sans-serif' },
  margin: { l: 52, r: 16, t: 34, b: 64 },
  xaxis: { gridcolor: '#262b36', zerolinecolor: '#333a47' },
  yaxis: { gridcolor: '#262b36', zerolinecolor: '#333a47' },
  legend: { orientation: 'h', x: 0, y: -0.28, font: { size: 10 } },
};

export interface PlotProps {
  readonly title: string;
  readonly data: Data[];
  readonly layout?: Layout;
  /** File name of the PNG export. */
  readonly file: string;
  readonly testId?: string;
}

export function Plot({ title, data, layout, file, testId }: PlotProps) {
  const el = useRef<HTMLDivElement>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const div = el.current;
    if (!div) return;
    let alive = true;
    loadPlotly()
      .then((P) => {
        if (!alive) return;
        return P.react(
          div,
          data,
          { ...BASE_LAYOUT, title: { text: title, font: { size: 13 } }, ...layout },
          { displaylogo: false, responsive: true, displayModeBar: false },
        );
      })
      .catch((e: unknown) => setError(String(e)));
    return () => {
      alive = false;
    };
  }, [data, layout, title]);
  useEffect(() => {
    const div = el.current;
    return () => {
      if (div) void loadPlotly().then((P) => P.purge(div));
    };
  }, []);
  return (
    <div className="plot" data-testid={testId}>
      <div className="plot-tools">
        <button
          type="button"
          className="small"
          onClick={() => {
            const div = el.current;
            if (div)
              void loadPlotly().then((P) =>
                P.downloadImage(div, { format: 'png', filename: file, width: 1200, height: 700 }),
              );
          }}
        >
          PNG
        </button>
      </div>
      {error ? <div className="alert error">{error}</div> : <div className="plot-area" ref={el} />}
    </div>
  );
}
