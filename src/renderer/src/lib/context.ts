/**
 * React contexts shared by the canvas nodes and panels: specs by type, validation problems, and
 * the live run store with the run the canvas shows. Run state is read per node through
 * useSyncExternalStore, so a progress event re-renders the node it is about and nothing else.
 */
import { createContext, useContext, useSyncExternalStore } from 'react';
import type { LogLine, NodeSpecInfo, RunLatents } from '../../../shared/ipc.ts';
import type { InheritedInput } from '../../../shared/nodes/inherit.ts';
import { RunStore, type LiveSeries, type NodeRunState } from './run-store.ts';

export type { NodeRunState } from './run-store.ts';

/** Flush on the next animation frame; a timer covers a hidden page (no frames are drawn then). */
export function nextFrame(flush: () => void): void {
  let done = false;
  const once = () => {
    if (done) return;
    done = true;
    flush();
  };
  requestAnimationFrame(once);
  setTimeout(once, 100);
}

/** The page's run store. */
export const runStore = new RunStore(nextFrame);

export const SpecsContext = createContext<ReadonlyMap<string, NodeSpecInfo>>(new Map());
/** The run whose state the canvas shows (null: none yet). */
export const ActiveRunContext = createContext<string | null>(null);
/** Validation problems per node id (config and connections). */
export const ProblemsContext = createContext<ReadonlyMap<string, readonly string[]>>(new Map());

/** Per node id, per input port id: the unwired inputs taken from what a carrier input carries. */
export const InheritedContext = createContext<
  ReadonlyMap<string, ReadonlyMap<string, InheritedInput>>
>(new Map());

export const useSpecs = () => useContext(SpecsContext);
export const useInherited = () => useContext(InheritedContext);
export const useProblems = () => useContext(ProblemsContext);
export const useActiveRun = () => useContext(ActiveRunContext);

/** One node's state in the shown run; re-renders only when that node's state changes. */
export function useNodeRunState(nodeId: string): NodeRunState | undefined {
  const runId = useActiveRun();
  return useSyncExternalStore(runStore.subscribe, () => runStore.nodeState(runId, nodeId));
}

/** Live loss curves of a run. */
export function useLiveSeries(runId: string | null): LiveSeries {
  return useSyncExternalStore(runStore.subscribe, () => runStore.liveOf(runId));
}

/** Latent maps reported by a run's finished nodes. */
export function useLiveLatents(runId: string | null): readonly RunLatents[] {
  return useSyncExternalStore(runStore.subscribe, () => runStore.latentsOf(runId));
}

/** The log lines. */
export function useLogs(): readonly LogLine[] {
  return useSyncExternalStore(runStore.subscribe, () => runStore.logs());
}

/** Whether the log holds an error line. */
export function useLogHasError(): boolean {
  return useSyncExternalStore(runStore.subscribe, () =>
    runStore.logs().some((l) => l.level === 'error'),
  );
}
