/**
 * What the comparison view shows, as pure functions of the compared runs (no React, no DOM): the
 * config diff of each run against the baseline, the metrics table (accuracy mean ± std over
 * tasks per run, (split, method) and epoch), runs that repeat a config with other seeds folded
 * into mean ± std across them, the parallel-coordinates axes and brushing, and the table as CSV
 * and JSON.
 */
import type { MetricSeries, RunDetail, RunSummary } from '../../../../shared/ipc.ts';
import type { Pipeline } from '../../../../shared/pipeline.ts';
import { TASK_SPLITS } from '../../../../shared/nodes/eval-finetune.ts';
import { accuracyKeyTail, parseAccuracyKeyTail } from '../../../../shared/schemas/accuracy.ts';
import { dedupeSeries } from '../../panels/chart-data.ts';
import { meanStd } from '../../../../shared/stats.ts';

/* ------------------------------------------------------------------------------------------ */
/* Config diff                                                                                 */

/** One difference of a run from the baseline. */
export interface DiffEntry {
  /** Node id, or '' for a run-level field (seed, backend). */
  readonly nodeId: string;
  /** The node's title (its own label, else its type), or 'run'. */
  readonly node: string;
  /** Field path inside the node's config ('vae.epochs', 'lr'), or the run field; '' for a node. */
  readonly path: string;
  readonly kind: 'changed' | 'added' | 'removed';
  /** The baseline's value (absent when added). */
  readonly base?: unknown;
  /** This run's value (absent when removed). */
  readonly value?: unknown;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Equal as JSON values (objects key by key, whatever the key order). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  if (isRecord(a) && isRecord(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => k in b && jsonEqual(a[k], b[k]));
  }
  return typeof a === 'number' && typeof b === 'number' && Number.isNaN(a) && Number.isNaN(b);
}

/**
 * The leaf differences of two configs by field path: objects are walked key by key, arrays and
 * scalars compare whole (a list of hidden sizes is one value).
 */
export function diffConfig(
  base: unknown,
  other: unknown,
  path = '',
): { path: string; kind: DiffEntry['kind']; base?: unknown; value?: unknown }[] {
  if (isRecord(base) && isRecord(other)) {
    const keys = [...new Set([...Object.keys(base), ...Object.keys(other)])].sort();
    return keys.flatMap((k) => {
      const p = path ? `${path}.${k}` : k;
      if (!(k in other) || other[k] === undefined)
        return base[k] === undefined ? [] : [{ path: p, kind: 'removed' as const, base: base[k] }];
      if (!(k in base) || base[k] === undefined)
        return [{ path: p, kind: 'added' as const, value: other[k] }];
      return diffConfig(base[k], other[k], p);
    });
  }
  return jsonEqual(base, other) ? [] : [{ path, kind: 'changed', base, value: other }];
}

/**
 * A run with each node's config as it ran: the keys the stored config leaves out take their
 * spec's defaults (a node from an example may store `{}`), so a field set in one run and left
 * at its default in the other shows both values. Only top-level keys are filled; a node type
 * without a known spec keeps its stored config.
 */
export function withDefaults(run: RunDetail, defaultsOf: (type: string) => unknown): RunDetail {
  const nodes = run.pipeline.nodes.map((n) => {
    const d = defaultsOf(n.type);
    if (!isRecord(d) || !isRecord(n.config)) return n;
    const config: Record<string, unknown> = { ...d };
    for (const [k, v] of Object.entries(n.config)) if (v !== undefined) config[k] = v;
    return { ...n, config };
  });
  return { ...run, pipeline: { ...run.pipeline, nodes } };
}

/** A node's label in the diff: its own title, else its type. */
const nodeLabel = (n: Pipeline['nodes'][number]) => n.title ?? n.type;

/**
 * How a run differs from the baseline: nodes added or removed (by id), a node whose type
 * changed, each config field that differs (by node and field path), then seed and backend.
 * Positions, titles and the pipeline's name are not part of the config and never show.
 */
export function runDiff(
  baseline: Pick<RunDetail, 'pipeline' | 'seed' | 'backend'>,
  run: Pick<RunDetail, 'pipeline' | 'seed' | 'backend'>,
): DiffEntry[] {
  const out: DiffEntry[] = [];
  const baseNodes = new Map(baseline.pipeline.nodes.map((n) => [n.id, n]));
  const runNodes = new Map(run.pipeline.nodes.map((n) => [n.id, n]));
  for (const b of baseline.pipeline.nodes) {
    const r = runNodes.get(b.id);
    if (!r) {
      out.push({ nodeId: b.id, node: nodeLabel(b), path: '', kind: 'removed', base: b.type });
      continue;
    }
    if (r.type !== b.type) {
      out.push({
        nodeId: b.id,
        node: nodeLabel(r),
        path: '(type)',
        kind: 'changed',
        base: b.type,
        value: r.type,
      });
      continue;
    }
    for (const d of diffConfig(b.config, r.config))
      out.push({ nodeId: b.id, node: nodeLabel(r), ...d });
  }
  for (const r of run.pipeline.nodes)
    if (!baseNodes.has(r.id))
      out.push({ nodeId: r.id, node: nodeLabel(r), path: '', kind: 'added', value: r.type });
  if (run.seed !== baseline.seed)
    out.push({
      nodeId: '',
      node: 'run',
      path: 'seed',
      kind: 'changed',
      base: baseline.seed,
      value: run.seed,
    });
  if (run.backend !== baseline.backend)
    out.push({
      nodeId: '',
      node: 'run',
      path: 'backend',
      kind: 'changed',
      base: baseline.backend,
      value: run.backend,
    });
  return out;
}

/** A config field that differs in some compared run: the key the table and plot use. */
export interface ConfigField {
  /** `<node id>.<path>`, or `seed` / `backend`. */
  readonly key: string;
  readonly nodeId: string;
  readonly node: string;
  readonly path: string;
}

/** Value of a field path in a config (undefined when absent). */
function at(config: unknown, path: string): unknown {
  let v: unknown = config;
  for (const k of path.split('.')) {
    if (!isRecord(v)) return undefined;
    v = v[k];
  }
  return v;
}

/** The value a run has for a differing field (undefined: the run lacks that node or field). */
export function fieldValue(run: RunDetail, f: ConfigField): unknown {
  if (f.nodeId === '') return f.path === 'seed' ? run.seed : run.backend;
  const n = run.pipeline.nodes.find((x) => x.id === f.nodeId);
  if (!n) return undefined;
  return f.path === '(type)' ? n.type : at(n.config, f.path);
}

/** The config fields that differ from the baseline in any run (node-level add/remove excluded). */
export function differingFields(baseline: RunDetail, runs: readonly RunDetail[]): ConfigField[] {
  const out = new Map<string, ConfigField>();
  for (const r of runs) {
    for (const d of runDiff(baseline, r)) {
      if (d.path === '') continue;
      const key = d.nodeId ? `${d.nodeId}.${d.path}` : d.path;
      if (!out.has(key)) out.set(key, { key, nodeId: d.nodeId, node: d.node, path: d.path });
    }
  }
  return [...out.values()];
}

/** A config value in a cell: JSON for objects and arrays, '—' for none. */
export function showValue(v: unknown): string {
  if (v === undefined) return '—';
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

/* ------------------------------------------------------------------------------------------ */
/* Metrics                                                                                     */

/** A metrics column: accuracy of one method on one split (split '' when the run records none). */
export interface MetricColumn {
  /** `<split>/<method>` or `<method>`, as in the metric keys. */
  readonly key: string;
  readonly split: string;
  readonly method: string;
}

/** Accuracy at one epoch: the mean over tasks and, when recorded, the std over tasks. */
export interface Cell {
  readonly mean: number;
  readonly std: number | null;
}

/** Metrics of one run: cell per column key per epoch. */
export type RunMetrics = ReadonlyMap<string, ReadonlyMap<number, Cell>>;

const ACC = /^accuracy\/(.+)$/;
const STD = /^accuracy_std\/(.+)$/;

const splitRank = (s: string) => {
  const i = (TASK_SPLITS as readonly string[]).indexOf(s);
  return i < 0 ? (s === '' ? -1 : TASK_SPLITS.length) : i;
};

/** The metric columns in the series: splits in TASK_SPLITS order, methods as first seen. */
export function metricColumns(series: readonly MetricSeries[]): MetricColumn[] {
  const cols = new Map<string, MetricColumn>();
  for (const s of series) {
    const m = ACC.exec(s.key);
    if (!m) continue;
    const { split, method } = parseAccuracyKeyTail(m[1]);
    const key = accuracyKeyTail(method, split);
    if (!cols.has(key)) cols.set(key, { key, split: split ?? '', method });
  }
  return [...cols.values()].sort((a, b) => splitRank(a.split) - splitRank(b.split));
}

/** Fine-tuning epochs present in the accuracy series, ascending. */
export function metricEpochs(series: readonly MetricSeries[]): number[] {
  const e = new Set<number>();
  for (const s of series) if (ACC.test(s.key)) for (const x of s.steps) e.add(x);
  return [...e].sort((a, b) => a - b);
}

/**
 * Each run's accuracy cells from its series: the mean from `accuracy/<key>` at each epoch, the
 * std over tasks from `accuracy_std/<key>` of the same node (else of any node of the run). A
 * method that an Evaluate node and the Compare node after it both report counts once (the
 * first node's value).
 */
export function runMetrics(series: readonly MetricSeries[]): Map<string, RunMetrics> {
  const unique = dedupeSeries(series);
  const std = new Map<string, MetricSeries[]>();
  for (const s of unique) {
    const m = STD.exec(s.key);
    if (!m) continue;
    const k = `${s.runId}\u0000${m[1]}`;
    std.set(k, [...(std.get(k) ?? []), s]);
  }
  const out = new Map<string, Map<string, Map<number, Cell>>>();
  for (const s of unique) {
    const m = ACC.exec(s.key);
    if (!m) continue;
    const { split, method } = parseAccuracyKeyTail(m[1]);
    const key = accuracyKeyTail(method, split);
    const stds = std.get(`${s.runId}\u0000${m[1]}`) ?? [];
    const sd = stds.find((t) => t.nodeId === s.nodeId) ?? stds[0];
    const run = out.get(s.runId) ?? new Map<string, Map<number, Cell>>();
    out.set(s.runId, run);
    const cells = run.get(key) ?? new Map<number, Cell>();
    run.set(key, cells);
    s.steps.forEach((epoch, i) => {
      const mean = s.values[i];
      if (cells.has(epoch) || !Number.isFinite(mean)) return;
      const j = sd ? sd.steps.indexOf(epoch) : -1;
      const v = sd && j >= 0 ? sd.values[j] : NaN;
      cells.set(epoch, { mean, std: Number.isFinite(v) ? v : null });
    });
  }
  return out;
}

/** Accuracy in percent (stored as a fraction, or already in percent). */
export const pct = (v: number) => (Math.abs(v) <= 1 ? v * 100 : v);

/** A cell as the table shows it: `mean ± std` in percent, or the mean alone. */
export function showCell(c: Cell | undefined): string {
  if (!c) return '—';
  const scale = Math.abs(c.mean) <= 1 ? 100 : 1;
  const m = (c.mean * scale).toFixed(1);
  return c.std === null ? m : `${m} ± ${(c.std * scale).toFixed(1)}`;
}

/* ------------------------------------------------------------------------------------------ */
/* Table rows and seed aggregation                                                             */

/**
 * The config a run repeats when only its seed differs: node ids, types, versions and configs and
 * the edges, not positions, titles or the pipeline's name.
 */
export function configKey(p: Pipeline): string {
  const canon = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canon)
      : isRecord(v)
        ? Object.fromEntries(
            Object.keys(v)
              .filter((k) => v[k] !== undefined)
              .sort()
              .map((k) => [k, canon(v[k])]),
          )
        : v;
  const nodes = [...p.nodes]
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((n) => [n.id, n.type, n.version, canon(n.config)]);
  const edges = p.edges
    .map((e) => `${e.source}.${e.sourcePort}>${e.target}.${e.targetPort}`)
    .sort();
  return JSON.stringify([nodes, edges]);
}

/** A row of the metrics table: one run, or the runs that repeat one config with other seeds. */
export interface TableRow {
  /** Run id, or `group:<first run id>` for an aggregate. */
  readonly id: string;
  readonly label: string;
  /** The runs behind the row (one for a run row). */
  readonly runIds: readonly string[];
  readonly seeds: readonly number[];
  readonly backend: string;
  readonly aggregate: boolean;
  /** Values of the differing config fields, by field key. */
  readonly fields: ReadonlyMap<string, unknown>;
  /**
   * Cells by metric column key at the chosen epoch. A run row: mean ± std over tasks. An
   * aggregate: mean ± std across its runs of their means over tasks.
   */
  readonly cells: ReadonlyMap<string, Cell>;
}

/** A run's short label: its name and the end of its id. */
export const runLabel = (r: Pick<RunSummary, 'id' | 'name'>) => `${r.name} (${r.id.slice(-6)})`;

/**
 * The table's rows at one epoch: each run in the order given (baseline first), and after the
 * last run of each config that two or more runs share apart from their seeds, one aggregate row.
 */
export function tableRows(
  runs: readonly RunDetail[],
  fields: readonly ConfigField[],
  columns: readonly MetricColumn[],
  metrics: ReadonlyMap<string, RunMetrics>,
  epoch: number,
): TableRow[] {
  const rowOf = (r: RunDetail): TableRow => {
    const cells = new Map<string, Cell>();
    for (const c of columns) {
      const cell = metrics.get(r.id)?.get(c.key)?.get(epoch);
      if (cell) cells.set(c.key, cell);
    }
    return {
      id: r.id,
      label: runLabel(r),
      runIds: [r.id],
      seeds: [r.seed],
      backend: r.backend,
      aggregate: false,
      fields: new Map(fields.map((f) => [f.key, fieldValue(r, f)])),
      cells,
    };
  };
  const groups = new Map<string, RunDetail[]>();
  for (const r of runs) {
    const k = configKey(r.pipeline);
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  const out: TableRow[] = [];
  for (const r of runs) {
    out.push(rowOf(r));
    const group = groups.get(configKey(r.pipeline)) ?? [];
    if (group.length < 2 || group[group.length - 1] !== r) continue;
    const members = group.map(rowOf);
    const cells = new Map<string, Cell>();
    for (const c of columns) {
      const means = members.flatMap((m) => {
        const v = m.cells.get(c.key)?.mean;
        return v === undefined ? [] : [v];
      });
      if (means.length) cells.set(c.key, meanStd(means));
    }
    const seeds = group.map((g) => g.seed);
    const fieldsOf = new Map(
      fields.map((f) => {
        const vs = members.map((m) => m.fields.get(f.key));
        return [f.key, vs.every((v) => jsonEqual(v, vs[0])) ? vs[0] : undefined];
      }),
    );
    out.push({
      id: `group:${group[0].id}`,
      label: `${group[0].name}: mean of ${group.length} seeds`,
      runIds: group.map((g) => g.id),
      seeds,
      backend: [...new Set(group.map((g) => g.backend))].join(', '),
      aggregate: true,
      fields: fieldsOf,
      cells,
    });
  }
  return out;
}

/* ------------------------------------------------------------------------------------------ */
/* Parallel coordinates                                                                        */

/** One axis of the parallel coordinates. */
export interface ParAxis {
  readonly label: string;
  /** One value per line (NaN: the run has none). */
  readonly values: readonly number[];
  /** Labelled positions of a categorical axis (strings, booleans), in order of appearance. */
  readonly ticks?: readonly string[];
}

/** The parallel coordinates' data: axes, one line per run, and the value each line is coloured by. */
export interface ParData {
  readonly axes: readonly ParAxis[];
  readonly lines: readonly { readonly runId: string; readonly label: string }[];
  /** Colour value per line (the last metric axis), or null when no metric shows. */
  readonly colour: readonly number[] | null;
}

/**
 * Parallel coordinates over the run rows: one axis per differing config field whose values are
 * numbers (strings and booleans get an axis of their values in order of appearance), then one
 * per chosen metric column (accuracy in percent at the table's epoch). Lines are coloured by the
 * last metric. Aggregate rows are left out (their runs are drawn). Null when no axis or no run
 * would show.
 */
export function parcoordsData(
  rows: readonly TableRow[],
  fields: readonly ConfigField[],
  columns: readonly MetricColumn[],
  epoch: number,
): ParData | null {
  const runs = rows.filter((r) => !r.aggregate);
  if (runs.length === 0) return null;
  const axes: ParAxis[] = [];
  for (const f of fields) {
    const label = f.nodeId ? `${f.nodeId}.${f.path}` : f.path;
    const vs = runs.map((r) => r.fields.get(f.key));
    if (vs.every((v) => typeof v === 'number' && Number.isFinite(v))) {
      axes.push({ label, values: vs.map(Number) });
    } else if (vs.every((v) => ['string', 'boolean', 'number'].includes(typeof v))) {
      const ticks = [...new Set(vs.map((v) => String(v)))];
      axes.push({ label, values: vs.map((v) => ticks.indexOf(String(v))), ticks });
    }
  }
  let colour: number[] | null = null;
  for (const c of columns) {
    const vs = runs.map((r) => {
      const cell = r.cells.get(c.key);
      return cell ? pct(cell.mean) : NaN;
    });
    if (vs.every((v) => Number.isNaN(v))) continue;
    axes.push({ label: `${c.key} @${epoch} (%)`, values: vs });
    colour = vs;
  }
  if (axes.length === 0) return null;
  return { axes, lines: runs.map((r) => ({ runId: r.id, label: r.label })), colour };
}

/** A brush on an axis: the closed value range it keeps. */
export type Brush = readonly [number, number];

/** Whether line i lies inside every brush (axes without a brush keep every line). */
export function inBrushes(
  axes: readonly ParAxis[],
  brushes: ReadonlyMap<number, Brush>,
  i: number,
): boolean {
  for (const [a, [lo, hi]] of brushes) {
    const v = axes[a]?.values[i];
    if (v === undefined || !(v >= lo && v <= hi)) return false;
  }
  return true;
}

/* ------------------------------------------------------------------------------------------ */
/* Export                                                                                      */

/** A CSV field, quoted when it holds a comma, quote, CR or LF (quotes doubled, RFC 4180). */
export function csvField(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** A number as exported: full precision, empty when missing. */
const num = (v: number | null | undefined) =>
  v === null || v === undefined || !Number.isFinite(v) ? '' : String(v);

/** The config fields the exports list as their own columns (seed and backend have theirs). */
const configOnly = (fields: readonly ConfigField[]) => fields.filter((f) => f.nodeId !== '');

/**
 * The table as CSV (CRLF lines, RFC 4180 quoting): row kind, label, run ids, seeds, backend, the
 * differing config fields, then for each metric column its mean and std (fractions, as stored).
 */
export function tableCsv(
  rows: readonly TableRow[],
  allFields: readonly ConfigField[],
  columns: readonly MetricColumn[],
  epoch: number,
): string {
  const fields = configOnly(allFields);
  const head = [
    'row',
    'label',
    'runs',
    'seeds',
    'backend',
    ...fields.map((f) => f.key),
    ...columns.flatMap((c) => [`${c.key}@${epoch} mean`, `${c.key}@${epoch} std`]),
  ];
  const body = rows.map((r) => [
    r.aggregate ? 'seed aggregate' : 'run',
    r.label,
    r.runIds.join(' '),
    r.seeds.join(' '),
    r.backend,
    ...fields.map((f) => {
      const v = r.fields.get(f.key);
      return v === undefined ? '' : showValue(v);
    }),
    ...columns.flatMap((c) => {
      const cell = r.cells.get(c.key);
      return [num(cell?.mean), num(cell?.std)];
    }),
  ]);
  return [head, ...body].map((line) => line.map(csvField).join(',')).join('\r\n') + '\r\n';
}

/** The table as JSON: the epoch, the fields and columns, and each row with its values. */
export function tableJson(
  rows: readonly TableRow[],
  allFields: readonly ConfigField[],
  columns: readonly MetricColumn[],
  epoch: number,
): string {
  const fields = configOnly(allFields);
  return JSON.stringify(
    {
      epoch,
      fields: fields.map((f) => f.key),
      metrics: columns.map((c) => c.key),
      rows: rows.map((r) => ({
        kind: r.aggregate ? 'seed aggregate' : 'run',
        label: r.label,
        runs: r.runIds,
        seeds: r.seeds,
        backend: r.backend,
        config: Object.fromEntries(fields.map((f) => [f.key, r.fields.get(f.key) ?? null])),
        metrics: Object.fromEntries(
          columns.map((c) => {
            const cell = r.cells.get(c.key);
            return [c.key, cell ? { mean: cell.mean, std: cell.std } : null];
          }),
        ),
      })),
    },
    null,
    2,
  );
}
