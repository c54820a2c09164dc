/** Runs list: status, duration, seed, backend; multi-select to compare, delete, re-run, export. */
import type { RunSummary } from '../../../../shared/ipc.ts';

export interface RunsPanelProps {
  readonly runs: readonly RunSummary[];
  readonly selected: ReadonlySet<string>;
  readonly onToggle: (runId: string) => void;
  readonly onCompare: () => void;
  readonly onDelete: () => void;
  readonly onRerun: () => void;
  readonly onExport: () => void;
  readonly onOpen: (runId: string) => void;
}

const fmtDuration = (ms: number | null) =>
  ms === null
    ? '—'
    : ms < 1000
      ? `${ms} ms`
      : ms < 60_000
        ? `${(ms / 1000).toFixed(1)} s`
        : `${Math.floor(ms / 60_000)} m ${Math.round((ms % 60_000) / 1000)} s`;

export function RunsPanel(p: RunsPanelProps) {
  const n = p.selected.size;
  return (
    <div className="runs" data-testid="runs">
      <div className="toolbar small-bar">
        <span className="muted">
          {p.runs.length} runs · {n} selected
        </span>
        <span className="spacer" />
        <button type="button" disabled={n === 0} onClick={p.onCompare} data-testid="compare">
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
      <table>
        <thead>
          <tr>
            <th />
            <th>Status</th>
            <th>Name</th>
            <th>Run</th>
            <th>Started</th>
            <th>Duration</th>
            <th>Seed</th>
            <th>Backend</th>
          </tr>
        </thead>
        <tbody>
          {p.runs.map((r) => (
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
                <span className={`badge badge-${r.status === 'failed' ? 'error' : r.status}`}>
                  {r.status}
                </span>
              </td>
              <td>{r.name}</td>
              <td className="mono">{r.id}</td>
              <td>{new Date(r.startedAt).toLocaleString()}</td>
              <td>{fmtDuration(r.durationMs)}</td>
              <td className="mono">{r.seed}</td>
              <td>{r.backend || '—'}</td>
            </tr>
          ))}
          {p.runs.length === 0 && (
            <tr>
              <td colSpan={8} className="muted">
                No runs yet.
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}
