/**
 * Converting between the two wirings of a pipeline: the chain (inputs the spine carries left
 * unwired, see src/shared/nodes/inherit.ts) and the fully wired graph (every input an edge), so
 * tests can check that both validate, run and give the same results.
 */
import { registry } from '../../src/shared/nodes/registry.ts';
import { validatePipeline } from '../../src/shared/nodes/validate.ts';
import type { Pipeline } from '../../src/shared/pipeline.ts';

/** Every edge whose input would inherit the very same output when removed, removed. */
export function dropCarriedEdges(pipeline: Pipeline): Pipeline {
  let p = pipeline;
  for (const e of pipeline.edges) {
    const q = { ...p, edges: p.edges.filter((x) => x !== e) };
    const v = validatePipeline(q, registry);
    const from = v.inherited.get(e.target)?.get(e.targetPort);
    if (v.ok && from?.node === e.source && from.port === e.sourcePort) p = q;
  }
  return p;
}

/** Every inherited input wired with an explicit edge from the output it inherits. */
export function wireCarriedInputs(pipeline: Pipeline): Pipeline {
  const v = validatePipeline(pipeline, registry);
  const implied = [...v.inherited].flatMap(([target, ports]) =>
    [...ports].map(([targetPort, from], i) => ({
      id: `carried-${target}-${targetPort}-${i}`,
      source: from.node,
      sourcePort: from.port,
      target,
      targetPort,
    })),
  );
  return { ...pipeline, edges: [...pipeline.edges, ...implied] };
}

/** Each input's source as `node.port`, wired or inherited, sorted: equal for equal wirings. */
export function effectiveInputs(pipeline: Pipeline): string[] {
  const v = validatePipeline(pipeline, registry);
  const wired = pipeline.edges.map(
    (e) => `${e.source}.${e.sourcePort}->${e.target}.${e.targetPort}`,
  );
  const inherited = [...v.inherited].flatMap(([target, ports]) =>
    [...ports].map(([port, from]) => `${from.node}.${from.port}->${target}.${port}`),
  );
  return [...wired, ...inherited].sort();
}
