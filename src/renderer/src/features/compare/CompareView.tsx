/**
 * The comparison view of the runs selected for comparison: what each run changed against the
 * baseline (config differences only, by node and field, plus seed and backend), a metrics table
 * with one row per run (accuracy mean ± std over tasks per split and method, at a chosen
 * fine-tuning epoch) and one more per config that several seeds repeat (mean ± std across them),
 * parallel coordinates over the differing config fields and the metrics (drag along an axis to
 * brush), and the table as CSV or JSON.
 */
import { useEffect, useMemo, useState } from 'react';
import type { CompareResult, RunDetail } from '../../../../shared/ipc.ts';
import { useSpecs } from '../../lib/context.ts';
import { errMsg } from '../../lib/errors.ts';
import {
  differingFields,
  fieldValue,
  metricColumns,
  metricEpochs,
  parcoordsData,
  runDiff,
  runLabel,
  runMetrics,
  showCell,
  showValue,
  tableCsv,
  tableJson,
  tableRows,
  withDefaults,
  type DiffEntry,
} from './compare-data.ts';
import { ParallelCoordinates } from './ParallelCoordinates.tsx';

/** Offer text as a file download (Blob + object URL + a clicked anchor). */
export function download(text: string, file: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = file;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export interface CompareViewProps {
  /**
   * The compared runs with their pipelines, in the order they were selected. Config keys a run
   * leaves out count at their spec's default (from the specs in context).
   */
  readonly runs: readonly RunDetail[];
  /** Their metric series (runs.compare). */
  readonly series: CompareResult['series'];
  /** The pinned baseline; the first run when null or not compared. */
  readonly baselineId: string | null;
  readonly onBaseline: (runId: string) => void;
  /** Where exports go (the browser download by default; tests pass their own). */
  readonly save?: (text: string, file: string, type: string) => void;
}

/** Key of a diff row: node and field. */
const diffKey = (d: Pick<DiffEntry, 'nodeId' | 'path'>) => `${d.nodeId}\u0000${d.path}`;

export function CompareView({
  runs: stored,
  series,
  baselineId,
  onBaseline,
  save = download,
}: CompareViewProps) {
  const specs = useSpecs();
  const runs = useMemo(
    () => stored.map((r) => withDefaults(r, (type) => specs.get(type)?.defaults)),
    [stored, specs],
  );
  const baseline = runs.find((r) => r.id === baselineId) ?? runs[0];
  // Baseline first, the others in selection order.
  const ordered = useMemo(
    () => (baseline ? [baseline, ...runs.filter((r) => r.id !== baseline.id)] : []),
    [runs, baseline],
  );
  const others = useMemo(() => ordered.slice(1), [ordered]);
  const diffs = useMemo(
    () => (baseline ? others.map((r) => ({ run: r, entries: runDiff(baseline, r) })) : []),
    [baseline, others],
  );
  const diffRows = useMemo(() => {
    const rows = new Map<string, DiffEntry>();
    for (const d of diffs)
      for (const e of d.entries) if (!rows.has(diffKey(e))) rows.set(diffKey(e), e);
    return [...rows.values()];
  }, [diffs]);
  const fields = useMemo(
    () => (baseline ? differingFields(baseline, others) : []),
    [baseline, others],
  );
  const columns = useMemo(() => metricColumns(series), [series]);
  const epochs = useMemo(() => metricEpochs(series), [series]);
  const metrics = useMemo(() => runMetrics(series), [series]);
  const [epochChoice, setEpoch] = useState<number | null>(null);
  const epoch =
    epochChoice !== null && epochs.includes(epochChoice)
      ? epochChoice
      : (epochs[epochs.length - 1] ?? 0);
  const [hidden, setHidden] = useState<ReadonlySet<string>>(new Set());
  const shownColumns = useMemo(() => columns.filter((c) => !hidden.has(c.key)), [columns, hidden]);
  const rows = useMemo(
    () => tableRows(ordered, fields, shownColumns, metrics, epoch),
    [ordered, fields, shownColumns, metrics, epoch],
  );
  const par = useMemo(
    () => parcoordsData(rows, fields, shownColumns, epoch),
    [rows, fields, shownColumns, epoch],
  );

  if (!baseline) return null;
  const splits =
    new Set(shownColumns.map((c) => c.split)).size > 1 || shownColumns.some((c) => c.split);

  /** A diff cell: the run's value where it differs, '=' where it keeps the baseline's. */
  const diffCell = (run: RunDetail, e: DiffEntry) => {
    if (e.path === '') {
      const has = run.pipeline.nodes.some((n) => n.id === e.nodeId);
      return has ? <span>present</span> : <span className="diff-removed">absent</span>;
    }
    const own = diffs
      .find((d) => d.run.id === run.id)
      ?.entries.find((x) => diffKey(x) === diffKey(e));
    if (!own) return <span className="muted">=</span>;
    const field = { key: '', nodeId: e.nodeId, node: e.node, path: e.path };
    return (
      <span className={own.kind === 'removed' ? 'diff-removed' : 'diff-changed'}>
        {showValue(fieldValue(run, field))}
      </span>
    );
  };
  const baseCell = (e: DiffEntry) => {
    if (e.path === '')
      return e.kind === 'added' ? (
        <span className="diff-removed">absent</span>
      ) : (
        <span>present</span>
      );
    return showValue(
      fieldValue(baseline, { key: '', nodeId: e.nodeId, node: e.node, path: e.path }),
    );
  };
  const file = `comparison-${baseline.id.slice(-6)}-epoch${epoch}`;

  return (
    <div className="compare" data-testid="compare-view">
      <section className="compare-section">
        <h3>
          Config diff against the baseline{' '}
          <select
            className="small"
            aria-label="Baseline run"
            value={baseline.id}
            onChange={(e) => onBaseline(e.target.value)}
            data-testid="compare-baseline"
          >
            {ordered.map((r) => (
              <option key={r.id} value={r.id}>
                {runLabel(r)}
              </option>
            ))}
          </select>
        </h3>
        {others.length === 0 ? (
          <p className="muted small">Select two or more runs to see what they change.</p>
        ) : diffRows.length === 0 ? (
          <p className="muted small" data-testid="compare-diff-none">
            The runs share the baseline&apos;s config, seed and backend.
          </p>
        ) : (
          <table className="compare-table" data-testid="compare-diff">
            <thead>
              <tr>
                <th>Node</th>
                <th>Field</th>
                <th>
                  {runLabel(baseline)} <span className="badge">baseline</span>
                </th>
                {others.map((r) => (
                  <th key={r.id}>{runLabel(r)}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {diffRows.map((e) => (
                <tr
                  key={diffKey(e)}
                  data-testid="compare-diff-row"
                  data-field={e.nodeId ? `${e.nodeId}.${e.path}` : e.path}
                >
                  <td>
                    {e.nodeId ? (
                      <>
                        {e.node} <span className="muted mono">{e.nodeId}</span>
                      </>
                    ) : (
                      <span className="muted">run</span>
                    )}
                  </td>
                  <td className="mono">
                    {e.path || (e.kind === 'added' ? '(node added)' : '(node removed)')}
                  </td>
                  <td className="mono">{baseCell(e)}</td>
                  {others.map((r) => (
                    <td key={r.id} className="mono">
                      {diffCell(r, e)}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      <section className="compare-section">
        <h3>
          Accuracy per run{splits ? ', split' : ''} and method (% · mean ± std over tasks)
          <span className="spacer" />
          {epochs.length > 0 && (
            <label className="small">
              fine-tuning epoch{' '}
              <select
                className="small"
                value={epoch}
                onChange={(e) => setEpoch(Number(e.target.value))}
                data-testid="compare-epoch"
              >
                {epochs.map((x) => (
                  <option key={x} value={x}>
                    {x}
                  </option>
                ))}
              </select>
            </label>
          )}
          <button
            type="button"
            className="small"
            disabled={rows.length === 0}
            onClick={() =>
              save(tableCsv(rows, fields, shownColumns, epoch), `${file}.csv`, 'text/csv')
            }
            data-testid="compare-csv"
          >
            CSV
          </button>
          <button
            type="button"
            className="small"
            disabled={rows.length === 0}
            onClick={() =>
              save(tableJson(rows, fields, shownColumns, epoch), `${file}.json`, 'application/json')
            }
            data-testid="compare-json"
          >
            JSON
          </button>
        </h3>
        {columns.length > 1 && (
          <div className="compare-columns small" aria-label="Metric columns">
            {columns.map((c) => (
              <label key={c.key}>
                <input
                  type="checkbox"
                  checked={!hidden.has(c.key)}
                  onChange={() =>
                    setHidden((h) => {
                      const n = new Set(h);
                      if (n.has(c.key)) n.delete(c.key);
                      else n.add(c.key);
                      return n;
                    })
                  }
                />
                {c.key}
              </label>
            ))}
          </div>
        )}
        {columns.length === 0 ? (
          <p className="muted small" data-testid="compare-metrics-empty">
            No <code>accuracy/&lt;method&gt;</code> metrics in these runs: compare runs with an
            evaluation node.
          </p>
        ) : (
          <table className="compare-table" data-testid="compare-metrics">
            <thead>
              <tr>
                <th>Run</th>
                <th>Seed</th>
                {fields
                  .filter((f) => f.nodeId !== '')
                  .map((f) => (
                    <th key={f.key} className="mono" title={`${f.node} · ${f.path}`}>
                      {f.nodeId}.{f.path}
                    </th>
                  ))}
                {shownColumns.map((c) => (
                  <th key={c.key}>{c.key}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr
                  key={r.id}
                  className={r.aggregate ? 'aggregate' : undefined}
                  data-testid={r.aggregate ? 'compare-aggregate-row' : 'compare-metrics-row'}
                  data-run={r.runIds.join(' ')}
                >
                  <td>
                    {r.label}
                    {r.runIds[0] === baseline.id && !r.aggregate && (
                      <span className="badge"> baseline</span>
                    )}
                  </td>
                  <td className="mono">{r.seeds.join(', ')}</td>
                  {fields
                    .filter((f) => f.nodeId !== '')
                    .map((f) => (
                      <td key={f.key} className="mono">
                        {showValue(r.fields.get(f.key))}
                      </td>
                    ))}
                  {shownColumns.map((c) => (
                    <td key={c.key} className="mono num">
                      {showCell(r.cells.get(c.key))}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      <section className="compare-section compare-parcoords">
        {par ? (
          <ParallelCoordinates data={par} title={`Config fields and accuracy at epoch ${epoch}`} />
        ) : (
          <p className="muted small">Parallel coordinates need a differing field or a metric.</p>
        )}
      </section>
    </div>
  );
}

export interface ComparePanelProps {
  /** The last comparison (runs.compare); null before Compare. */
  readonly compare: CompareResult | null;
  readonly baselineId: string | null;
  readonly onBaseline: (runId: string) => void;
  /** The compared runs with their pipelines (runs.get). */
  readonly details: (runIds: readonly string[]) => Promise<RunDetail[]>;
}

/** The comparison view of the last Compare, once the runs' pipelines are loaded. */
export function ComparePanel({ compare, baselineId, onBaseline, details }: ComparePanelProps) {
  const [loaded, setLoaded] = useState<
    { key: CompareResult; runs: RunDetail[] } | { key: CompareResult; error: string } | null
  >(null);
  useEffect(() => {
    if (!compare) return;
    let live = true;
    details(compare.runs.map((r) => r.id)).then(
      (runs) => {
        if (live) setLoaded({ key: compare, runs });
      },
      (e: unknown) => {
        if (live) setLoaded({ key: compare, error: errMsg(e) });
      },
    );
    return () => {
      live = false;
    };
  }, [compare, details]);

  if (!compare)
    return (
      <div className="chart-empty" data-testid="compare-empty">
        Select runs in the Runs tab and press Compare: their config differences, metrics and
        parallel coordinates show here.
      </div>
    );
  if (loaded?.key !== compare)
    return <div className="muted small compare-loading">Loading runs…</div>;
  if ('error' in loaded)
    return (
      <div className="alert error" role="alert">
        Could not load the runs: {loaded.error}
      </div>
    );
  return (
    <CompareView
      runs={loaded.runs}
      series={compare.series}
      baselineId={baselineId}
      onBaseline={onBaseline}
    />
  );
}
