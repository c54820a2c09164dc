/**
 * The runs side of the studio outside React: the runs list, which rows are selected, the run the
 * canvas shows, the last comparison, the seed of the next run and the run whose weights are being
 * exported. Whether a run is in flight is derived (`runActive`), never stored: the page remembers
 * which runs it started and which ended, so an end event that beats the start reply, or a run
 * opened from the list while another runs, cannot leave it stale.
 */
import type { CompareResult, RunSummary, RunsTable } from '../../../../shared/ipc.ts';
import { DEFAULT_VIEW, type RunsView } from './runs-table.ts';
import { loadView, saveView, type ViewStorage } from './view-storage.ts';

/** What this page saw of a run's life: started here, or ended (its runDone arrived). */
type Seen = 'started' | 'ended';

export interface RunsState {
  readonly runs: readonly RunSummary[];
  /** Config values and accuracy series behind the runs table's columns (null: not loaded). */
  readonly table: RunsTable | null;
  /** The runs table's filters, sort and picked columns. */
  readonly view: RunsView;
  readonly selected: ReadonlySet<string>;
  /** The run whose state the canvas shows (null: none yet). */
  readonly activeRunId: string | null;
  readonly compare: CompareResult | null;
  /**
   * The run pinned as the baseline (runs table): the comparison diffs against it and includes it
   * (null: the first compared run).
   */
  readonly baseline: string | null;
  /** Seed of the next run. */
  readonly seed: number;
  /** The run whose weights the export dialog is open for. */
  readonly exporting: string | null;
  readonly seen: ReadonlyMap<string, Seen>;
}

const INITIAL: RunsState = {
  runs: [],
  table: null,
  view: DEFAULT_VIEW,
  selected: new Set(),
  activeRunId: null,
  compare: null,
  baseline: null,
  seed: 0,
  exporting: null,
  seen: new Map(),
};

/** Whether the shown run was started from this page and has not ended: Cancel applies to it. */
export const runActive = (s: RunsState): boolean =>
  s.activeRunId !== null && s.seen.get(s.activeRunId) === 'started';

/**
 * The run Export opens for: the one selected row, else the shown run, else the newest finished
 * run; null when there is none.
 */
export function exportTarget(s: RunsState): string | null {
  const [only] = s.selected;
  if (s.selected.size === 1 && only !== undefined) return only;
  return s.activeRunId ?? s.runs.find((r) => r.status === 'done')?.id ?? null;
}

type Listener = () => void;

/** See the module comment. One instance per page; tests make their own. */
export class RunsStore {
  private state: RunsState;
  private readonly listeners = new Set<Listener>();

  /** With a storage, the runs table's columns and sort are loaded from it and saved to it. */
  constructor(private readonly storage?: ViewStorage) {
    this.state = { ...INITIAL, view: loadView(storage) };
  }

  subscribe = (listener: Listener): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  get = (): RunsState => this.state;

  setRuns(runs: readonly RunSummary[]): void {
    this.set({ runs });
  }

  setTable(table: RunsTable | null): void {
    this.set({ table });
  }

  /** Change the runs table's filters, sort or columns. */
  setView(patch: Partial<RunsView>): void {
    this.set({ view: { ...this.state.view, ...patch } });
    saveView(this.storage, this.state.view);
  }

  /** Select or unselect one row. */
  toggle(runId: string): void {
    const selected = new Set(this.state.selected);
    if (selected.has(runId)) selected.delete(runId);
    else selected.add(runId);
    this.set({ selected });
  }

  /** Select exactly these runs (a sweep's group). */
  selectOnly(runIds: readonly string[]): void {
    this.set({ selected: new Set(runIds) });
  }

  clearSelection(): void {
    this.set({ selected: new Set() });
  }

  /** A run this page started (or re-ran) becomes the shown, active one. */
  started(runId: string): void {
    const seen = new Map(this.state.seen);
    if (seen.get(runId) !== 'ended') seen.set(runId, 'started');
    this.set({ activeRunId: runId, seen });
  }

  /** A run's end event arrived. */
  ended(runId: string): void {
    if (this.state.seen.get(runId) === 'ended') return;
    this.set({ seen: new Map(this.state.seen).set(runId, 'ended') });
  }

  /** Show a run on the canvas without starting it (one opened from the list). */
  show(runId: string): void {
    this.set({ activeRunId: runId });
  }

  setCompare(compare: CompareResult | null): void {
    this.set({ compare });
  }

  /** Pin the comparison's baseline run. */
  setBaseline(runId: string | null): void {
    this.set({ baseline: runId });
  }

  setSeed(seed: number): void {
    this.set({ seed: Math.max(0, Math.floor(seed) || 0) });
  }

  /** Open (a run id) or close (null) the export dialog. */
  exportRun(runId: string | null): void {
    this.set({ exporting: runId });
  }

  private set(patch: Partial<RunsState>): void {
    this.state = { ...this.state, ...patch };
    for (const l of [...this.listeners]) l();
  }
}
