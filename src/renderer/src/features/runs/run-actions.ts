/**
 * What the studio does with runs: start the open pipeline, cancel, compare, delete, re-run, open
 * a past run on the canvas, pick the run to export, and fold pushed run events in. Plain functions
 * over the stores, so menus, shortcuts and buttons share them and none needs React.
 */
import type { ContractApi, RunDetail, RunEventMessage } from '../../../../shared/ipc.ts';
import { validate } from '../../lib/graph.ts';
import { errMsg } from '../../lib/errors.ts';
import type { Log } from '../../lib/log.ts';
import type { NodeRunState, RunStore } from '../../lib/run-store.ts';
import type { DocumentStore } from '../document/document-store.ts';
import { runnable } from '../document/use-document.ts';
import type { RunAnnotation } from '../../../../shared/runs.ts';
import { exportTarget, runActive, type RunsStore } from './runs-store.ts';
import type { RunsView } from './runs-table.ts';

export interface RunActionDeps {
  readonly api: ContractApi;
  readonly runs: RunsStore;
  readonly doc: DocumentStore;
  /** Live per-node run state (the canvas badges, charts, log). */
  readonly live: RunStore;
  readonly log: Log;
  readonly flash: (message: string) => void;
  readonly confirm: (question: string) => boolean;
}

export type RunActions = ReturnType<typeof createRunActions>;

export function createRunActions({ api, runs, doc, live, log, flash, confirm }: RunActionDeps) {
  /** The runs table's column data for the picked fields (and every run's accuracy series). */
  const loadTable = (): void => {
    api.runs.table({ fields: [...runs.get().view.fields] }).then(
      (t) => runs.setTable(t),
      (e: unknown) => log('error', `runs table: ${errMsg(e)}`),
    );
  };

  const refresh = (): void => {
    api.runs.list({}).then(
      (rs) => runs.setRuns(rs),
      (e: unknown) => log('error', `runs: ${errMsg(e)}`),
    );
    loadTable();
  };

  /** Whether Run applies now: a valid document and no run of this page in flight. */
  const canRun = (): boolean => {
    const d = doc.get();
    return (
      runnable(d.nodes.length, validate(doc.pipeline()).ok, d.syntaxErrors) &&
      !runActive(runs.get())
    );
  };

  return {
    refresh,
    loadTable,
    canRun,

    /** Run the open pipeline with the chosen seed. */
    async start(): Promise<void> {
      if (!canRun()) return;
      const d = doc.get();
      try {
        const { runId } = await api.runs.start({
          pipeline: doc.pipeline(),
          seed: runs.get().seed,
          ...(d.pipelineId ? { pipelineId: d.pipelineId } : {}),
        });
        live.startRun(
          runId,
          d.nodes.map((n) => n.id),
        );
        runs.started(runId);
        refresh();
      } catch (e) {
        log('error', `run refused: ${errMsg(e)}`);
        flash(errMsg(e));
      }
    },

    async cancel(): Promise<void> {
      const { activeRunId } = runs.get();
      if (!activeRunId) return;
      try {
        await api.runs.cancel({ runId: activeRunId });
        log('info', `cancelling ${activeRunId}…`);
      } catch (e) {
        log('error', `cancel failed: ${errMsg(e)}`);
      }
    },

    /**
     * Compare the selected runs, and the pinned baseline with them when it is not selected; true
     * when the comparison arrived (the comparison should show).
     */
    async compare(): Promise<boolean> {
      const { selected, baseline, runs: listed } = runs.get();
      const pinned = baseline !== null && listed.some((r) => r.id === baseline) ? [baseline] : [];
      const runIds = [...new Set([...pinned, ...selected])];
      try {
        runs.setCompare(await api.runs.compare({ runIds }));
        return true;
      } catch (e) {
        log('error', `compare failed: ${errMsg(e)}`);
        return false;
      }
    },

    /** The runs with their pipelines, for the comparison view (rejects when one is missing). */
    details(runIds: readonly string[]): Promise<RunDetail[]> {
      return Promise.all(runIds.map((runId) => api.runs.get({ runId })));
    },

    /**
     * Rename, tag or annotate a run. Resolves true when stored (the list is refreshed); a refusal
     * is logged and flashed, and the list keeps the old value.
     */
    async annotate(runId: string, change: RunAnnotation): Promise<boolean> {
      try {
        const updated = await api.runs.update({ runId, ...change });
        runs.setRuns(runs.get().runs.map((r) => (r.id === runId ? updated : r)));
        return true;
      } catch (e) {
        log('error', `run ${runId}: ${errMsg(e)}`);
        flash(errMsg(e));
        return false;
      }
    },

    /** Change the runs table's view; picking other config fields reloads their values. */
    setView(patch: Partial<RunsView>): void {
      const before = runs.get().view.fields;
      runs.setView(patch);
      if (patch.fields && patch.fields.join('\u0000') !== before.join('\u0000')) loadTable();
    },

    /** Delete the selected runs and their artifacts, after asking. */
    async deleteSelected(): Promise<void> {
      const { selected } = runs.get();
      if (!confirm(`Delete ${selected.size} run(s) and their artifacts?`)) return;
      for (const runId of selected) {
        try {
          await api.runs.delete({ runId });
        } catch (e) {
          log('error', `delete ${runId}: ${errMsg(e)}`);
        }
      }
      runs.clearSelection();
      refresh();
    },

    /** Run the (first) selected run's pipeline again with its seed. */
    async rerun(): Promise<void> {
      const [runId] = runs.get().selected;
      if (!runId) return;
      try {
        const r = await api.runs.rerun({ runId });
        runs.started(r.runId);
        refresh();
      } catch (e) {
        log('error', `re-run failed: ${errMsg(e)}`);
      }
    },

    /** Open a past run: its pipeline on the canvas, with each node's recorded status. */
    async open(runId: string): Promise<void> {
      try {
        const detail = await api.runs.get({ runId });
        doc.load(detail.pipeline);
        const st = new Map<string, NodeRunState>();
        for (const n of detail.nodes)
          st.set(n.nodeId, { status: n.status, ...(n.error ? { message: n.error } : {}) });
        live.setRun(runId, st);
        runs.show(runId);
      } catch (e) {
        log('error', `open run: ${errMsg(e)}`);
      }
    },

    /** Open the export dialog for the run Export applies to (see `exportTarget`). */
    exportLatest(): void {
      const id = exportTarget(runs.get());
      if (id) runs.exportRun(id);
      else flash('Select a finished run to export its weights.');
    },

    /** A pushed run event: into the live store; a run starting or ending refreshes the list. */
    onEvent(msg: RunEventMessage): void {
      live.push(msg);
      const { runId, event } = msg;
      if (event.type === 'runDone') {
        runs.ended(runId);
        refresh();
      }
      if (event.type === 'runStart') refresh();
    },
  };
}
