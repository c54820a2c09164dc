/** Node specs as JSON for the renderer: the palette, typed ports and the generated config form. */
import { z } from 'zod';
import type { NodeSpecInfo } from '../../shared/ipc.ts';
import type { NodeSpec } from '../../shared/nodes/spec.ts';

/**
 * The JSON Schema is the input side (fields with defaults are optional), which is what a user
 * edits; `unrepresentable: 'any'` keeps exotic zod types from failing the whole palette.
 */
export function specInfo(spec: NodeSpec): NodeSpecInfo {
  const configSchema = z.toJSONSchema(spec.config, {
    io: 'input',
    unrepresentable: 'any',
  }) as Record<string, unknown>;
  return {
    type: spec.type,
    version: spec.version,
    category: spec.category,
    title: spec.title,
    help: spec.help,
    inputs: spec.inputs.map((p) => ({ ...p })),
    outputs: spec.outputs.map((p) => ({ ...p })),
    cacheable: spec.cacheable,
    configSchema,
    defaults: spec.config.parse({}),
  };
}
