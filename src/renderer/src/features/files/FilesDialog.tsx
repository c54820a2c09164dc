/**
 * The pipeline files dialog: the saved pipelines (newest first) to open, rename, export or delete,
 * and Import / Export of JSON files. A refused import shows the API's message (file name and
 * what is wrong) in the dialog and in the log.
 */
import { useCallback, useEffect, useRef, useState, type ChangeEvent } from 'react';
import type { PipelineSummary } from '../../../../shared/ipc.ts';
import { errMsg } from '../../lib/errors.ts';
import type { Log } from '../../lib/log.ts';
import { useDocument } from '../document/use-document.ts';
import type { FileActions } from './file-actions.ts';

export interface FilesDialogProps {
  readonly actions: FileActions;
  readonly log: Log;
  readonly onClose: () => void;
}

/** A saved time as the list shows it: local date and minutes. */
function when(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime())
    ? iso
    : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function FilesDialog({ actions, log, onClose }: FilesDialogProps) {
  const [items, setItems] = useState<readonly PipelineSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const openId = useDocument((s) => s.pipelineId);
  const picker = useRef<HTMLInputElement>(null);

  const refresh = useCallback(() => {
    actions.list().then(setItems, (e: unknown) => setError(errMsg(e)));
  }, [actions]);
  useEffect(refresh, [refresh]);

  /** Run an action; a failure shows in the dialog and the log, the list is read again. */
  const attempt = async (what: string, fn: () => Promise<unknown>, close = false) => {
    try {
      await fn();
      setError(null);
      if (close) onClose();
      else refresh();
    } catch (e) {
      const msg = errMsg(e);
      setError(msg);
      log('error', `${what}: ${msg}`);
    }
  };

  const onPick = async (e: ChangeEvent<HTMLInputElement>) => {
    const file = e.target.files?.[0];
    e.target.value = '';
    if (!file) return;
    await attempt(
      'import failed',
      async () => actions.importFile({ name: file.name, text: await file.text() }),
      true,
    );
  };

  return (
    <div className="modal-backdrop" role="dialog" aria-modal="true" aria-label="Pipelines">
      <div className="modal files" data-testid="files-dialog">
        <header>
          <h2>Pipelines</h2>
          <span className="muted small">{items ? `${items.length} saved` : 'loading…'}</span>
        </header>
        <div className="files-actions">
          <button type="button" onClick={() => picker.current?.click()} data-testid="import">
            Import JSON…
          </button>
          <input
            ref={picker}
            type="file"
            accept=".json,application/json"
            hidden
            onChange={(e) => void onPick(e)}
            data-testid="import-file"
          />
          <button
            type="button"
            onClick={() => void attempt('export failed', actions.exportCurrent)}
            data-testid="export-current"
          >
            Export open pipeline…
          </button>
        </div>
        {error && (
          <div className="alert error" role="alert" data-testid="files-error">
            {error}
          </div>
        )}
        {items && items.length === 0 && (
          <p className="muted" data-testid="files-empty">
            No saved pipelines yet. An example is saved here once you edit it; Import adds a JSON
            file.
          </p>
        )}
        {items && items.length > 0 && (
          <table className="files-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Saved</th>
                <th aria-label="Actions" />
              </tr>
            </thead>
            <tbody>
              {items.map((p) => (
                <tr
                  key={p.id}
                  data-testid={`file-${p.id}`}
                  className={p.id === openId ? 'open' : undefined}
                >
                  <td>
                    <button
                      type="button"
                      className="link"
                      onClick={() =>
                        void attempt(`open '${p.name}'`, () => actions.open(p.id), true)
                      }
                      data-testid="file-open"
                      title="Open on the canvas"
                    >
                      {p.name}
                    </button>
                    {p.id === openId && <span className="badge">open</span>}
                  </td>
                  <td className="muted small">{when(p.updatedAt)}</td>
                  <td className="row-actions">
                    <button
                      type="button"
                      onClick={() => void attempt(`rename '${p.name}'`, () => actions.rename(p))}
                      data-testid="file-rename"
                    >
                      Rename
                    </button>
                    <button
                      type="button"
                      onClick={() =>
                        void attempt(`export '${p.name}'`, () => actions.exportSaved(p.id))
                      }
                      data-testid="file-export"
                    >
                      Export
                    </button>
                    <button
                      type="button"
                      className="danger"
                      onClick={() => void attempt(`delete '${p.name}'`, () => actions.remove(p))}
                      data-testid="file-delete"
                    >
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <footer>
          <button type="button" onClick={onClose} data-testid="files-close">
            Close
          </button>
        </footer>
      </div>
    </div>
  );
}
