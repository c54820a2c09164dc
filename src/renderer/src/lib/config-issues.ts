/**
 * Field-level config problems for the inspector's form, from the node spec's own schema (the one
 * the shared validator and the executor parse with), so an unknown key shows with the key meant.
 * Kept apart from graph.ts so it needs no React Flow types.
 */
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
