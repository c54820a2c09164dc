/**
 * The sweeps above the runs list: each group with its fields, progress and status, and Compare
 * (its runs in the comparison view), Cancel while it runs, Resume when points are left.
 */
import type { SweepSummary } from '../../../../shared/ipc.ts';

export interface SweepsListProps {
  readonly sweeps: readonly SweepSummary[];
  readonly onCompare: (runIds: readonly string[]) => void;
  readonly onCancel: (sweepId: string) => void;
  readonly onResume: (sweepId: string) => void;
}

export function SweepsList({ sweeps, onCompare, onCancel, onResume }: SweepsListProps) {
  if (sweeps.length === 0) return null;
  return (
    <div className="sweeps" data-testid="sweeps">
      <table>
        <thead>
          <tr>
            <th>Sweep</th>
            <th>Status</th>
            <th>Fields</th>
            <th>Points</th>
            <th>Seed</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {sweeps.map((s) => (
            <tr key={s.id} data-testid={`sweep-${s.id}`} data-status={s.status}>
              <td title={s.id}>
                {s.name} <span className="muted mono small">{s.id}</span>
              </td>
              <td>
                <span className={`badge badge-${s.status === 'failed' ? 'error' : s.status}`}>
                  {s.status}
                </span>
                {s.executor && (
                  <div className="muted small" data-testid="sweep-executor">
                    {s.executor}
                  </div>
                )}
              </td>
              <td className="mono">{s.paths.join(', ')}</td>
              <td data-testid="sweep-progress">
                {s.done}/{s.points}
                {s.failed > 0 && <span className="muted"> ({s.failed} failed)</span>}
              </td>
              <td className="mono">{s.seed}</td>
              <td className="actions">
                <button
                  type="button"
                  disabled={s.runIds.length === 0}
                  onClick={() => onCompare(s.runIds)}
                  data-testid="sweep-compare"
                >
                  Compare
                </button>
                {s.status === 'running' && (
                  <button type="button" className="danger" onClick={() => onCancel(s.id)}>
                    Cancel
                  </button>
                )}
                {s.resumable && (
                  <button type="button" onClick={() => onResume(s.id)} data-testid="sweep-resume">
                    Resume
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
