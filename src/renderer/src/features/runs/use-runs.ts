/** Reading the runs store from components, and subscribing the page to run and log pushes. */
import { createContext, useContext, useEffect, useSyncExternalStore } from 'react';
import type { ContractApi } from '../../../../shared/ipc.ts';
import type { RunStore } from '../../lib/run-store.ts';
import type { RunActions } from './run-actions.ts';
import { RunsStore, type RunsState } from './runs-store.ts';
import { browserStorage } from './view-storage.ts';

/** The page's runs; the runs table's columns and sort persist in the page's localStorage. */
export const runsStore = new RunsStore(browserStorage());

export const RunsContext = createContext<RunsStore>(runsStore);

/** The runs store in scope. */
export const useRunsStore = (): RunsStore => useContext(RunsContext);

/** A slice of the runs state (a part of it, or a value compared by identity). */
export function useRuns<T>(selector: (s: RunsState) => T): T {
  const store = useRunsStore();
  return useSyncExternalStore(store.subscribe, () => selector(store.get()));
}

/** Run events go through `actions.onEvent` (live state, list refresh); log lines to the log. */
export function useRunEvents(api: ContractApi, actions: RunActions, live: RunStore): void {
  useEffect(() => {
    const offRun = api.events.run(actions.onEvent);
    const offLog = api.events.log((line) => live.log(line));
    return () => {
      offRun();
      offLog();
    };
  }, [api, actions, live]);
}
