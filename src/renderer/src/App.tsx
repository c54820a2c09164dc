/**
 * The studio: toolbar, palette, canvas, inspector, and a bottom panel with runs, charts and the
 * log. Each part is a feature module under `features/` reading the document and runs stores; the
 * App composes them and provides what the canvas nodes read from context. All engine access goes
 * through `api` (Electron IPC or web mode, same contract).
 */
import { useState } from 'react';
import { useAutosave } from './features/autosave/use-autosave.ts';
import { BottomPanel } from './features/bottom-panel/BottomPanel.tsx';
import { useBottomSize } from './features/bottom-panel/panel-size.ts';
import { DocumentCanvas } from './features/document/DocumentCanvas.tsx';
import { DocumentInspector } from './features/document/DocumentInspector.tsx';
import { documentStore, useValidation } from './features/document/use-document.ts';
import { FilesDialog } from './features/files/FilesDialog.tsx';
import { useMenuCommands } from './features/menu/use-menu-commands.ts';
import { RunExport } from './features/runs/RunExport.tsx';
import { runsStore, useRunEvents, useRuns } from './features/runs/use-runs.ts';
import { Fatal } from './features/session/Fatal.tsx';
import { useSession } from './features/session/use-session.ts';
import { useShortcuts } from './features/shortcuts/shortcuts.ts';
import { SweepDialogHost } from './features/sweeps/SweepDialogHost.tsx';
import { useSweepEvents } from './features/sweeps/use-sweep-events.ts';
import { Toolbar } from './features/toolbar/Toolbar.tsx';
import {
  ActiveRunContext,
  InheritedContext,
  ProblemsContext,
  SpecsContext,
  runStore,
} from './lib/context.ts';
import { log } from './lib/log.ts';
import { PanelBoundary } from './lib/PanelBoundary.tsx';
import { api, mode } from './lib/transport.ts';
import { Palette } from './panels/Palette.tsx';
import {
  autosave,
  documentActions,
  fileActions,
  menuHandlers,
  runActions,
  shortcutHandlers,
  sweepActions,
} from './studio.ts';

export function App() {
  const session = useSession(api, documentStore, runsStore);
  const { validation, problems, runnable } = useValidation();
  const activeRunId = useRuns((s) => s.activeRunId);
  useAutosave(autosave);
  useRunEvents(api, runActions, runStore);
  useMenuCommands(api, menuHandlers);
  useSweepEvents(api, sweepActions);
  useShortcuts(shortcutHandlers);
  const [filesOpen, setFilesOpen] = useState(false);
  const bottom = useBottomSize();

  if (session.fatal) return <Fatal message={session.fatal} web={mode === 'web'} />;

  const addNode = (type: string) => {
    const spec = session.specMap.get(type);
    if (spec) documentStore.addNode(spec);
  };
  return (
    <SpecsContext.Provider value={session.specMap}>
      <ProblemsContext.Provider value={problems}>
        <InheritedContext.Provider value={validation.inherited}>
          <ActiveRunContext.Provider value={activeRunId}>
            <div className="app" style={{ gridTemplateRows: `44px 1fr ${bottom.height}px` }}>
              <Toolbar
                examples={session.examples}
                doc={documentActions}
                runs={runActions}
                runnable={runnable}
                problems={validation.problems}
                onFiles={() => setFilesOpen(true)}
              />
              <PanelBoundary
                name="palette"
                label="Palette"
                frame={(m) => <aside className="palette">{m}</aside>}
              >
                <Palette specs={session.specs} onAdd={addNode} />
              </PanelBoundary>
              <DocumentCanvas
                examples={session.examples}
                onOpenExample={documentActions.openExample}
                onRefused={documentActions.refused}
                problems={validation.ok ? [] : validation.problems}
              />
              <DocumentInspector />
              <BottomPanel
                info={session.info}
                actions={runActions}
                sweeps={sweepActions}
                height={bottom.height}
                onResize={bottom.resize}
              />
              <RunExport info={session.info} runs={runsStore} log={log} />
              <SweepDialogHost actions={sweepActions} />
              {filesOpen && (
                <FilesDialog actions={fileActions} log={log} onClose={() => setFilesOpen(false)} />
              )}
            </div>
          </ActiveRunContext.Provider>
        </InheritedContext.Provider>
      </ProblemsContext.Provider>
    </SpecsContext.Provider>
  );
}
