/**
 * Short messages over the canvas ("copied 2 nodes", a refused connection): one at a time, each
 * gone after TOAST_MS unless a newer one replaced it.
 */
import { useSyncExternalStore } from 'react';

/** How long a toast shows. */
export const TOAST_MS = 3500;

type Listener = () => void;

export class ToastStore {
  private message: string | null = null;
  private readonly listeners = new Set<Listener>();

  /** `later` runs the dismissal after a delay: the page passes setTimeout, tests their own. */
  constructor(
    private readonly later: (fn: () => void, ms: number) => void = (fn, ms) => {
      setTimeout(fn, ms);
    },
  ) {}

  /** Show `message` now; it clears itself unless another one took its place. */
  flash = (message: string): void => {
    this.set(message);
    this.later(() => {
      if (this.message === message) this.set(null);
    }, TOAST_MS);
  };

  subscribe = (listener: Listener): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** The toast showing now, if any. */
  get = (): string | null => this.message;

  private set(message: string | null): void {
    this.message = message;
    for (const l of [...this.listeners]) l();
  }
}

/** The page's toasts. */
export const toasts = new ToastStore();

/** The toast showing now. */
export function useToast(store: ToastStore = toasts): string | null {
  return useSyncExternalStore(store.subscribe, store.get);
}
