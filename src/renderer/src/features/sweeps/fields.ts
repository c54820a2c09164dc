/**
 * The config fields a sweep can vary, as `node.field` paths, read from each node's config JSON
 * Schema: every leaf of nested objects, and the fields of every variant of a union (the server
 * checks each point against the spec, so a field of another variant is refused there by name).
 */
import type { NodeSpecInfo } from '../../../../shared/ipc.ts';
import type { JsonSchema } from '../../inspector/SchemaForm.tsx';

function leaves(schema: JsonSchema, prefix: string, out: Set<string>, depth: number): void {
  const variants = schema.oneOf ?? schema.anyOf;
  if (variants && depth < 8) {
    const objects = variants.filter((v) => v.properties);
    if (objects.length) {
      for (const v of objects) leaves(v, prefix, out, depth + 1);
      return;
    }
  }
  if (schema.properties && depth < 8) {
    for (const [k, s] of Object.entries(schema.properties))
      leaves(s, `${prefix}.${k}`, out, depth + 1);
    return;
  }
  out.add(prefix);
}

/** Every sweepable path of the given nodes, in node order. */
export function sweepableFields(
  nodes: readonly { readonly id: string; readonly type: string }[],
  specs: ReadonlyMap<string, NodeSpecInfo>,
): string[] {
  const out = new Set<string>();
  for (const n of nodes) {
    const schema = specs.get(n.type)?.configSchema as JsonSchema | undefined;
    if (!schema?.properties) continue;
    for (const [k, s] of Object.entries(schema.properties)) leaves(s, `${n.id}.${k}`, out, 0);
  }
  return [...out];
}
