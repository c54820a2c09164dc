/** The export dialog of the run chosen by Export (toolbar, menu or runs list), as a modal. */
import type { SystemInfo } from '../../../../shared/ipc.ts';
import type { Log } from '../../lib/log.ts';
import { PanelBoundary } from '../../lib/PanelBoundary.tsx';
import { ExportDialog } from '../../panels/ExportDialog.tsx';
import type { RunsStore } from './runs-store.ts';
import { useRuns } from './use-runs.ts';

export interface RunExportProps {
  readonly info: SystemInfo | null;
  readonly runs: RunsStore;
  readonly log: Log;
}

export function RunExport({ info, runs, log }: RunExportProps) {
  const runId = useRuns((s) => s.exporting);
  if (!runId || !info) return null;
  const close = () => runs.exportRun(null);
  return (
    <PanelBoundary
      name="export"
      label="Export dialog"
      onClose={close}
      frame={(m) => (
        <div className="modal-backdrop" role="dialog" aria-label="Export weights">
          <div className="modal">{m}</div>
        </div>
      )}
    >
      <ExportDialog runId={runId} dataDir={info.dataDir} onClose={close} onLog={log} />
    </PanelBoundary>
  );
}
