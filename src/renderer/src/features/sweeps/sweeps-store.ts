/**
 * The sweeps side of the page outside React: the list of sweeps and the sweep dialog (open or
 * not, and the field it was opened for).
 */
import { createContext, useContext, useSyncExternalStore } from 'react';
import type { SweepSummary } from '../../../../shared/ipc.ts';

export interface SweepsState {
  readonly sweeps: readonly SweepSummary[];
  /** Whether the sweep dialog is open. */
  readonly dialog: boolean;
  /** The `node.field` the dialog was opened for (the inspector's Sweep… action), if any. */
  readonly field: string | null;
}

type Listener = () => void;

export class SweepsStore {
  private state: SweepsState = { sweeps: [], dialog: false, field: null };
  private readonly listeners = new Set<Listener>();

  subscribe = (listener: Listener): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  get = (): SweepsState => this.state;

  setSweeps(sweeps: readonly SweepSummary[]): void {
    this.set({ sweeps });
  }

  /** Open the dialog, optionally on one field. */
  open(field: string | null = null): void {
    this.set({ dialog: true, field });
  }

  close(): void {
    this.set({ dialog: false, field: null });
  }

  private set(patch: Partial<SweepsState>): void {
    this.state = { ...this.state, ...patch };
    for (const l of [...this.listeners]) l();
  }
}

/** The page's sweeps. */
export const sweepsStore = new SweepsStore();

export const SweepsContext = createContext<SweepsStore>(sweepsStore);

export function useSweeps<T>(selector: (s: SweepsState) => T): T {
  const store = useContext(SweepsContext);
  return useSyncExternalStore(store.subscribe, () => selector(store.get()));
}
