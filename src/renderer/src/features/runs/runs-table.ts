/**
 * The runs table as pure functions (no React, no DOM): which columns it shows (the run's own
 * fields, then the config fields and accuracy metrics a user picked), each cell's value for
 * sorting and for display, and the filters (status, tag, text search, a metric range). The
 * metric cells are the comparison view's: accuracy mean ± std over tasks at one epoch.
 */
import type { RunSummary, RunsTable } from '../../../../shared/ipc.ts';
import type { JsonValue } from '../../../../shared/events.ts';
import type { RunStatus } from '../../../../shared/runs.ts';
import {
  metricColumns,
  metricEpochs,
  pct,
  runMetrics,
  showCell,
  showValue,
  type Cell,
  type MetricColumn,
  type RunMetrics,
} from '../compare/compare-data.ts';

export type SortDir = 'asc' | 'desc';

/** A metric range filter: keep runs whose value (accuracy in %) lies in [min, max]. */
export interface MetricRange {
  /** Metric column key, `<split>/<method>`. */
  readonly metric: string;
  /** Open bound when null. */
  readonly min: number | null;
  readonly max: number | null;
}

/** How the user set the table up: filters, sort and the picked columns. */
export interface RunsView {
  /** Case-insensitive text matched against name, id, tags and notes. */
  readonly search: string;
  /** Only runs in this state ('' = any). */
  readonly status: RunStatus | '';
  /** Only runs carrying this tag ('' = any). */
  readonly tag: string;
  readonly range: MetricRange | null;
  readonly sort: { readonly column: string; readonly dir: SortDir };
  /** Config field columns, `<node id>.<field path>`. */
  readonly fields: readonly string[];
  /** Metric columns, `<split>/<method>`. */
  readonly metrics: readonly string[];
  /** Fine-tuning epoch of the metric columns; null = the last one recorded. */
  readonly epoch: number | null;
}

export const DEFAULT_VIEW: RunsView = {
  search: '',
  status: '',
  tag: '',
  range: null,
  sort: { column: 'started', dir: 'desc' },
  fields: [],
  metrics: [],
  epoch: null,
};

/** The run's own columns, in table order (notes comes last, after the picked ones). */
export const RUN_COLUMNS = [
  { id: 'name', label: 'Name' },
  { id: 'tags', label: 'Tags' },
  { id: 'status', label: 'Status' },
  { id: 'started', label: 'Started' },
  { id: 'duration', label: 'Duration' },
  { id: 'seed', label: 'Seed' },
  { id: 'backend', label: 'Backend' },
] as const;

export const fieldColumnId = (key: string) => `field:${key}`;
export const metricColumnId = (key: string) => `metric:${key}`;

/** A column as the table draws it. */
export interface Column {
  readonly id: string;
  readonly label: string;
  /** Right-aligned numbers. */
  readonly numeric: boolean;
}

/** What the table derives from runs.table: metric columns, epochs, and each run's cells. */
export interface TableData {
  readonly values: RunsTable['values'];
  /** Every config field there is (the picker's list). */
  readonly fields: readonly string[];
  /** Every accuracy column there is (the picker's list). */
  readonly metricColumns: readonly MetricColumn[];
  readonly epochs: readonly number[];
  readonly metrics: ReadonlyMap<string, RunMetrics>;
}

export function tableData(table: RunsTable | null): TableData {
  const series = table?.series ?? [];
  return {
    values: table?.values ?? {},
    fields: table?.fields ?? [],
    metricColumns: metricColumns(series),
    epochs: metricEpochs(series),
    metrics: runMetrics(series),
  };
}

/** The epoch the metric columns show: the chosen one when recorded, else the last. */
export function shownEpoch(data: TableData, view: RunsView): number | null {
  if (view.epoch !== null && data.epochs.includes(view.epoch)) return view.epoch;
  return data.epochs[data.epochs.length - 1] ?? null;
}

/** The columns in order: the run's own, the picked fields, the picked metrics, notes. */
export function columns(view: RunsView, epoch: number | null): Column[] {
  const at = epoch === null ? '' : ` @${epoch}`;
  return [
    ...RUN_COLUMNS.map((c) => ({
      ...c,
      numeric: c.id === 'duration' || c.id === 'seed',
    })),
    ...view.fields.map((f) => ({ id: fieldColumnId(f), label: f, numeric: false })),
    ...view.metrics.map((m) => ({ id: metricColumnId(m), label: `${m}${at} (%)`, numeric: true })),
    { id: 'notes', label: 'Notes', numeric: false },
  ];
}

/** A run's accuracy cell for a metric column at an epoch (undefined: not recorded). */
export function metricCell(
  data: TableData,
  runId: string,
  metric: string,
  epoch: number | null,
): Cell | undefined {
  if (epoch === null) return undefined;
  return data.metrics.get(runId)?.get(metric)?.get(epoch);
}

/** A config value as a sort key: numbers stay numbers, the rest their shown text. */
function fieldKey(v: JsonValue | undefined): string | number | undefined {
  if (v === undefined) return undefined;
  return typeof v === 'number' ? v : showValue(v);
}

/** What a column sorts a run by (undefined sorts last either way). */
export function sortKey(
  run: RunSummary,
  column: string,
  data: TableData,
  epoch: number | null,
): string | number | undefined {
  switch (column) {
    case 'name':
      return run.name;
    case 'tags':
      return run.tags.length ? run.tags.join(',') : undefined;
    case 'notes':
      return run.notes || undefined;
    case 'status':
      return run.status;
    case 'started': {
      const t = Date.parse(run.startedAt);
      return Number.isFinite(t) ? t : undefined;
    }
    case 'duration':
      return run.durationMs ?? undefined;
    case 'seed':
      return run.seed;
    case 'backend':
      return run.backend || undefined;
  }
  if (column.startsWith('field:')) return fieldKey(data.values[run.id]?.[column.slice(6)]);
  if (column.startsWith('metric:')) return metricCell(data, run.id, column.slice(7), epoch)?.mean;
  return undefined;
}

/** A cell's text. */
export function cellText(
  run: RunSummary,
  column: string,
  data: TableData,
  epoch: number | null,
): string {
  if (column.startsWith('field:')) return showValue(data.values[run.id]?.[column.slice(6)]);
  if (column.startsWith('metric:'))
    return showCell(metricCell(data, run.id, column.slice(7), epoch));
  const v = sortKey(run, column, data, epoch);
  return v === undefined ? '—' : String(v);
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

function compareKeys(a: string | number | undefined, b: string | number | undefined): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return collator.compare(String(a), String(b));
}

/** Runs sorted by the view's column; runs without a value go last in both directions. */
export function sortRuns(
  runs: readonly RunSummary[],
  view: RunsView,
  data: TableData,
  epoch: number | null,
): RunSummary[] {
  const { column, dir } = view.sort;
  const sign = dir === 'asc' ? 1 : -1;
  const keyed = runs.map((run, i) => ({ run, i, key: sortKey(run, column, data, epoch) }));
  keyed.sort((x, y) => {
    if (x.key === undefined || y.key === undefined) {
      if (x.key === y.key) return x.i - y.i;
      return x.key === undefined ? 1 : -1;
    }
    return sign * compareKeys(x.key, y.key) || x.i - y.i;
  });
  return keyed.map((k) => k.run);
}

/** Whether a run passes the view's filters. */
export function passes(
  run: RunSummary,
  view: RunsView,
  data: TableData,
  epoch: number | null,
): boolean {
  if (view.status && run.status !== view.status) return false;
  if (view.tag && !run.tags.includes(view.tag)) return false;
  const q = view.search.trim().toLowerCase();
  if (q) {
    const text = [run.name, run.id, run.notes, ...run.tags].join('\n').toLowerCase();
    if (!q.split(/\s+/).every((word) => text.includes(word))) return false;
  }
  if (view.range) {
    const cell = metricCell(data, run.id, view.range.metric, epoch);
    if (!cell) return false;
    const v = pct(cell.mean);
    if (view.range.min !== null && v < view.range.min) return false;
    if (view.range.max !== null && v > view.range.max) return false;
  }
  return true;
}

/** The rows the table shows: filtered, then sorted. */
export function visibleRuns(
  runs: readonly RunSummary[],
  view: RunsView,
  data: TableData,
  epoch: number | null,
): RunSummary[] {
  return sortRuns(
    runs.filter((r) => passes(r, view, data, epoch)),
    view,
    data,
    epoch,
  );
}

/** Every tag in use, most used first, then by name. */
export function allTags(runs: readonly RunSummary[]): string[] {
  const n = new Map<string, number>();
  for (const r of runs) for (const t of r.tags) n.set(t, (n.get(t) ?? 0) + 1);
  return [...n].sort((a, b) => b[1] - a[1] || collator.compare(a[0], b[0])).map(([t]) => t);
}

/** Next sort after clicking a column header: the same column flips, a new one starts ascending. */
export function nextSort(view: RunsView, column: string): RunsView['sort'] {
  if (view.sort.column === column) {
    return { column, dir: view.sort.dir === 'asc' ? 'desc' : 'asc' };
  }
  return { column, dir: 'asc' };
}
