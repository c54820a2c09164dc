/** Writing to the studio's log panel from the renderer, and the message of a thrown value. */
import type { LogLine } from '../../../shared/ipc.ts';
import { runStore } from './context.ts';

/** The message of anything thrown. */
export const errMsg = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Signature of `log`, for modules that take it as a dependency. */
export type Log = (level: LogLine['level'], message: string) => void;

/** Append a line to the log panel, stamped now. */
export const log: Log = (level, message) => {
  runStore.log({ time: new Date().toISOString(), level, message });
};
