/**
 * Config objects refuse unknown keys, and zod issues are printed one way everywhere. A typo such
 * as `"epoch": 4` must be an error that says what was meant (`epochs`), not a silent default: the
 * refusal comes from `strictObject`, the suggestion from `closestKey`, and every front door (the
 * pipeline validator, the inspector, the CLI's bench and zoo configs) prints issues through
 * `formatIssue`, so the same text reaches the terminal, the canvas and the form.
 */
import { z } from 'zod';

/** Render a zod issue path like `nodes[2].config.epochs` so messages point at the exact field. */
export function formatIssuePath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out;
}

/**
 * One issue as `path: message`, the path prefixed by `prefix` (e.g. `config`, or a file's label),
 * `(root)` when both are empty. Unknown-key messages already name the key and the suggestion.
 */
export function formatIssue(issue: z.core.$ZodIssue, prefix: readonly PropertyKey[] = []): string {
  const path = formatIssuePath([...prefix, ...issue.path]);
  return `${path || '(root)'}: ${issue.message}`;
}

/** Every issue of `error`, one `path: message` line each (see `formatIssue`). */
export function formatIssues(error: z.ZodError, prefix: readonly PropertyKey[] = []): string[] {
  return error.issues.map((issue) => formatIssue(issue, prefix));
}

/**
 * Optimal string alignment distance: Levenshtein plus the transposition of two adjacent
 * characters (`sheduel` → `schedule` is two edits, `batcSize` → `batchSize` one).
 */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array<number>(rows * cols).fill(0);
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(
        d[(i - 1) * cols + j] + 1,
        d[i * cols + j - 1] + 1,
        d[(i - 1) * cols + j - 1] + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        v = Math.min(v, d[(i - 2) * cols + j - 2] + 1);
      }
      d[i * cols + j] = v;
    }
  }
  return d[rows * cols - 1];
}

/**
 * The known key a misspelt `key` most likely meant, or undefined when none is close. Case is
 * ignored (`batchsize` → `batchSize`); otherwise the edit distance may be up to a third of the
 * key's length (at least 1, at most 3) and less than its length, so short keys are not matched
 * against anything at all. Ties go to the key declared first.
 */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  const limit = Math.min(3, Math.max(1, Math.floor(key.length / 3)));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    if (candidate === key) continue;
    const dist = editDistance(lower, candidate.toLowerCase());
    if (dist <= limit && dist < key.length && dist < bestDistance) {
      best = candidate;
      bestDistance = dist;
    }
  }
  return best;
}

/**
 * The message for one unknown key: "`epoch`: unknown key; did you mean `epochs`?", or the list of
 * known keys when none is close.
 */
export function unknownKeyMessage(key: string, known: readonly string[]): string {
  const suggestion = closestKey(key, known);
  if (suggestion !== undefined) return `\`${key}\`: unknown key; did you mean \`${suggestion}\`?`;
  if (known.length === 0) return `\`${key}\`: unknown key; this object takes no keys`;
  return `\`${key}\`: unknown key; known keys: ${known.map((k) => `\`${k}\``).join(', ')}`;
}

/** zod error map of `strictObject`: unknown keys get `unknownKeyMessage`, the rest zod's text. */
function unknownKeysError(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.code !== 'unrecognized_keys') return undefined;
  const known =
    issue.inst instanceof z.core.$ZodObject ? Object.keys(issue.inst._zod.def.shape) : [];
  return issue.keys.map((key) => unknownKeyMessage(key, known)).join('; ');
}

/**
 * A zod object that refuses unknown keys, saying which known key was probably meant. Every config
 * object is one (node configs, stage configs, bench and zoo configs, pipeline files); `.extend()`
 * and `.pick()` keep both the strictness and the suggestions (known keys are read from the schema
 * that raised the issue). Open maps stay `z.record`.
 */
export function strictObject<T extends z.core.$ZodLooseShape>(
  shape: T,
): z.ZodObject<{ -readonly [K in keyof T]: T[K] }, z.core.$strict> {
  return z.strictObject(shape, { error: unknownKeysError });
}
