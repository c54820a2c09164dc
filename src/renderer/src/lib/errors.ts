/** The message of anything thrown, for logs, toasts and inline errors. */
export const errMsg = (e: unknown): string => (e instanceof Error ? e.message : String(e));
