/**
 * The canvas model: React Flow nodes/edges ⇄ pipeline JSON, ids, and validation with the shared
 * validator (the same code the executor runs), so what the canvas marks invalid is exactly what
 * the engine would refuse.
 */
import type { Edge, Node } from '@xyflow/react';
import type { NodeSpecInfo } from '../../../shared/ipc.ts';
import type { InheritedInput } from '../../../shared/nodes/inherit.ts';
import { registry } from '../../../shared/nodes/registry.ts';
import { validatePipeline, type PipelineProblem } from '../../../shared/nodes/validate.ts';
import {
  PIPELINE_FORMAT,
  PIPELINE_VERSION,
  migratePipeline,
  type Pipeline,
} from '../../../shared/pipeline.ts';

export type { NodeStatus } from './run-store.ts';

/** What a canvas node carries. */
export type StudioNodeData = {
  /** Registry type id. */
  type: string;
  /** Spec version the config is written for. */
  version: number;
  /** Node config as edited (may be invalid while the user types). */
  config: unknown;
  /** Optional user label. */
  title?: string;
};

export type StudioNode = Node<StudioNodeData, 'studio'>;
export type StudioEdge = Edge;

/** Build canvas nodes and edges from a pipeline. */
export function fromPipeline(p: Pipeline): { nodes: StudioNode[]; edges: StudioEdge[] } {
  const migrated = migratePipeline(p, registry).pipeline;
  return {
    nodes: migrated.nodes.map((n) => ({
      id: n.id,
      type: 'studio',
      position: n.position,
      data: {
        type: n.type,
        version: n.version,
        config: n.config,
        ...(n.title ? { title: n.title } : {}),
      },
    })),
    edges: migrated.edges.map((e) => ({
      id: e.id,
      source: e.source,
      sourceHandle: e.sourcePort,
      target: e.target,
      targetHandle: e.targetPort,
    })),
  };
}

/** The pipeline JSON of the canvas. */
export function toPipeline(
  name: string,
  description: string | undefined,
  nodes: readonly StudioNode[],
  edges: readonly StudioEdge[],
): Pipeline {
  return {
    format: PIPELINE_FORMAT,
    version: PIPELINE_VERSION,
    name: name || 'Untitled',
    ...(description ? { description } : {}),
    nodes: nodes.map((n) => ({
      id: n.id,
      type: n.data.type,
      version: n.data.version,
      ...(n.data.title ? { title: n.data.title } : {}),
      config: n.data.config,
      position: { x: Math.round(n.position.x), y: Math.round(n.position.y) },
    })),
    edges: edges.map((e) => ({
      id: e.id,
      source: e.source,
      sourcePort: e.sourceHandle ?? '',
      target: e.target,
      targetPort: e.targetHandle ?? '',
    })),
  };
}

/** Validate the canvas as the executor would; problems keyed by node id ('' for the pipeline). */
export function validate(p: Pipeline): {
  ok: boolean;
  problems: readonly PipelineProblem[];
  byNode: Map<string, string[]>;
  /** The unwired inputs taken from what a carrier input carries, per node and port. */
  inherited: ReadonlyMap<string, ReadonlyMap<string, InheritedInput>>;
} {
  const v = validatePipeline(p, registry);
  const byNode = new Map<string, string[]>();
  for (const pr of v.problems) {
    const k = pr.nodeId ?? '';
    byNode.set(k, [...(byNode.get(k) ?? []), pr.message]);
  }
  return { ok: v.ok, problems: v.problems, byNode, inherited: v.inherited };
}

/**
 * How the canvas and the inspector name an inherited input: where its value comes from and which
 * input carries it, e.g. "from zoo.zoo, carried by VAE".
 */
export function carriedText(spec: NodeSpecInfo | undefined, from: InheritedInput): string {
  const carrier = spec?.inputs.find((p) => p.id === from.via)?.label ?? from.via;
  return `from ${from.node}.${from.port}, carried by ${carrier}`;
}

/** A fresh id not used by any node: `<short type>-<n>`. */
export function newNodeId(type: string, taken: Iterable<string>): string {
  const used = new Set(taken);
  const base = type.split('.').pop() ?? 'node';
  for (let i = 1; ; i++) {
    const id = `${base}-${i}`;
    if (!used.has(id)) return id;
  }
}

/** A canvas node of `spec` at `position`, with the spec's default config. */
export function makeNode(
  spec: NodeSpecInfo,
  position: { x: number; y: number },
  taken: Iterable<string>,
): StudioNode {
  return {
    id: newNodeId(spec.type, taken),
    type: 'studio',
    position,
    data: { type: spec.type, version: spec.version, config: structuredClone(spec.defaults) },
  };
}

/** Edge id from its ends; stable so the same connection is never added twice. */
export function edgeId(source: string, sourcePort: string, target: string, targetPort: string) {
  return `${source}.${sourcePort}->${target}.${targetPort}`;
}
