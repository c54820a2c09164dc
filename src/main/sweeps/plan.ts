/**
 * Sweeps on the main side: expansion that throws a clear InputError, the per-node timing lookup
 * the estimate reads from the store's recorded node runs, and the preview both front doors show
 * (number of runs, swept fields, estimate).
 */
import { canonicalJson } from '../../shared/canonical-json.ts';
import type { NodeRegistry } from '../../shared/nodes/spec.ts';
import { z } from 'zod';
import type { Pipeline } from '../../shared/pipeline.ts';
import {
  estimateSweep,
  expandSweep,
  formatEstimate,
  showSweepValue,
  type NodeSeconds,
  type SweepPoint,
  type SweepSpec,
  type SweepValue,
} from '../../shared/sweeps.ts';
import type { SweepPreview } from '../../shared/ipc.ts';
import { InputError } from '../engine/errors.ts';
import type { NodeTiming } from '../api/ports.ts';

/** The expanded sweep; an InputError listing every problem when it cannot run. */
export function planSweep(
  pipeline: Pipeline,
  spec: SweepSpec,
  registry: NodeRegistry,
): { readonly paths: readonly string[]; readonly points: readonly SweepPoint[] } {
  const r = expandSweep(pipeline, spec, registry);
  if (!r.ok) throw new InputError(`the sweep cannot run: ${r.problems.join('; ')}`);
  return r;
}

/** A point's values as `path=value, …` (run names, tables). */
export function pointLabel(values: Readonly<Record<string, SweepValue>>): string {
  return Object.entries(values)
    .map(([k, v]) => `${k}=${showSweepValue(v)}`)
    .join(', ');
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Seconds per node from recorded timings, as the estimate asks for them: the median over earlier
 * runs of the same node type with the same parsed config, else over all runs of that type.
 */
export function nodeSecondsFrom(
  timings: readonly NodeTiming[],
  registry: NodeRegistry,
): NodeSeconds {
  const byType = new Map<string, number[]>();
  const byConfig = new Map<string, number[]>();
  for (const t of timings) {
    if (!Number.isFinite(t.seconds) || t.seconds < 0) continue;
    const parsed = registry.get(t.type)?.config.safeParse(t.config);
    if (!byType.has(t.type)) byType.set(t.type, []);
    byType.get(t.type)?.push(t.seconds);
    if (parsed?.success) {
      const key = `${t.type}\u0000${canonicalJson(parsed.data)}`;
      if (!byConfig.has(key)) byConfig.set(key, []);
      byConfig.get(key)?.push(t.seconds);
    }
  }
  return (type, config) => {
    const same = byConfig.get(`${type}\u0000${canonicalJson(config)}`);
    const any = same ?? byType.get(type);
    return any?.length ? median(any) : undefined;
  };
}

const SnapshotNodesSchema = z.object({
  nodes: z.array(z.object({ id: z.string(), config: z.unknown() })),
});

/** The config of node `nodeId` in a stored pipeline snapshot (undefined when not found). */
export function nodeConfigIn(snapshot: unknown, nodeId: string): unknown {
  const p = SnapshotNodesSchema.safeParse(snapshot);
  return p.success ? p.data.nodes.find((n) => n.id === nodeId)?.config : undefined;
}

/** Number of runs, fields and estimate of a sweep (remaining points only, when some are done). */
export function previewSweep(
  plan: { readonly paths: readonly string[]; readonly points: readonly SweepPoint[] },
  registry: NodeRegistry,
  timings: (types: readonly string[]) => readonly NodeTiming[],
): SweepPreview {
  const types = [...new Set(plan.points.flatMap((p) => p.pipeline.nodes.map((n) => n.type)))];
  const estimate = estimateSweep(
    plan.points.map((p) => p.pipeline),
    registry,
    nodeSecondsFrom(timings(types), registry),
  );
  return {
    points: plan.points.length,
    paths: plan.paths,
    values: plan.points.map((p) => p.values),
    seconds: estimate.seconds,
    estimate: formatEstimate(estimate.seconds),
  };
}
