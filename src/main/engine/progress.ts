/**
 * Progress reporting for long engine work. Engine functions take an optional `onProgress` and an
 * optional AbortSignal; front doors (CLI bars, the app's per-node bars, tests) decide what to show.
 */
export interface Progress {
  /** Work done so far, in `unit`s. */
  readonly value: number;
  /** Total work, in `unit`s. */
  readonly max: number;
  /** What is counted: 'epoch', 'step', 'member', 'sample'… */
  readonly unit: string;
  /** Latest scalar metrics (loss, accuracy…), if any. */
  readonly metrics?: Readonly<Record<string, number>>;
  /** Short label of the sub-stage, e.g. 'vae' or 'zoo member 3/20'. */
  readonly label?: string;
}

export type ProgressFn = (p: Progress) => void;

/** Options every long-running engine call accepts. */
export interface RunControl {
  /** Checked between batches and epochs; abort to cancel. */
  readonly signal?: AbortSignal;
  /** Called with progress; callers throttle as they need. */
  readonly onProgress?: ProgressFn;
}

/** Let the event loop breathe (timers, IPC, Ctrl-C) during a training loop. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
