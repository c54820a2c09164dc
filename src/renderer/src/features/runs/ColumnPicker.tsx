/**
 * The runs table's column picker: config fields of any node (filterable, there can be many) and
 * the accuracy metrics as columns, and the fine-tuning epoch the metric columns show.
 */
import { useState } from 'react';
import type { RunsView, TableData } from './runs-table.ts';

export interface ColumnPickerProps {
  readonly data: TableData;
  readonly view: RunsView;
  /** The epoch the metric columns show now. */
  readonly epoch: number | null;
  readonly onView: (patch: Partial<RunsView>) => void;
  readonly onClose: () => void;
}

const toggled = (list: readonly string[], key: string) =>
  list.includes(key) ? list.filter((k) => k !== key) : [...list, key];

export function ColumnPicker({ data, view, epoch, onView, onClose }: ColumnPickerProps) {
  const [filter, setFilter] = useState('');
  const q = filter.trim().toLowerCase();
  const fields = data.fields.filter((f) => !q || f.toLowerCase().includes(q));
  return (
    <div
      className="runs-picker"
      role="dialog"
      aria-label="Choose columns"
      data-testid="runs-picker"
    >
      <section>
        <h4>
          Config fields <span className="muted">({view.fields.length} shown)</span>
        </h4>
        <input
          type="search"
          placeholder="filter fields, e.g. epochs"
          aria-label="filter config fields"
          value={filter}
          onChange={(e) => setFilter(e.target.value)}
        />
        <div className="runs-picker-list">
          {fields.map((f) => (
            <label key={f} className="mono">
              <input
                type="checkbox"
                checked={view.fields.includes(f)}
                onChange={() => onView({ fields: toggled(view.fields, f) })}
                data-testid={`pick-field-${f}`}
              />
              {f}
            </label>
          ))}
          {fields.length === 0 && (
            <span className="muted">
              {data.fields.length ? 'No field matches.' : 'No runs with config fields yet.'}
            </span>
          )}
        </div>
      </section>
      <section>
        <h4>Metrics: accuracy mean ± std over tasks (%)</h4>
        <div className="runs-picker-list">
          {data.metricColumns.map((m) => (
            <label key={m.key}>
              <input
                type="checkbox"
                checked={view.metrics.includes(m.key)}
                onChange={() => onView({ metrics: toggled(view.metrics, m.key) })}
                data-testid={`pick-metric-${m.key}`}
              />
              {m.split ? `${m.split} · ${m.method}` : m.method}
            </label>
          ))}
          {data.metricColumns.length === 0 && (
            <span className="muted">No run has recorded accuracy yet.</span>
          )}
        </div>
        {data.epochs.length > 0 && (
          <label className="runs-picker-epoch">
            at fine-tuning epoch{' '}
            <select
              value={epoch ?? ''}
              onChange={(e) => onView({ epoch: Number(e.target.value) })}
              data-testid="pick-epoch"
            >
              {data.epochs.map((x) => (
                <option key={x} value={x}>
                  {x}
                  {x === data.epochs[data.epochs.length - 1] ? ' (last)' : ''}
                </option>
              ))}
            </select>
          </label>
        )}
      </section>
      <button type="button" className="small" onClick={onClose}>
        Done
      </button>
    </div>
  );
}
