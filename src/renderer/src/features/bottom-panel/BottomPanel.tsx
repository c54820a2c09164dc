/**
 * The bottom panel: tabs for the runs list, the comparison, the charts and the log, the shown
 * run's status and the engine's mode, backend and version. Comparing runs switches to the
 * comparison. Its top edge resizes it (the App keeps the height, see panel-size.ts).
 */
import { useState } from 'react';
import type { SystemInfo } from '../../../../shared/ipc.ts';
import { useLogHasError } from '../../lib/context.ts';
import { PanelBoundary } from '../../lib/PanelBoundary.tsx';
import { ComparePanel } from '../compare/CompareView.tsx';
import { Charts } from '../../panels/Charts.tsx';
import { LogPanel } from '../../panels/LogPanel.tsx';
import type { RunActions } from '../runs/run-actions.ts';
import { RunsTab } from '../runs/RunsTab.tsx';
import { compareHeight } from './panel-size.ts';
import { ResizeHandle } from './ResizeHandle.tsx';
import { useRuns, useRunsStore } from '../runs/use-runs.ts';
import type { SweepActions } from '../sweeps/sweep-actions.ts';
import { useSweeps } from '../sweeps/sweeps-store.ts';
import { SweepsList } from '../sweeps/SweepsList.tsx';

export type Tab = 'runs' | 'compare' | 'charts' | 'log';
const TABS: readonly Tab[] = ['runs', 'compare', 'charts', 'log'];
const TITLES: Readonly<Record<Exclude<Tab, 'log'>, string>> = {
  runs: 'Runs',
  compare: 'Comparison',
  charts: 'Charts',
};

export interface BottomPanelProps {
  readonly info: SystemInfo | null;
  readonly actions: RunActions;
  readonly sweeps: SweepActions;
  /** The panel's height in px, and how to change it (drag or arrow keys on the top edge). */
  readonly height: number;
  readonly onResize: (px: number) => void;
}

export function BottomPanel({
  info,
  actions,
  sweeps: sweepActions,
  height,
  onResize,
}: BottomPanelProps) {
  const [tab, setTab] = useState<Tab>('runs');
  const logHasError = useLogHasError();
  const store = useRunsStore();
  const runs = useRuns((s) => s.runs);
  const compare = useRuns((s) => s.compare);
  const baseline = useRuns((s) => s.baseline);
  const activeRunId = useRuns((s) => s.activeRunId);
  const sweeps = useSweeps((s) => s.sweeps);
  // The comparison (diff, metrics, parallel coordinates) needs room: opening it grows the panel.
  const openCompare = () => {
    setTab('compare');
    const want = compareHeight(height, window.innerHeight);
    if (want !== height) onResize(want);
  };
  const compareSelected = () =>
    void actions.compare().then((ok) => {
      if (ok) openCompare();
    });
  const shown = runs.find((r) => r.id === activeRunId);
  const title = (t: Tab) => (t === 'log' ? `Log${logHasError ? ' •' : ''}` : TITLES[t]);
  return (
    <section className="bottom">
      <ResizeHandle height={height} onResize={onResize} />
      <nav className="tabs">
        {TABS.map((t) => (
          <button
            type="button"
            key={t}
            className={tab === t ? 'active' : undefined}
            onClick={() => (t === 'compare' ? openCompare() : setTab(t))}
            data-testid={`tab-${t}`}
          >
            {title(t)}
          </button>
        ))}
        <span className="spacer" />
        {shown && (
          <span className="muted small" data-testid="active-run">
            {shown.id} ·{' '}
            <span className={`badge badge-${shown.status === 'failed' ? 'error' : shown.status}`}>
              {shown.status}
            </span>
          </span>
        )}
        <span className="muted small">
          {info ? `${info.mode} · ${info.backend} · v${info.version}` : ''}
        </span>
      </nav>
      <div className="tab-body">
        {tab === 'runs' && (
          <PanelBoundary name="runs" label="Runs">
            <SweepsList
              sweeps={sweeps}
              onCompare={(ids) => {
                store.selectOnly(ids);
                compareSelected();
              }}
              onCancel={(id) => void sweepActions.cancel(id)}
              onResume={(id) => void sweepActions.resume(id)}
            />
            <RunsTab actions={actions} onCompared={openCompare} />
          </PanelBoundary>
        )}
        {tab === 'compare' && (
          <PanelBoundary name="compare" label="Comparison">
            <ComparePanel
              compare={compare}
              baselineId={baseline}
              onBaseline={(id) => store.setBaseline(id)}
              details={actions.details}
            />
          </PanelBoundary>
        )}
        {tab === 'charts' && (
          <PanelBoundary name="charts" label="Charts">
            <Charts compare={compare} activeRunId={activeRunId} />
          </PanelBoundary>
        )}
        {tab === 'log' && (
          <PanelBoundary name="log" label="Log">
            <LogPanel />
          </PanelBoundary>
        )}
      </div>
    </section>
  );
}
