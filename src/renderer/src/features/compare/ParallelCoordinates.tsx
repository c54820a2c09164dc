/**
 * Parallel coordinates in SVG: one vertical axis per differing config field and per metric, one
 * line per run, coloured by the last metric. Drag along an axis to brush a range: lines outside
 * every brush fade and the count of runs inside shows; a click on an axis clears its brush.
 *
 * Plotly's `parcoords` draws with regl, which compiles its shaders through `new Function`: the
 * studio's Content-Security-Policy (script-src 'self', no 'unsafe-eval') refuses that, and Plotly
 * then shows "WebGL is not supported". Drawing the few runs of a comparison in SVG keeps the
 * policy strict and needs no WebGL.
 */
import { useRef, useState, type PointerEvent } from 'react';
import { inBrushes, type Brush, type ParData } from './compare-data.ts';

const W = 1000;
const H = 300;
const PAD = { l: 60, r: 60, t: 44, b: 28 };
/** Width of the strip around an axis that takes a brush drag. */
const GRIP = 28;

/** Two ends of the colour ramp (low → high), as in the Viridis scale. */
const LOW = [68, 1, 84];
const MID = [33, 145, 140];
const HIGH = [253, 231, 37];

function ramp(t: number): string {
  const [a, b, u] = t < 0.5 ? [LOW, MID, t * 2] : [MID, HIGH, (t - 0.5) * 2];
  const c = a.map((x, i) => Math.round(x + (b[i] - x) * u));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

/** An axis's value range: its finite values' extent, widened when they are all equal. */
function extent(values: readonly number[], ticks?: readonly string[]): [number, number] {
  if (ticks) return ticks.length > 1 ? [0, ticks.length - 1] : [-0.5, 0.5];
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return [0, 1];
  const lo = Math.min(...finite);
  const hi = Math.max(...finite);
  if (lo === hi) return [lo - (Math.abs(lo) || 1) * 0.05, hi + (Math.abs(hi) || 1) * 0.05];
  // A margin at both ends, so the extreme lines do not run along the axis ends.
  const pad = (hi - lo) * 0.06;
  return [lo - pad, hi + pad];
}

/** A tick label: up to 4 significant digits. */
const fmt = (v: number) => String(Number(v.toPrecision(4)));

export interface ParallelCoordinatesProps {
  readonly data: ParData;
  readonly title: string;
}

/** Tick values of a numeric axis: its data's extremes and the middle. */
function numericTicks(values: readonly number[]): number[] {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return [];
  const lo = Math.min(...finite);
  const hi = Math.max(...finite);
  return lo === hi ? [lo] : [lo, (lo + hi) / 2, hi];
}

export function ParallelCoordinates({ data, title }: ParallelCoordinatesProps) {
  const svg = useRef<SVGSVGElement>(null);
  const [brushes, setBrushes] = useState<ReadonlyMap<number, Brush>>(new Map());
  const drag = useRef<{ axis: number; from: number; moved: boolean } | null>(null);
  const { axes, lines, colour } = data;
  const n = axes.length;
  const x = (a: number) => (n === 1 ? W / 2 : PAD.l + (a * (W - PAD.l - PAD.r)) / (n - 1));
  const ranges = axes.map((ax) => extent(ax.values, ax.ticks));
  const y = (a: number, v: number) => {
    const [lo, hi] = ranges[a];
    return PAD.t + (1 - (v - lo) / (hi - lo)) * (H - PAD.t - PAD.b);
  };
  const valueAt = (a: number, clientY: number) => {
    const box = svg.current?.getBoundingClientRect();
    const vy = box && box.height > 0 ? ((clientY - box.top) * H) / box.height : PAD.t;
    const [lo, hi] = ranges[a];
    const t = 1 - (Math.min(Math.max(vy, PAD.t), H - PAD.b) - PAD.t) / (H - PAD.t - PAD.b);
    return lo + t * (hi - lo);
  };
  const cRange = colour ? extent(colour) : null;
  const lineColour = (i: number) => {
    if (!colour || !cRange || !Number.isFinite(colour[i])) return '#58a6ff';
    return ramp((colour[i] - cRange[0]) / (cRange[1] - cRange[0]));
  };
  const kept = lines.map((_, i) => inBrushes(axes, brushes, i));
  const count = kept.filter(Boolean).length;

  const down = (a: number) => (e: PointerEvent<SVGRectElement>) => {
    e.currentTarget.setPointerCapture?.(e.pointerId);
    drag.current = { axis: a, from: valueAt(a, e.clientY), moved: false };
  };
  const move = (e: PointerEvent<SVGRectElement>) => {
    const d = drag.current;
    if (!d) return;
    const to = valueAt(d.axis, e.clientY);
    d.moved = true;
    setBrushes((b) => new Map(b).set(d.axis, [Math.min(d.from, to), Math.max(d.from, to)]));
  };
  const up = () => {
    const d = drag.current;
    drag.current = null;
    if (d && !d.moved)
      setBrushes((b) => {
        const next = new Map(b);
        next.delete(d.axis);
        return next;
      });
  };

  return (
    <div className="plot parcoords" data-testid="compare-parcoords">
      <div className="parcoords-head small">
        <span className="parcoords-title">{title}</span>
        <span className="muted" data-testid="compare-parcoords-count">
          {brushes.size
            ? `${count} of ${lines.length} runs in the brush · click an axis to clear`
            : 'drag along an axis to brush'}
        </span>
        {colour && (
          <span className="muted parcoords-colour">
            colour: {axes[axes.length - 1].label}
            <span className="parcoords-ramp" aria-hidden="true" />
            low → high
          </span>
        )}
      </div>
      <svg
        ref={svg}
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-label={title}
        className="parcoords-svg"
      >
        {lines.map((l, i) => (
          <polyline
            key={l.runId}
            className={kept[i] ? 'pc-line' : 'pc-line pc-out'}
            data-run={l.runId}
            points={axes
              .map((ax, a) =>
                Number.isFinite(ax.values[i]) ? `${x(a)},${y(a, ax.values[i])}` : '',
              )
              .filter(Boolean)
              .join(' ')}
            stroke={lineColour(i)}
          >
            <title>{l.label}</title>
          </polyline>
        ))}
        {axes.map((ax, a) => {
          const ticks = ax.ticks
            ? ax.ticks.map((t, k) => ({ v: k, text: t }))
            : numericTicks(ax.values).map((v) => ({ v, text: fmt(v) }));
          const brush = brushes.get(a);
          return (
            <g key={ax.label} className="pc-axis">
              <line x1={x(a)} x2={x(a)} y1={PAD.t} y2={H - PAD.b} />
              <text className="pc-label" x={x(a)} y={PAD.t - 16} textAnchor="middle">
                {ax.label}
              </text>
              {ticks.map((t) => (
                <text
                  key={t.text}
                  className="pc-tick"
                  x={x(a) - 8}
                  y={y(a, t.v) + 3}
                  textAnchor="end"
                >
                  {t.text}
                </text>
              ))}
              {brush && (
                <rect
                  className="pc-brush"
                  x={x(a) - 7}
                  width={14}
                  y={y(a, brush[1])}
                  height={Math.max(1, y(a, brush[0]) - y(a, brush[1]))}
                />
              )}
              <rect
                className="pc-grip"
                data-testid={`compare-parcoords-axis-${a}`}
                x={x(a) - GRIP / 2}
                width={GRIP}
                y={PAD.t - 4}
                height={H - PAD.t - PAD.b + 8}
                onPointerDown={down(a)}
                onPointerMove={move}
                onPointerUp={up}
              />
            </g>
          );
        })}
      </svg>
    </div>
  );
}
