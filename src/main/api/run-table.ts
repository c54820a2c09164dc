/**
 * The runs table's config columns: every run's node configs flattened to `<node id>.<field path>`
 * leaves (nested objects walked, arrays and scalars whole, as the comparison's config diff treats
 * them), with the keys a stored config leaves out at their spec's default, so a run from an
 * example that stores `{}` still shows its epochs.
 */
import type { JsonValue } from '../../shared/events.ts';
import type { RunsTable } from '../../shared/ipc.ts';
import type { NodeRegistry } from '../../shared/nodes/spec.ts';
import { isRecord, type Pipeline } from '../../shared/pipeline.ts';
import type { RunTableSource } from './ports.ts';

/** A spec's default config by node type (undefined for an unknown type or one without). */
export function defaultsByType(registry: NodeRegistry): (type: string) => unknown {
  const cache = new Map<string, unknown>();
  return (type) => {
    if (cache.has(type)) return cache.get(type);
    const parsed = registry.get(type)?.config.safeParse({});
    const defaults = parsed?.success ? parsed.data : undefined;
    cache.set(type, defaults);
    return defaults;
  };
}

/** A config value as JSON (undefined and functions dropped, as JSON.stringify does). */
function json(v: unknown): JsonValue | undefined {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (v === undefined || typeof v === 'function' || typeof v === 'symbol') return undefined;
  const text = JSON.stringify(v);
  return text === undefined ? undefined : (JSON.parse(text) as JsonValue);
}

/** Every config leaf of a pipeline, keyed `<node id>.<field path>`, defaults filled in. */
export function configLeaves(
  pipeline: Pipeline,
  defaultsOf: (type: string) => unknown,
): Map<string, JsonValue> {
  const out = new Map<string, JsonValue>();
  const walk = (v: unknown, key: string) => {
    if (isRecord(v)) {
      for (const [k, child] of Object.entries(v)) walk(child, `${key}.${k}`);
      return;
    }
    const leaf = json(v);
    if (leaf !== undefined) out.set(key, leaf);
  };
  for (const node of pipeline.nodes) {
    const defaults = defaultsOf(node.type);
    const own = node.config;
    const config =
      isRecord(defaults) && isRecord(own)
        ? {
            ...defaults,
            ...Object.fromEntries(Object.entries(own).filter(([, v]) => v !== undefined)),
          }
        : own;
    walk(config, node.id);
  }
  return out;
}

/** The table over the runs' sources: the fields there are, the requested ones' values, series. */
export function runsTable(
  sources: readonly RunTableSource[],
  requested: readonly string[],
  defaultsOf: (type: string) => unknown,
): RunsTable {
  const want = new Set(requested);
  const fields = new Set<string>();
  const values: Record<string, Record<string, JsonValue>> = {};
  for (const src of sources) {
    const leaves = configLeaves(src.pipeline, defaultsOf);
    const picked: Record<string, JsonValue> = {};
    for (const [key, value] of leaves) {
      fields.add(key);
      if (want.has(key)) picked[key] = value;
    }
    values[src.runId] = picked;
  }
  return {
    fields: [...fields].sort(),
    values,
    series: sources.flatMap((s) => s.series),
  };
}
