/** Helpers for reporting errors; pure TS, usable from every layer. */

/** The message of a thrown value: `err.message` for an Error, else its string form. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
