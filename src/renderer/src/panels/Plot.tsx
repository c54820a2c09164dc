/**
 * One Plotly chart, loaded lazily (plotly.js is large), with a PNG export button. Redraws go
 * through Plotly.react (it diffs against the last figure) and are coalesced: while a live curve
 * streams in, the chart redraws at most a few times a second, not once per event.
 */
import { useEffect, useRef, useState, type ReactNode } from 'react';
import type { Data, Layout } from 'plotly.js-dist-min';

type PlotlyModule = typeof import('plotly.js-dist-min').default;
let plotly: Promise<PlotlyModule> | null = null;
/** The Plotly module, imported on first use. */
export function loadPlotly(): Promise<PlotlyModule> {
  plotly ??= import('plotly.js-dist-min').then((m) => m.default);
  return plotly;
}

/** Shortest time between two redraws of one chart. */
const MIN_REDRAW_MS = 250;

const AXIS = { gridcolor: '#262b36', zerolinecolor: '#333a47', automargin: true };

/**
 * The layout every chart starts from. The legend sits under the plot in container coordinates:
 * Plotly then reserves room for it below the x-axis title, so the two never overlap; a long legend
 * scrolls (maxheight) instead of squeezing the plot away.
 */
const BASE_LAYOUT: Layout = {
  paper_bgcolor: '#171a21',
  plot_bgcolor: '#171a21',
  font: { color: '#c9d1d9', size: 11, family: 'Inter, system-ui, sans-serif' },
  margin: { l: 52, r: 16, t: 34, b: 8 },
  xaxis: { ...AXIS, title: { standoff: 6 } },
  yaxis: { ...AXIS, title: { standoff: 6 } },
  legend: {
    orientation: 'h',
    yref: 'container',
    y: 0,
    yanchor: 'bottom',
    x: 0,
    xanchor: 'left',
    maxheight: 0.3,
    font: { size: 10 },
  },
};

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** `over` merged into `base`, objects key by key (so a chart's axis keeps the base grid colour). */
function merge(base: Layout, over: Layout): Layout {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    // A subplot's axes (xaxis2, yaxis2…) start from the base axis of their letter.
    const sub = /^([xy]axis)\d+$/.exec(k);
    const b = out[k] ?? (sub ? base[sub[1]] : undefined);
    out[k] = isRecord(b) && isRecord(v) ? merge(b, v) : v;
  }
  return out;
}

export interface PlotProps {
  readonly title: string;
  readonly data: Data[];
  readonly layout?: Layout;
  /** File name of the PNG export. */
  readonly file: string;
  readonly testId?: string;
  /** Extra controls shown before the PNG button. */
  readonly tools?: ReactNode;
}

export function Plot({ title, data, layout, file, testId, tools }: PlotProps) {
  const el = useRef<HTMLDivElement>(null);
  const [error, setError] = useState<string | null>(null);
  const last = useRef(0);
  const timer = useRef<number | null>(null);
  const next = useRef<{ data: Data[]; layout: Layout } | null>(null);

  useEffect(() => {
    next.current = {
      data,
      // Titles start at the left: the tools (PNG, pickers) sit on the right of the same line.
      layout: merge(BASE_LAYOUT, {
        title: { text: title, font: { size: 13 }, x: 0.01, xanchor: 'left', xref: 'container' },
        ...layout,
      }),
    };
    if (timer.current !== null) return;
    const draw = () => {
      timer.current = null;
      const div = el.current;
      const fig = next.current;
      if (!div || !fig) return;
      last.current = performance.now();
      loadPlotly()
        .then((P) =>
          P.react(div, fig.data, fig.layout, {
            displaylogo: false,
            responsive: true,
            displayModeBar: false,
          }),
        )
        .catch((e: unknown) => setError(String(e)));
    };
    const wait = last.current + MIN_REDRAW_MS - performance.now();
    if (wait <= 0) draw();
    else timer.current = window.setTimeout(draw, wait);
  }, [data, layout, title]);

  useEffect(() => {
    const div = el.current;
    return () => {
      if (timer.current !== null) window.clearTimeout(timer.current);
      timer.current = null;
      if (div) void loadPlotly().then((P) => P.purge(div));
    };
  }, []);

  return (
    <div className="plot" data-testid={testId}>
      <div className="plot-tools">
        {tools}
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
