/**
 * Field-level config problems for the inspector's form, from the node spec's own schema (the one
 * the shared validator and the executor parse with), so an unknown key shows with the key meant.
 * Kept apart from graph.ts so it needs no React Flow types.
 */
import { formatIssuePath } from '../../../shared/issues.ts';
import { registry } from '../../../shared/nodes/registry.ts';

/** Config problems of one node, keyed by dotted path ('' = the whole config). */
export function configIssues(type: string, config: unknown): Map<string, string> {
  const spec = registry.get(type);
  const out = new Map<string, string>();
  if (!spec) return out;
  const r = spec.config.safeParse(config);
  if (r.success) return out;
  for (const issue of r.error.issues) {
    const key = issue.path.map(String).join('.');
    const prev = out.get(key);
    out.set(key, prev === undefined ? issue.message : `${prev}; ${issue.message}`);
  }
  return out;
}

/** Where a problem sits in a config's JSON text: character offsets, end exclusive. */
export interface TextProblem {
  readonly message: string;
  readonly start: number;
  readonly end: number;
}

/**
 * Offsets of every property key and array element of valid JSON `text`, by dotted path (the
 * `formatIssuePath` form: `train.keepLast`, `hidden[0]`; the root is '').
 */
export function jsonLocations(text: string): Map<string, { start: number; end: number }> {
  const out = new Map<string, { start: number; end: number }>();
  let i = 0;
  const ws = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const str = (): { start: number; end: number; value: string } => {
    const start = i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    return { start, end: i, value: JSON.parse(text.slice(start, i)) as string };
  };
  const value = (path: readonly PropertyKey[]): void => {
    ws();
    const start = i;
    const c = text[i];
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i++;
      ws();
      for (let n = 0; text[i] !== close && i < text.length; n++) {
        ws();
        if (c === '{') {
          const key = str();
          const p = [...path, key.value];
          out.set(formatIssuePath(p), { start: key.start, end: key.end });
          ws();
          i++; // ':'
          value(p);
        } else {
          const from = i;
          value([...path, n]);
          out.set(formatIssuePath([...path, n]), { start: from, end: i });
        }
        ws();
        if (text[i] === ',') i++;
        ws();
      }
      i++;
    } else if (c === '"') {
      str();
    } else {
      while (i < text.length && !/[\s,\]}]/.test(text[i])) i++;
    }
    if (path.length === 0) out.set('', { start, end: i });
  };
  value([]);
  return out;
}

/** The parts of an unrecognized-keys message, one per key (they are joined with `; \``). */
function perKey(message: string, keys: readonly string[]): Map<string, string> {
  const parts = message.split(/; (?=`)/);
  return new Map(keys.map((k) => [k, parts.find((p) => p.startsWith(`\`${k}\``)) ?? message]));
}

/**
 * The config problems of JSON `text` for a node of `type`, placed in the text for an editor's
 * markers: an unknown key on the key itself with the key meant ("`epoch`: unknown key; did you
 * mean `epochs`?"), any other problem on the field (or, when the field is absent, on the object
 * that should hold it) prefixed by its path. Text that does not parse gives none (the editor
 * reports syntax itself).
 */
export function configTextProblems(type: string, text: string): TextProblem[] {
  const spec = registry.get(type);
  if (!spec) return [];
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return [];
  }
  const r = spec.config.safeParse(value);
  if (r.success) return [];
  const at = jsonLocations(text);
  /** The location of `path`, or of its nearest ancestor the text has. */
  const place = (path: readonly PropertyKey[]) => {
    for (let n = path.length; n >= 0; n--) {
      const loc = at.get(formatIssuePath(path.slice(0, n)));
      if (loc) return loc;
    }
    return { start: 0, end: text.length };
  };
  const out: TextProblem[] = [];
  for (const issue of r.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      const messages = perKey(issue.message, issue.keys);
      for (const key of issue.keys) {
        out.push({ message: messages.get(key) ?? issue.message, ...place([...issue.path, key]) });
      }
    } else {
      const where = formatIssuePath(issue.path);
      out.push({
        message: where ? `${where}: ${issue.message}` : issue.message,
        ...place(issue.path),
      });
    }
  }
  return out;
}

/**
 * A JSON Schema with `additionalProperties: false` left out everywhere, for the editor: unknown
 * keys are reported by `configTextProblems` with the key meant, not by the editor's generic
 * "Property … is not allowed", once each.
 */
export function openSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(openSchema);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === 'additionalProperties' && v === false) continue;
    out[k] = openSchema(v);
  }
  return out;
}
