/**
 * What the page does with sweeps: preview and start one over the open pipeline, cancel, resume,
 * refresh the list, and compare a sweep's runs. Plain functions over the stores, as run actions.
 */
import type { ContractApi, SweepPreview } from '../../../../shared/ipc.ts';
import type { AppSettings } from '../../../../shared/settings.ts';
import type { SweepSpec } from '../../../../shared/sweeps.ts';
import { errMsg } from '../../lib/errors.ts';
import type { Log } from '../../lib/log.ts';
import type { DocumentStore } from '../document/document-store.ts';
import type { RunsStore } from '../runs/runs-store.ts';
import type { SweepsStore } from './sweeps-store.ts';

export interface SweepActionDeps {
  readonly api: ContractApi;
  readonly sweeps: SweepsStore;
  readonly runs: RunsStore;
  readonly doc: DocumentStore;
  readonly log: Log;
  readonly flash: (message: string) => void;
}

export type SweepActions = ReturnType<typeof createSweepActions>;

export function createSweepActions({ api, sweeps, runs, doc, log, flash }: SweepActionDeps) {
  const refresh = (): void => {
    api.sweeps.list({}).then(
      (list) => sweeps.setSweeps(list),
      (e: unknown) => log('error', `sweeps: ${errMsg(e)}`),
    );
  };
  const refreshRuns = (): void => {
    api.runs.list({}).then(
      (rs) => runs.setRuns(rs),
      (e: unknown) => log('error', `runs: ${errMsg(e)}`),
    );
  };

  return {
    refresh,

    /** The app's settings (where sweeps run). */
    settings(): Promise<AppSettings> {
      return api.system.getSettings({});
    },

    /** Save the app's settings; rejects with the problem when one is malformed. */
    async saveSettings(next: AppSettings): Promise<AppSettings> {
      const saved = await api.system.setSettings(next);
      log('info', `sweeps run ${saved.sweepQueue ? `on queue ${saved.sweepQueue}` : 'in process'}`);
      return saved;
    },

    /** Runs, fields and estimate of a sweep over the open pipeline (rejects with the problems). */
    preview(spec: SweepSpec): Promise<SweepPreview> {
      return api.sweeps.preview({ pipeline: doc.pipeline(), spec });
    },

    /** Start a sweep over the open pipeline with the toolbar's seed; true when it started. */
    async start(spec: SweepSpec): Promise<boolean> {
      const { pipelineId } = doc.get();
      try {
        const r = await api.sweeps.start({
          pipeline: doc.pipeline(),
          spec,
          seed: runs.get().seed,
          ...(pipelineId ? { pipelineId } : {}),
        });
        log('info', `sweep ${r.sweepId} started: ${r.points} runs`);
        flash(`Sweep started: ${r.points} runs`);
        refresh();
        refreshRuns();
        return true;
      } catch (e) {
        log('error', `sweep refused: ${errMsg(e)}`);
        flash(errMsg(e));
        return false;
      }
    },

    async cancel(sweepId: string): Promise<void> {
      try {
        await api.sweeps.cancel({ sweepId });
        log('info', `cancelling sweep ${sweepId}…`);
      } catch (e) {
        log('error', `cancel sweep: ${errMsg(e)}`);
      }
      refresh();
    },

    async resume(sweepId: string): Promise<void> {
      try {
        const r = await api.sweeps.resume({ sweepId });
        log('info', `sweep ${sweepId} resumed: ${r.remaining} runs left`);
      } catch (e) {
        log('error', `resume sweep: ${errMsg(e)}`);
        flash(errMsg(e));
      }
      refresh();
    },
  };
}
