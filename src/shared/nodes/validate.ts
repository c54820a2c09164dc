/**
 * Static checks of a pipeline against the registry. Pure TS so that the canvas can show the same
 * problems live that `d2nwg validate` prints and the executor refuses to run; it reports every
 * problem at once, each with the node (or edge) it belongs to, so a user fixes a file in one pass.
 */
import { formatIssue } from '../issues.ts';
import type { Pipeline, PipelineNode } from '../pipeline.ts';
import { resolveInputs, type InheritedInput } from './inherit.ts';
import type { NodeRegistry, NodeSpec, PortSpec } from './spec.ts';

/** Kinds of pipeline problems, for filtering and for tests. */
export type PipelineProblemCode =
  | 'duplicate-id'
  | 'unknown-type'
  | 'version'
  | 'bad-config'
  | 'dangling-edge'
  | 'unknown-port'
  | 'type-mismatch'
  | 'missing-input'
  | 'input-conflict'
  | 'multiple-edges'
  | 'cycle';

/** One thing wrong with a pipeline. */
export interface PipelineProblem {
  readonly code: PipelineProblemCode;
  /** The node at fault (for edges: the target node when it exists), if any. */
  readonly nodeId?: string;
  /** The edge at fault, if any. */
  readonly edgeId?: string;
  /** What is wrong, naming node ids, ports and config paths. */
  readonly message: string;
}

/** Result of validation: the problems, and the parsed config of every node whose config is valid. */
export interface PipelineValidation {
  readonly ok: boolean;
  readonly problems: readonly PipelineProblem[];
  /** Parsed (defaults filled in) config per node id, for nodes whose config parsed. */
  readonly configs: ReadonlyMap<string, unknown>;
  /** Node ids in execution order (stable: file order among independent nodes); [] when there is a cycle. */
  readonly order: readonly string[];
  /**
   * Per node id, per input port id: the unwired inputs taken from what a carrier input carries
   * (inherit.ts). The executor feeds them as if wired; the canvas shows them as satisfied.
   */
  readonly inherited: ReadonlyMap<string, ReadonlyMap<string, InheritedInput>>;
}

/** Format a problem as one line for terminals and logs. */
export function formatProblem(p: PipelineProblem): string {
  const where = p.nodeId ? `node '${p.nodeId}'` : p.edgeId ? `edge '${p.edgeId}'` : 'pipeline';
  return `${where}: ${p.message}`;
}

/**
 * Check node types, versions, configs, edges, port types, required and single inputs, and cycles.
 * Assumes `pipeline` went through `parsePipeline` (structure) and `migratePipeline` (versions).
 */
export function validatePipeline(pipeline: Pipeline, registry: NodeRegistry): PipelineValidation {
  const problems: PipelineProblem[] = [];
  const configs = new Map<string, unknown>();
  const nodes = new Map<string, PipelineNode>();
  const specs = new Map<string, NodeSpec>();

  for (const node of pipeline.nodes) {
    if (nodes.has(node.id)) {
      problems.push({
        code: 'duplicate-id',
        nodeId: node.id,
        message: `node id '${node.id}' is used more than once`,
      });
      continue;
    }
    nodes.set(node.id, node);
    const spec = registry.get(node.type);
    if (!spec) {
      problems.push({
        code: 'unknown-type',
        nodeId: node.id,
        message: `unknown node type '${node.type}'`,
      });
      continue;
    }
    specs.set(node.id, spec);
    if (node.version !== spec.version) {
      problems.push({
        code: 'version',
        nodeId: node.id,
        message: `config is for ${node.type} v${node.version}, this app has v${spec.version}`,
      });
      continue;
    }
    const parsed = spec.config.safeParse(node.config ?? {});
    if (parsed.success) {
      configs.set(node.id, parsed.data);
    } else {
      for (const issue of parsed.error.issues) {
        problems.push({
          code: 'bad-config',
          nodeId: node.id,
          message: formatIssue(issue, ['config']),
        });
      }
    }
  }

  const edgeIds = new Set<string>();
  /** Incoming edges per `${nodeId}\u0000${portId}`. */
  const incoming = new Map<string, string[]>();
  const succ = new Map<string, Set<string>>();
  for (const id of nodes.keys()) succ.set(id, new Set());

  for (const edge of pipeline.edges) {
    if (edgeIds.has(edge.id)) {
      problems.push({
        code: 'duplicate-id',
        edgeId: edge.id,
        message: `edge id '${edge.id}' is used more than once`,
      });
    }
    edgeIds.add(edge.id);
    const src = nodes.get(edge.source);
    const dst = nodes.get(edge.target);
    const label = `edge '${edge.id}' (${edge.source}.${edge.sourcePort} → ${edge.target}.${edge.targetPort})`;
    if (!src || !dst) {
      const missing = [!src ? edge.source : null, !dst ? edge.target : null].filter(
        (x): x is string => x !== null,
      );
      problems.push({
        code: 'dangling-edge',
        edgeId: edge.id,
        nodeId: dst ? dst.id : src?.id,
        message: `${label} refers to missing node${missing.length > 1 ? 's' : ''} ${missing.map((m) => `'${m}'`).join(' and ')}`,
      });
      continue;
    }
    succ.get(src.id)?.add(dst.id);
    const srcSpec = specs.get(src.id);
    const dstSpec = specs.get(dst.id);
    let outPort: PortSpec | undefined;
    let inPort: PortSpec | undefined;
    if (srcSpec) {
      outPort = srcSpec.outputs.find((p) => p.id === edge.sourcePort);
      if (!outPort) {
        problems.push({
          code: 'unknown-port',
          nodeId: src.id,
          edgeId: edge.id,
          message: `${label}: ${src.type} has no output port '${edge.sourcePort}' (outputs: ${portList(srcSpec.outputs)})`,
        });
      }
    }
    if (dstSpec) {
      inPort = dstSpec.inputs.find((p) => p.id === edge.targetPort);
      if (!inPort) {
        problems.push({
          code: 'unknown-port',
          nodeId: dst.id,
          edgeId: edge.id,
          message: `${label}: ${dst.type} has no input port '${edge.targetPort}' (inputs: ${portList(dstSpec.inputs)})`,
        });
      } else {
        const key = `${dst.id}\u0000${inPort.id}`;
        const list = incoming.get(key) ?? [];
        list.push(edge.id);
        incoming.set(key, list);
      }
    }
    if (outPort && inPort && outPort.type !== inPort.type) {
      problems.push({
        code: 'type-mismatch',
        nodeId: dst.id,
        edgeId: edge.id,
        message: `${label}: output type '${outPort.type}' does not fit input type '${inPort.type}'`,
      });
    }
  }

  for (const [nodeId, spec] of specs) {
    for (const port of spec.inputs) {
      const edges = incoming.get(`${nodeId}\u0000${port.id}`) ?? [];
      if (edges.length > 1 && !port.multiple) {
        problems.push({
          code: 'multiple-edges',
          nodeId,
          message: `input '${port.id}' takes one edge but has ${edges.length} (${edges.join(', ')})`,
        });
      }
    }
  }
  const { inherited, problems: inputProblems } = resolveInputs(pipeline, registry);
  problems.push(...inputProblems);

  const { order, cycles } = topoOrder([...nodes.keys()], succ);
  for (const cycle of cycles) {
    problems.push({
      code: 'cycle',
      nodeId: cycle[0],
      message: `cycle through nodes ${cycle.map((c) => `'${c}'`).join(' → ')} → '${cycle[0]}'`,
    });
  }
  return {
    ok: problems.length === 0,
    problems,
    configs,
    order: cycles.length ? [] : order,
    inherited,
  };
}

function portList(ports: readonly PortSpec[]): string {
  return ports.length ? ports.map((p) => p.id).join(', ') : 'none';
}

/**
 * Kahn's algorithm, taking ready nodes in their original order so the execution order is stable
 * and readable. Nodes left over sit on or behind a cycle; Tarjan's SCC picks out the cycles.
 */
export function topoOrder(
  ids: readonly string[],
  succ: ReadonlyMap<string, ReadonlySet<string>>,
): { order: string[]; cycles: string[][] } {
  const indeg = new Map<string, number>(ids.map((id) => [id, 0]));
  for (const targets of succ.values())
    for (const t of targets) indeg.set(t, (indeg.get(t) ?? 0) + 1);
  const position = new Map(ids.map((id, i) => [id, i]));
  const ready = ids.filter((id) => indeg.get(id) === 0);
  const order: string[] = [];
  while (ready.length) {
    ready.sort((a, b) => (position.get(a) ?? 0) - (position.get(b) ?? 0));
    const id = ready.shift() as string;
    order.push(id);
    for (const t of succ.get(id) ?? []) {
      const d = (indeg.get(t) ?? 0) - 1;
      indeg.set(t, d);
      if (d === 0) ready.push(t);
    }
  }
  if (order.length === ids.length) return { order, cycles: [] };
  const left = new Set(ids.filter((id) => !order.includes(id)));
  return { order, cycles: stronglyConnected(ids, left, succ) };
}

function stronglyConnected(
  ids: readonly string[],
  within: ReadonlySet<string>,
  succ: ReadonlyMap<string, ReadonlySet<string>>,
): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of succ.get(v) ?? []) {
      if (!within.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) ?? 0, idx.get(w) ?? 0));
      }
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string | undefined;
      do {
        w = stack.pop();
        if (w === undefined) break;
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      const selfLoop = succ.get(v)?.has(v) ?? false;
      if (comp.length > 1 || selfLoop) out.push(orderCycle(comp, succ, ids));
    }
  };
  for (const id of ids) if (within.has(id) && !idx.has(id)) visit(id);
  return out;
}

/** Walk the component from its first node (file order) along edges, so the message reads as a path. */
function orderCycle(
  comp: readonly string[],
  succ: ReadonlyMap<string, ReadonlySet<string>>,
  ids: readonly string[],
): string[] {
  const inComp = new Set(comp);
  const start = ids.find((id) => inComp.has(id)) ?? comp[0];
  const path = [start];
  const seen = new Set(path);
  let cur = start;
  for (;;) {
    const next = [...(succ.get(cur) ?? [])].find((n) => inComp.has(n) && !seen.has(n));
    if (next === undefined) break;
    path.push(next);
    seen.add(next);
    cur = next;
  }
  return seen.size === comp.length
    ? path
    : [...comp].sort((a, b) => ids.indexOf(a) - ids.indexOf(b));
}
