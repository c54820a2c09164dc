/** Writing to the studio's log panel from the renderer. */
import type { LogLine } from '../../../shared/ipc.ts';
import { runStore } from './context.ts';

/** Signature of `log`, for modules that take it as a dependency. */
export type Log = (level: LogLine['level'], message: string) => void;

/** Append a line to the log panel, stamped now. */
export const log: Log = (level, message) => {
  runStore.log({ time: new Date().toISOString(), level, message });
};
