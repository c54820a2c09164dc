/**
 * Export dialog: pick a format, which samples (best per task or all) and a destination, preview
 * the manifest the export will write, then export. The destination is a folder inside the data
 * directory, or in the desktop app a folder the user picked with the native dialog (the API's
 * path policy refuses anything else). The files go to `<folder>/<run id>/` (suffixed when that
 * exists).
 */
import { useEffect, useState } from 'react';
import {
  EXPORT_FORMATS,
  type ExportFormat,
  type ExportSelect,
  type ExportPreview,
  type ExportResult,
} from '../../../shared/ipc.ts';
import { errMsg } from '../lib/errors.ts';
import { api, mode } from '../lib/transport.ts';

export interface ExportDialogProps {
  readonly runId: string;
  readonly dataDir: string;
  readonly onClose: () => void;
  readonly onLog: (level: 'info' | 'error', message: string) => void;
}

export function ExportDialog({ runId, dataDir, onClose, onLog }: ExportDialogProps) {
  const [format, setFormat] = useState<ExportFormat>('safetensors');
  const [select, setSelect] = useState<ExportSelect>('best');
  const [folder, setFolder] = useState('exports');
  const [preview, setPreview] = useState<ExportPreview | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [result, setResult] = useState<ExportResult | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let alive = true;
    api.export
      .preview({ runId, format, select })
      .then((p) => {
        if (!alive) return;
        setPreview(p);
        setError(null);
      })
      .catch((e: unknown) => {
        if (!alive) return;
        setPreview(null);
        setError(errMsg(e));
      });
    return () => {
      alive = false;
    };
  }, [runId, format, select]);

  /** Desktop: the native picker; the API then allows exports to the picked folder. */
  const chooseFolder = async () => {
    try {
      const r = await api.export.chooseFolder({});
      if (r.folder !== null) setFolder(r.folder);
    } catch (e) {
      setError(errMsg(e));
    }
  };

  const doExport = async () => {
    setBusy(true);
    try {
      const r = await api.export.weights({ runId, format, select, folder });
      setResult(r);
      onLog('info', `exported ${r.files.length} files to ${r.folder}`);
    } catch (e) {
      const msg = errMsg(e);
      setError(msg);
      onLog('error', `export failed: ${msg}`);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="modal-backdrop" role="dialog" aria-modal="true" aria-label="Export weights">
      <div className="modal" data-testid="export-dialog">
        <header>
          <h2>Export weights</h2>
          <span className="muted small mono">{runId}</span>
        </header>
        <div className="form-row">
          <label htmlFor="exp-format">Format</label>
          <select
            id="exp-format"
            value={format}
            onChange={(e) => setFormat(e.target.value as ExportFormat)}
          >
            {EXPORT_FORMATS.map((f) => (
              <option key={f} value={f}>
                {f === 'safetensors'
                  ? 'safetensors (PyTorch / JAX / NumPy)'
                  : f === 'tfjs'
                    ? 'tfjs LayersModel (model.json + weights.bin)'
                    : f === 'onnx'
                      ? 'ONNX (onnxruntime, opset 13)'
                      : '.npy per tensor'}
              </option>
            ))}
          </select>
        </div>
        <div className="form-row">
          <label htmlFor="exp-select">Models</label>
          <select
            id="exp-select"
            value={select}
            onChange={(e) => setSelect(e.target.value as ExportSelect)}
          >
            <option value="best">best sample per task</option>
            <option value="all">every sample</option>
          </select>
        </div>
        <div className="form-row">
          <label htmlFor="exp-folder">Destination folder</label>
          <input id="exp-folder" value={folder} onChange={(e) => setFolder(e.target.value)} />
          {mode === 'electron' && (
            <button type="button" onClick={() => void chooseFolder()}>
              Choose…
            </button>
          )}
          <div className="hint">
            {mode === 'electron'
              ? `inside the data directory ${dataDir}, or a folder you choose; files go to ${folder}/${runId}/ (a new ${runId}-2… if it exists)`
              : `a folder inside the data directory ${dataDir}; files go to ${folder}/${runId}/ (a new ${runId}-2… if it exists)`}
          </div>
        </div>
        {error && (
          <div className="alert error" data-testid="export-error">
            {error}
          </div>
        )}
        {preview && (
          <div className="manifest">
            <div className="muted small">
              Files:{' '}
              {preview.files
                .map((f) => `${f.name} (${(f.bytes / 1024).toFixed(1)} KiB)`)
                .join(', ')}
            </div>
            <pre data-testid="manifest-preview">
              {JSON.stringify({ ...preview.manifest, conventions: '…' }, null, 2)}
            </pre>
          </div>
        )}
        {result && (
          <div className="alert ok" data-testid="export-result">
            Wrote {result.files.length} files to <span className="mono">{result.folder}</span>
          </div>
        )}
        <footer>
          <button type="button" onClick={onClose}>
            Close
          </button>
          <button
            type="button"
            className="primary"
            disabled={busy || !preview || folder.trim() === ''}
            onClick={() => void doExport()}
            data-testid="do-export"
          >
            {busy ? 'Exporting…' : 'Export'}
          </button>
        </footer>
      </div>
    </div>
  );
}
