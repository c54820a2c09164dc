// The node specs as the renderer receives them (`specs.list`), for component tests.
import { specInfo } from '../../src/main/api/specs.ts';
import type { NodeSpecInfo } from '../../src/shared/ipc.ts';
import { registry } from '../../src/shared/nodes/registry.ts';

export const SPECS: readonly NodeSpecInfo[] = registry.list().map(specInfo);

/** One spec by type; throws when the registry has none, so a renamed type fails loudly. */
export function specOf(type: string): NodeSpecInfo {
  const s = SPECS.find((x) => x.type === type);
  if (!s) throw new Error(`no spec ${type}`);
  return s;
}
