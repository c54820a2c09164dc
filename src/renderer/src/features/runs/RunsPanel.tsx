/**
 * The runs table: each run's name (editable; the pipeline's name until renamed), tags, status,
 * start, duration, seed and backend, the config fields and accuracy metrics the user picked as
 * columns, and notes. Sort by any column (click its header), filter by status, tag, text and a
 * metric range; tick runs to compare, delete, re-run or export; pin one as the comparison's
 * baseline.
 */
import { useMemo, useState } from 'react';
import type { RunSummary, RunsTable } from '../../../../shared/ipc.ts';
import { RUN_STATUSES, type RunAnnotation, type RunStatus } from '../../../../shared/runs.ts';
import { ColumnPicker } from './ColumnPicker.tsx';
import { EditableText, TagsCell } from './RunCells.tsx';
import {
  allTags,
  cellText,
  columns,
  nextSort,
  shownEpoch,
  tableData,
  visibleRuns,
  type Column,
  type RunsView,
} from './runs-table.ts';

export interface RunsPanelProps {
  readonly runs: readonly RunSummary[];
  /** Column data (runs.table); null until loaded. */
  readonly table: RunsTable | null;
  readonly view: RunsView;
  readonly onView: (patch: Partial<RunsView>) => void;
  readonly selected: ReadonlySet<string>;
  /** The pinned baseline run, if any. */
  readonly baseline: string | null;
  readonly onBaseline: (runId: string | null) => void;
  readonly onToggle: (runId: string) => void;
  readonly onAnnotate: (runId: string, change: RunAnnotation) => void;
  readonly onCompare: () => void;
  readonly onDelete: () => void;
  readonly onRerun: () => void;
  readonly onExport: () => void;
  readonly onOpen: (runId: string) => void;
}

export const fmtDuration = (ms: number | null) =>
  ms === null
    ? '—'
    : ms < 1000
      ? `${ms} ms`
      : ms < 60_000
        ? `${(ms / 1000).toFixed(1)} s`
        : `${Math.floor(ms / 60_000)} m ${Math.round((ms % 60_000) / 1000)} s`;

/** A number input's value, or null when empty or not a number. */
const bound = (text: string): number | null => {
  if (text.trim() === '') return null;
  const n = Number(text);
  return Number.isFinite(n) ? n : null;
};

export function RunsPanel(p: RunsPanelProps) {
  const { view, onView } = p;
  const [picking, setPicking] = useState(false);
  const data = useMemo(() => tableData(p.table), [p.table]);
  const epoch = shownEpoch(data, view);
  const cols = useMemo(() => columns(view, epoch), [view, epoch]);
  const rows = useMemo(() => visibleRuns(p.runs, view, data, epoch), [p.runs, view, data, epoch]);
  const tags = useMemo(() => allTags(p.runs), [p.runs]);
  const n = p.selected.size;
  const filtered = rows.length !== p.runs.length;
  const filtering = view.search !== '' || view.status !== '' || view.tag !== '' || !!view.range;
  const rangeMetric = view.range?.metric ?? '';

  const cell = (r: RunSummary, c: Column) => {
    switch (c.id) {
      case 'name':
        return (
          <>
            <EditableText
              value={r.name}
              placeholder="(unnamed)"
              label={`rename run ${r.id}`}
              testId={`name-${r.id}`}
              onCommit={(name) => p.onAnnotate(r.id, { name })}
            />
            <span className="run-id mono muted">{r.id}</span>
          </>
        );
      case 'tags':
        return (
          <TagsCell
            runId={r.id}
            tags={r.tags}
            activeTag={view.tag}
            onChange={(next) => p.onAnnotate(r.id, { tags: next })}
            onFilter={(tag) => onView({ tag })}
          />
        );
      case 'notes':
        return (
          <EditableText
            value={r.notes}
            placeholder="add a note"
            label={`notes of run ${r.id}`}
            testId={`notes-${r.id}`}
            onCommit={(notes) => p.onAnnotate(r.id, { notes })}
          />
        );
      case 'status':
        return (
          <span className={`badge badge-${r.status === 'failed' ? 'error' : r.status}`}>
            {r.status}
          </span>
        );
      case 'started':
        return new Date(r.startedAt).toLocaleString();
      case 'duration':
        return fmtDuration(r.durationMs);
      default:
        return cellText(r, c.id, data, epoch);
    }
  };

  return (
    <div className="runs" data-testid="runs">
      <div className="runs-head">
        <div className="toolbar small-bar">
          <span className="muted" data-testid="runs-count">
            {filtered ? `${rows.length} of ${p.runs.length}` : p.runs.length} runs · {n} selected
          </span>
          <span className="spacer" />
          <button
            type="button"
            disabled={n === 0}
            onClick={p.onCompare}
            data-testid="compare"
            title={
              p.baseline
                ? 'compare the ticked runs against the pinned baseline'
                : 'compare the ticked runs'
            }
          >
            Compare
          </button>
          <button type="button" disabled={n !== 1} onClick={p.onRerun}>
            Re-run
          </button>
          <button type="button" disabled={n !== 1} onClick={p.onExport}>
            Export…
          </button>
          <button type="button" className="danger" disabled={n === 0} onClick={p.onDelete}>
            Delete
          </button>
        </div>
        <div className="toolbar small-bar runs-filters">
          <input
            type="search"
            className="runs-search"
            placeholder="Search name, id, tags, notes"
            aria-label="search runs"
            value={view.search}
            onChange={(e) => onView({ search: e.target.value })}
            data-testid="runs-search"
          />
          <select
            aria-label="filter by status"
            value={view.status}
            onChange={(e) => onView({ status: e.target.value as RunStatus | '' })}
            data-testid="runs-status"
          >
            <option value="">any status</option>
            {RUN_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
          <select
            aria-label="filter by tag"
            value={view.tag}
            onChange={(e) => onView({ tag: e.target.value })}
            data-testid="runs-tag"
          >
            <option value="">any tag</option>
            {/* A tag filter set from a chip stays listed even when no run carries it anymore. */}
            {(view.tag && !tags.includes(view.tag) ? [view.tag, ...tags] : tags).map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
          {data.metricColumns.length > 0 && (
            <span className="runs-range">
              <select
                aria-label="filter by metric range"
                value={rangeMetric}
                onChange={(e) =>
                  onView({
                    range: e.target.value
                      ? {
                          metric: e.target.value,
                          min: view.range?.min ?? null,
                          max: view.range?.max ?? null,
                        }
                      : null,
                  })
                }
                data-testid="runs-range-metric"
              >
                <option value="">any accuracy</option>
                {data.metricColumns.map((m) => (
                  <option key={m.key} value={m.key}>
                    {m.key}
                  </option>
                ))}
              </select>
              {view.range && (
                <>
                  <input
                    type="number"
                    aria-label="lowest accuracy (%)"
                    placeholder="min %"
                    value={view.range.min ?? ''}
                    onChange={(e) =>
                      view.range && onView({ range: { ...view.range, min: bound(e.target.value) } })
                    }
                    data-testid="runs-range-min"
                  />
                  <span className="muted">–</span>
                  <input
                    type="number"
                    aria-label="highest accuracy (%)"
                    placeholder="max %"
                    value={view.range.max ?? ''}
                    onChange={(e) =>
                      view.range && onView({ range: { ...view.range, max: bound(e.target.value) } })
                    }
                    data-testid="runs-range-max"
                  />
                </>
              )}
            </span>
          )}
          {filtering && (
            <button
              type="button"
              className="small"
              onClick={() => onView({ search: '', status: '', tag: '', range: null })}
              data-testid="runs-clear-filters"
            >
              Clear filters
            </button>
          )}
          <span className="spacer" />
          <button
            type="button"
            className={picking ? 'active' : undefined}
            onClick={() => setPicking((x) => !x)}
            data-testid="runs-columns"
          >
            Columns…
          </button>
        </div>
        {picking && (
          <ColumnPicker
            data={data}
            view={view}
            epoch={epoch}
            onView={onView}
            onClose={() => setPicking(false)}
          />
        )}
      </div>
      <table className="runs-table">
        <thead>
          <tr>
            <th aria-label="select" />
            <th aria-label="baseline" title="the comparison's baseline" />
            {cols.map((c) => {
              const sorted = view.sort.column === c.id;
              return (
                <th
                  key={c.id}
                  className={c.numeric ? 'num' : undefined}
                  aria-sort={
                    sorted ? (view.sort.dir === 'asc' ? 'ascending' : 'descending') : undefined
                  }
                >
                  <button
                    type="button"
                    className={`sort${sorted ? ' sorted' : ''}`}
                    onClick={() => onView({ sort: nextSort(view, c.id) })}
                    data-testid={`sort-${c.id}`}
                  >
                    {c.label}
                    <span className="sort-mark">
                      {sorted ? (view.sort.dir === 'asc' ? '▲' : '▼') : ''}
                    </span>
                  </button>
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => {
            const pinned = p.baseline === r.id;
            return (
              <tr
                key={r.id}
                className={p.selected.has(r.id) ? 'selected' : undefined}
                data-testid={`run-${r.id}`}
                onDoubleClick={() => p.onOpen(r.id)}
                title={r.error ?? 'double-click: open its pipeline'}
              >
                <td>
                  <input
                    type="checkbox"
                    checked={p.selected.has(r.id)}
                    onChange={() => p.onToggle(r.id)}
                    aria-label={`select run ${r.id}`}
                  />
                </td>
                <td>
                  <button
                    type="button"
                    className={`pin${pinned ? ' pinned' : ''}`}
                    aria-pressed={pinned}
                    aria-label={pinned ? `unpin baseline ${r.id}` : `pin run ${r.id} as baseline`}
                    title={
                      pinned ? 'the baseline of comparisons (click to unpin)' : 'pin as baseline'
                    }
                    onClick={() => p.onBaseline(pinned ? null : r.id)}
                    onDoubleClick={(e) => e.stopPropagation()}
                    data-testid={`pin-${r.id}`}
                  >
                    {pinned ? '★' : '☆'}
                  </button>
                </td>
                {cols.map((c) => (
                  <td
                    key={c.id}
                    className={
                      [c.numeric ? 'num' : '', c.id === 'notes' ? 'notes' : '']
                        .filter(Boolean)
                        .join(' ') || undefined
                    }
                    data-col={c.id}
                  >
                    {cell(r, c)}
                  </td>
                ))}
              </tr>
            );
          })}
          {rows.length === 0 && (
            <tr>
              <td colSpan={cols.length + 2} className="muted">
                {p.runs.length === 0 ? 'No runs yet.' : 'No run matches the filters.'}
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}
