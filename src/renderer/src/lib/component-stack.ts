/** React component stacks made short enough for one log line (pure; tested without a DOM). */

/** Lines of a component stack kept in the log. */
const STACK_LINES = 4;

/** The first lines of a React component stack on one line: component names, no source URLs. */
export function stackHead(stack: string | null | undefined, lines = STACK_LINES): string {
  return (stack ?? '')
    .split('\n')
    .map((l) =>
      l
        .trim()
        .replace(/^at\s+/, '')
        .replace(/\s*\((?:https?|file|app|blob):[^)]*\)$/, '')
        .replace(/\s*\(<anonymous>\)$/, ''),
    )
    .filter(Boolean)
    .slice(0, lines)
    .join(' ← ');
}
