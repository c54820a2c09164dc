/**
 * The sweep dialog: pick config fields of any node and their values (a grid of lists, or a
 * seeded random draw of lists and ranges), see the number of runs and the time estimated from
 * earlier runs of the same nodes, and start the sweep. Values use the CLI's `--set` syntax:
 * `a,b,c`, and for random sweeps `LO..HI`, `LO..HI:log`, `LO..HI:int`.
 */
import { useEffect, useMemo, useState } from 'react';
import type { SweepPreview } from '../../../../shared/ipc.ts';
import type { AppSettings } from '../../../../shared/settings.ts';
import { parseSweepValues, showSweepValue, type SweepSpec } from '../../../../shared/sweeps.ts';
import { useSpecs } from '../../lib/context.ts';
import { errMsg } from '../../lib/errors.ts';
import { useDocument } from '../document/use-document.ts';
import { sweepableFields } from './fields.ts';
import type { SweepActions } from './sweep-actions.ts';

interface Row {
  readonly path: string;
  readonly text: string;
}

export interface SweepDialogProps {
  /** The field to start with (the inspector's Sweep…), if any. */
  readonly field: string | null;
  readonly actions: Pick<SweepActions, 'preview' | 'start'> &
    Partial<Pick<SweepActions, 'settings' | 'saveSettings'>>;
  readonly onClose: () => void;
}

/** Points listed in the dialog before "… and N more". */
const SHOWN_POINTS = 8;

/** The spec the form describes, or the first problem with it. */
function specOf(
  rows: readonly Row[],
  mode: 'grid' | 'random',
  count: number,
  seed: number,
): SweepSpec | string {
  const filled = rows.filter((r) => r.path.trim() !== '');
  if (filled.length === 0) return 'Choose a field to sweep.';
  try {
    const params = filled.map((r) => parseSweepValues(r.path.trim(), r.text));
    return mode === 'grid' ? { mode, params } : { mode, params, count, seed };
  } catch (e) {
    return errMsg(e);
  }
}

export function SweepDialog({ field, actions, onClose }: SweepDialogProps) {
  const specs = useSpecs();
  const nodes = useDocument((s) => s.nodes);
  const fields = useMemo(
    () =>
      sweepableFields(
        nodes.map((n) => ({ id: n.id, type: n.data.type })),
        specs,
      ),
    [nodes, specs],
  );
  const [rows, setRows] = useState<readonly Row[]>([{ path: field ?? '', text: '' }]);
  const [mode, setMode] = useState<'grid' | 'random'>('grid');
  const [count, setCount] = useState(8);
  const [seed, setSeed] = useState(0);
  const [answer, setAnswer] = useState<{
    readonly spec: SweepSpec;
    readonly preview: SweepPreview | null;
    readonly error: string | null;
  } | null>(null);
  const [busy, setBusy] = useState(false);
  // Where the sweep runs: the app's settings' queue ('' in process); null until loaded.
  const [settings, setSettings] = useState<AppSettings | null>(null);
  const [queue, setQueue] = useState('');
  const [queueError, setQueueError] = useState<string | null>(null);
  useEffect(() => {
    let alive = true;
    actions.settings?.().then(
      (s) => {
        if (!alive) return;
        setSettings(s);
        setQueue(s.sweepQueue ?? '');
      },
      (e: unknown) => alive && setQueueError(errMsg(e)),
    );
    return () => {
      alive = false;
    };
  }, [actions]);
  const spec = useMemo(() => specOf(rows, mode, count, seed), [rows, mode, count, seed]);
  // The server's answer for the spec on screen; a form problem needs no round trip.
  const current = typeof spec !== 'string' && answer?.spec === spec ? answer : null;
  const preview = current?.preview ?? null;
  const error = typeof spec === 'string' ? spec : (current?.error ?? null);

  useEffect(() => {
    if (typeof spec === 'string') return;
    let alive = true;
    const timer = setTimeout(() => {
      actions.preview(spec).then(
        (p) => {
          if (alive) setAnswer({ spec, preview: p, error: null });
        },
        (e: unknown) => {
          if (alive) setAnswer({ spec, preview: null, error: errMsg(e) });
        },
      );
    }, 250);
    return () => {
      alive = false;
      clearTimeout(timer);
    };
  }, [spec, actions]);

  const edit = (i: number, patch: Partial<Row>) =>
    setRows(rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  const start = async () => {
    if (typeof spec === 'string') return;
    setBusy(true);
    if (settings && actions.saveSettings && queue.trim() !== (settings.sweepQueue ?? '')) {
      try {
        const { sweepQueue: _q, ...rest } = settings;
        setSettings(await actions.saveSettings({ ...rest, sweepQueue: queue.trim() }));
        setQueueError(null);
      } catch (e) {
        setQueueError(errMsg(e));
        setBusy(false);
        return;
      }
    }
    const ok = await actions.start(spec);
    setBusy(false);
    if (ok) onClose();
  };

  return (
    <div className="modal-backdrop" role="dialog" aria-modal="true" aria-label="Sweep">
      <div className="modal sweep-dialog" data-testid="sweep-dialog">
        <header>
          <h2>Sweep</h2>
          <span className="muted small">one run per point, as a group</span>
        </header>
        <div className="sweep-mode" role="radiogroup" aria-label="Sweep kind">
          <label>
            <input
              type="radio"
              name="sweep-mode"
              checked={mode === 'grid'}
              onChange={() => setMode('grid')}
              data-testid="sweep-mode-grid"
            />
            Grid: every combination
          </label>
          <label>
            <input
              type="radio"
              name="sweep-mode"
              checked={mode === 'random'}
              onChange={() => setMode('random')}
              data-testid="sweep-mode-random"
            />
            Random
          </label>
          {mode === 'random' && (
            <>
              <label>
                points
                <input
                  type="number"
                  min={1}
                  value={count}
                  onChange={(e) => setCount(Math.max(1, Math.floor(Number(e.target.value)) || 1))}
                  data-testid="sweep-count"
                />
              </label>
              <label>
                draw seed
                <input
                  type="number"
                  min={0}
                  value={seed}
                  onChange={(e) => setSeed(Math.max(0, Math.floor(Number(e.target.value)) || 0))}
                />
              </label>
            </>
          )}
        </div>
        <datalist id="sweep-fields">
          {fields.map((f) => (
            <option key={f} value={f} />
          ))}
        </datalist>
        <table className="sweep-fields">
          <thead>
            <tr>
              <th>Field (node.field)</th>
              <th>Values</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {rows.map((r, i) => (
              <tr key={i} data-testid="sweep-row">
                <td>
                  <input
                    list="sweep-fields"
                    value={r.path}
                    placeholder="tasks.k"
                    onChange={(e) => edit(i, { path: e.target.value })}
                    aria-label="Swept field"
                    data-testid="sweep-path"
                  />
                </td>
                <td>
                  <input
                    value={r.text}
                    placeholder={mode === 'grid' ? '3,5,7' : '3,5,7 or 1e-4..1e-2:log'}
                    onChange={(e) => edit(i, { text: e.target.value })}
                    aria-label="Values"
                    data-testid="sweep-values"
                  />
                </td>
                <td>
                  <button
                    type="button"
                    aria-label="Remove field"
                    disabled={rows.length === 1}
                    onClick={() => setRows(rows.filter((_, j) => j !== i))}
                  >
                    ✕
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <button
          type="button"
          onClick={() => setRows([...rows, { path: '', text: '' }])}
          data-testid="sweep-add"
        >
          + Field
        </button>
        {error ? (
          <div className="alert error" data-testid="sweep-error">
            {error}
          </div>
        ) : preview ? (
          <div className="sweep-preview">
            <div className="sweep-summary" data-testid="sweep-summary">
              <strong>{preview.points} runs</strong> · estimate {preview.estimate}
            </div>
            <table className="sweep-points" data-testid="sweep-points">
              <thead>
                <tr>
                  <th>#</th>
                  {preview.paths.map((p) => (
                    <th key={p}>{p}</th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {preview.values.slice(0, SHOWN_POINTS).map((v, i) => (
                  <tr key={i}>
                    <td className="muted">{i}</td>
                    {preview.paths.map((p) => (
                      <td key={p} className="mono">
                        {showSweepValue(v[p])}
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
            {preview.values.length > SHOWN_POINTS && (
              <div className="muted small">… and {preview.values.length - SHOWN_POINTS} more</div>
            )}
          </div>
        ) : (
          <div className="muted small">Checking…</div>
        )}
        {settings && (
          <label className="sweep-queue">
            Run on queue
            <input
              value={queue}
              placeholder="in process (or redis://HOST:PORT of d2nwg workers)"
              onChange={(e) => setQueue(e.target.value)}
              aria-label="Sweep queue"
              data-testid="sweep-queue"
            />
          </label>
        )}
        {queueError && (
          <div className="alert error" data-testid="sweep-queue-error">
            {queueError}
          </div>
        )}
        <footer>
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button
            type="button"
            className="primary"
            disabled={busy || preview === null || error !== null}
            onClick={() => void start()}
            data-testid="sweep-start"
          >
            ▶ Start {preview ? `${preview.points} runs` : 'sweep'}
          </button>
        </footer>
      </div>
    </div>
  );
}
