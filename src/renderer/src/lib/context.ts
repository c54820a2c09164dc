/** React contexts shared by the canvas nodes: specs by type, and live run state by node id. */
import { createContext, useContext } from 'react';
import type { NodeSpecInfo } from '../../../shared/ipc.ts';
import type { NodeStatus } from './graph.ts';

/** Live state of one node in the current run. */
export interface NodeRunState {
  readonly status: NodeStatus;
  /** Progress of a running node. */
  readonly progress?: { readonly value: number; readonly max: number; readonly label?: string };
  /** Error message of a failed node, or the reason it was skipped. */
  readonly message?: string;
}

export const SpecsContext = createContext<ReadonlyMap<string, NodeSpecInfo>>(new Map());
export const RunStateContext = createContext<ReadonlyMap<string, NodeRunState>>(new Map());
/** Validation problems per node id (config and connections). */
export const ProblemsContext = createContext<ReadonlyMap<string, readonly string[]>>(new Map());

export const useSpecs = () => useContext(SpecsContext);
export const useRunState = () => useContext(RunStateContext);
export const useProblems = () => useContext(ProblemsContext);
