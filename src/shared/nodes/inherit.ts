/**
 * Inputs that flow along the spine. A port with `inheritFrom` needs no edge of its own: the value
 * on one of its node's carrier inputs carries it. What a value carries is its producer's context:
 * the producer's outputs, then what its own inputs got (wired or carried), then, transitively, what
 * those carried. So the Features value carries its Tasks and Dataset, the Zoo its Features, the
 * VAE its Zoo, the Encoder its VAE, the Diffusion model its Encoder, a Sampler's weights its target
 * tasks and features, and so on.
 *
 * Resolution is on the graph, not on the values: an inherited input is an implied edge from the
 * very output an explicit edge would come from. The executor feeds it the same value and hashes it
 * into the cache key the same way, so a chain and the fully wired graph give the same results and
 * share cache entries, and nothing is copied into stored artifacts.
 */
import type { Pipeline } from '../pipeline.ts';
import type { NodeRegistry, NodeSpec, PortSpec, PortType } from './spec.ts';

/** An output port of a node: where an input's value comes from. */
export interface PortSource {
  readonly node: string;
  readonly port: string;
}

/** An unwired input whose value is taken from what a carrier input carries. */
export interface InheritedInput extends PortSource {
  /** The carrier input (of the same node) it was taken from. */
  readonly via: string;
}

/** An input problem found while resolving: a needed value nobody carries, or a disagreement. */
export interface InheritProblem {
  readonly code: 'missing-input' | 'input-conflict';
  readonly nodeId: string;
  readonly message: string;
}

/** Per node id, per input port id: the inherited inputs, and the problems. */
export interface InheritResolution {
  readonly inherited: ReadonlyMap<string, ReadonlyMap<string, InheritedInput>>;
  readonly problems: readonly InheritProblem[];
}

const sourceName = (s: PortSource) => `${s.node}.${s.port}`;

/**
 * Resolve every input of every node: wired (one edge), inherited (see the module comment), or
 * missing. A required input that is neither wired nor carried is a 'missing-input' problem naming
 * its carriers; a wired input that differs from what its first carrier carries is an
 * 'input-conflict' unless its port allows an override (`onConflict: 'override'`). Nodes of unknown
 * types and edges to unknown ports are left to validatePipeline, which reports them.
 */
export function resolveInputs(pipeline: Pipeline, registry: NodeRegistry): InheritResolution {
  const specs = new Map<string, NodeSpec>();
  for (const n of pipeline.nodes) {
    const spec = registry.get(n.type);
    if (spec && !specs.has(n.id)) specs.set(n.id, spec);
  }
  /**
   * Wired sources per node per input port: edges from an existing node to a known input, as
   * validatePipeline counts them (it reports a bad source port on its own).
   */
  const ids = new Set(pipeline.nodes.map((n) => n.id));
  const wired = new Map<string, Map<string, PortSource[]>>();
  for (const e of pipeline.edges) {
    const dst = specs.get(e.target);
    if (!ids.has(e.source) || !dst?.inputs.some((p) => p.id === e.targetPort)) continue;
    const ports = wired.get(e.target) ?? new Map<string, PortSource[]>();
    ports.set(e.targetPort, [
      ...(ports.get(e.targetPort) ?? []),
      { node: e.source, port: e.sourcePort },
    ]);
    wired.set(e.target, ports);
  }

  const inherited = new Map<string, Map<string, InheritedInput>>();
  const problems: InheritProblem[] = [];
  /** Context per node id: port type → source; null while being computed (a cycle). */
  const contexts = new Map<string, ReadonlyMap<PortType, PortSource> | null>();
  /** Resolved source per `${node}\u0000${port}` (null: none). */
  const resolved = new Map<string, PortSource | null>();

  const contextOf = (nodeId: string): ReadonlyMap<PortType, PortSource> => {
    const known = contexts.get(nodeId);
    if (known) return known;
    const spec = specs.get(nodeId);
    if (known === null || !spec) return new Map(); // a cycle (reported by validate) or unknown node
    contexts.set(nodeId, null);
    const ctx = new Map<PortType, PortSource>();
    for (const p of spec.outputs)
      if (!ctx.has(p.type)) ctx.set(p.type, { node: nodeId, port: p.id });
    const sources: PortSource[] = [];
    for (const p of spec.inputs) {
      if (p.multiple) continue;
      const s = sourceOf(nodeId, spec, p);
      if (!s) continue;
      sources.push(s);
      if (!ctx.has(p.type)) ctx.set(p.type, s);
    }
    for (const s of sources) {
      for (const [type, carried] of contextOf(s.node)) if (!ctx.has(type)) ctx.set(type, carried);
    }
    contexts.set(nodeId, ctx);
    return ctx;
  };

  /** What the first carrier of `port` that carries its type carries, and which carrier that is. */
  const carried = (
    nodeId: string,
    spec: NodeSpec,
    port: PortSpec,
  ): { source: PortSource; via: string } | undefined => {
    for (const via of port.inheritFrom ?? []) {
      const carrier = spec.inputs.find((p) => p.id === via);
      if (!carrier || carrier.id === port.id) continue;
      const c = sourceOf(nodeId, spec, carrier);
      const source = c ? contextOf(c.node).get(port.type) : undefined;
      if (source) return { source, via };
    }
    return undefined;
  };

  const sourceOf = (nodeId: string, spec: NodeSpec, port: PortSpec): PortSource | undefined => {
    const key = `${nodeId}\u0000${port.id}`;
    if (resolved.has(key)) return resolved.get(key) ?? undefined;
    resolved.set(key, null); // guards a carrier chain that loops back to this port
    const edges = wired.get(nodeId)?.get(port.id) ?? [];
    let source: PortSource | undefined;
    if (edges.length === 1) source = edges[0];
    else if (edges.length === 0 && port.inheritFrom) {
      const c = carried(nodeId, spec, port);
      if (c) {
        source = { node: c.source.node, port: c.source.port };
        const ports = inherited.get(nodeId) ?? new Map<string, InheritedInput>();
        ports.set(port.id, { ...source, via: c.via });
        inherited.set(nodeId, ports);
      }
    }
    resolved.set(key, source ?? null);
    return source;
  };

  for (const [nodeId, spec] of specs) {
    for (const port of spec.inputs) {
      const edges = wired.get(nodeId)?.get(port.id) ?? [];
      const source = sourceOf(nodeId, spec, port);
      if (!source && edges.length === 0 && !port.optional) {
        const isFed = (c: string) => {
          const carrier = spec.inputs.find((p) => p.id === c);
          return carrier !== undefined && sourceOf(nodeId, spec, carrier) !== undefined;
        };
        problems.push({ code: 'missing-input', nodeId, message: missingMessage(port, isFed) });
      }
      if (edges.length === 1 && port.inheritFrom && port.onConflict !== 'override') {
        const c = carried(nodeId, spec, port);
        if (c && sourceName(c.source) !== sourceName(edges[0])) {
          problems.push({
            code: 'input-conflict',
            nodeId,
            message:
              `input '${port.id}' is wired to ${sourceName(edges[0])}, but the value on ` +
              `'${c.via}' carries ${sourceName(c.source)}: remove the edge to '${port.id}' to ` +
              `use the carried value, or wire both from the same chain`,
          });
        }
      }
    }
  }
  return { inherited, problems };
}

function missingMessage(port: PortSpec, isFed: (carrier: string) => boolean): string {
  const base = `required input '${port.id}' (${port.type}) is not connected`;
  const carriers = port.inheritFrom ?? [];
  if (carriers.length === 0) return base;
  const names = carriers.map((c) => `'${c}'`).join(', ');
  const connected = carriers.filter(isFed);
  if (connected.length === 0) {
    return `${base}, nor is ${carriers.length > 1 ? 'any input' : 'the input'} it can be taken from (${names}): connect '${port.id}' or ${names}`;
  }
  const on = connected.map((c) => `'${c}'`).join(', ');
  return `${base}, and the value on ${on} does not carry one (its chain has no ${port.type}): connect '${port.id}'`;
}
