/** The runs table wired to the page's runs store and run actions (the bottom panel's Runs tab). */
import { useEffect } from 'react';
import type { RunActions } from './run-actions.ts';
import { RunsPanel } from './RunsPanel.tsx';
import { useRuns, useRunsStore } from './use-runs.ts';

export interface RunsTabProps {
  readonly actions: RunActions;
  /** The comparison arrived: show it. */
  readonly onCompared: () => void;
}

export function RunsTab({ actions, onCompared }: RunsTabProps) {
  const store = useRunsStore();
  const runs = useRuns((s) => s.runs);
  const table = useRuns((s) => s.table);
  const view = useRuns((s) => s.view);
  const selected = useRuns((s) => s.selected);
  const baseline = useRuns((s) => s.baseline);
  // The column values are loaded when the table shows (the session loads the list only), and
  // again whenever a run starts or ends while it shows.
  useEffect(() => {
    actions.loadTable();
  }, [actions]);
  return (
    <RunsPanel
      runs={runs}
      table={table}
      view={view}
      onView={(patch) => actions.setView(patch)}
      selected={selected}
      baseline={baseline}
      onBaseline={(id) => store.setBaseline(id)}
      onToggle={(id) => store.toggle(id)}
      onAnnotate={(id, change) => void actions.annotate(id, change)}
      onCompare={() =>
        void actions.compare().then((ok) => {
          if (ok) onCompared();
        })
      }
      onDelete={() => void actions.deleteSelected()}
      onRerun={() => void actions.rerun()}
      onExport={() => store.exportRun([...selected][0] ?? null)}
      onOpen={(id) => void actions.open(id)}
    />
  );
}
