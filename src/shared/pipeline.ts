/**
 * The pipeline file: the graph the canvas edits, `d2nwg run` executes and the store snapshots.
 * It is JSON on disk, readable in a diff, and it is never trusted: everything goes through
 * `pipelineSchema` first, then `migratePipeline` brings old node versions up to the registry's.
 * Per-node config is kept as `unknown` here because only the node's spec knows its schema; the
 * executor's validation parses it.
 */
import { z } from 'zod';
import { jsonValueDepth } from './json-depth.ts';
import { formatIssuePath, strictObject } from './issues.ts';
import type { NodeRegistry } from './nodes/spec.ts';
import { errorMessage } from './errors.ts';

/** The `format` tag every pipeline file carries, so a stray JSON file is refused early. */
export const PIPELINE_FORMAT = 'd2nwg-pipeline';
/** Version of the file layout itself (not of the nodes: those carry their own versions). */
export const PIPELINE_VERSION = 1;

/**
 * Most nodes a pipeline may have. The largest shipped pipelines have tens of nodes; the bound
 * keeps validation, the executor's ordering and the canvas from being handed an unbounded graph.
 */
export const MAX_PIPELINE_NODES = 2_000;
/** Most edges a pipeline may have (a few inputs per node at the node limit). */
export const MAX_PIPELINE_EDGES = 10_000;
/**
 * Deepest array/object nesting a node's config may have. Real configs are 2–3 levels deep; a
 * deeper one would overflow the stack in whatever walks it recursively later (JSON.stringify for
 * the run snapshot, structured clone to the engine host).
 */
export const MAX_CONFIG_DEPTH = 32;

const id = z.string().min(1, 'must be a non-empty string');

/** One node on the canvas: a type from the registry, the spec version it was saved with, and its config. */
export const pipelineNodeSchema = strictObject({
  /** Unique in the pipeline; edges, events and errors refer to it. */
  id,
  /** A registry type id, e.g. 'dataset.source'. */
  type: id,
  /** The spec version the config was written for; older ones are migrated on load. */
  version: z.number().int().min(1),
  /** Optional user label shown instead of the spec's title. */
  title: z.string().optional(),
  /** The node's config, validated by its spec's zod schema at validation time. */
  config: z
    .unknown()
    .default({})
    .refine((v) => jsonValueDepth(v, MAX_CONFIG_DEPTH) <= MAX_CONFIG_DEPTH, {
      message: `config nests deeper than ${MAX_CONFIG_DEPTH} levels`,
    }),
  /** Where the node sits on the canvas. */
  position: strictObject({ x: z.number(), y: z.number() }).default({ x: 0, y: 0 }),
});
export type PipelineNode = z.infer<typeof pipelineNodeSchema>;

/** A connection from an output port of one node to an input port of another. */
export const pipelineEdgeSchema = strictObject({
  /** Unique in the pipeline. */
  id,
  /** Node id the value comes from. */
  source: id,
  /** Output port id on the source node. */
  sourcePort: id,
  /** Node id the value goes to. */
  target: id,
  /** Input port id on the target node. */
  targetPort: id,
});
export type PipelineEdge = z.infer<typeof pipelineEdgeSchema>;

/** A whole pipeline file. */
export const pipelineSchema = strictObject({
  format: z.literal(PIPELINE_FORMAT),
  version: z.literal(PIPELINE_VERSION),
  /** Short name, shown in run lists. */
  name: z.string().min(1),
  /** What the pipeline is for; may document placeholders the user must fill in. */
  description: z.string().optional(),
  nodes: z
    .array(pipelineNodeSchema)
    .max(MAX_PIPELINE_NODES, `a pipeline may have at most ${MAX_PIPELINE_NODES} nodes`),
  edges: z
    .array(pipelineEdgeSchema)
    .max(MAX_PIPELINE_EDGES, `a pipeline may have at most ${MAX_PIPELINE_EDGES} edges`)
    .default([]),
});
export type Pipeline = z.infer<typeof pipelineSchema>;

/** Outcome of parsing untrusted JSON as a pipeline: the pipeline, or every problem found. */
export type ParsePipelineResult =
  | { readonly ok: true; readonly pipeline: Pipeline }
  | { readonly ok: false; readonly problems: readonly string[] };

/**
 * Parse untrusted JSON (already `JSON.parse`d) as a pipeline file. Returns all structural problems
 * at once, each naming the field, and names the node id when the problem is inside a node.
 */
export function parsePipeline(json: unknown): ParsePipelineResult {
  const r = pipelineSchema.safeParse(json);
  if (r.success) return { ok: true, pipeline: r.data };
  const problems = r.error.issues.map((issue) => {
    let nodeHint = '';
    if (issue.path[0] === 'nodes' && typeof issue.path[1] === 'number' && isRecord(json)) {
      const nodes = json.nodes;
      const node = Array.isArray(nodes) ? (nodes[issue.path[1]] as unknown) : undefined;
      if (isRecord(node) && typeof node.id === 'string') nodeHint = ` (node '${node.id}')`;
    }
    return `${formatIssuePath(issue.path) || '(root)'}${nodeHint}: ${issue.message}`;
  });
  return { ok: false, problems };
}

/** A plain JSON object (not null, not an array). */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** One node whose config was upgraded by its spec's `migrate`. */
export interface NodeMigration {
  /** The node that changed. */
  readonly nodeId: string;
  /** Version it was saved with. */
  readonly from: number;
  /** Version it has now (the registry's). */
  readonly to: number;
}

/** A node that could not be brought to the registry's version. */
export interface MigrationProblem {
  /** The node at fault. */
  readonly nodeId: string;
  /** What is wrong, in words a user can act on. */
  readonly message: string;
}

/** What `migratePipeline` did: the upgraded pipeline, the nodes it changed, and what it could not do. */
export interface MigrateResult {
  /** A new pipeline object; the input is not modified. */
  readonly pipeline: Pipeline;
  /** Nodes whose config was upgraded. */
  readonly migrated: readonly NodeMigration[];
  /** Nodes saved by a newer app, or whose spec has no migration for their version. */
  readonly problems: readonly MigrationProblem[];
}

/**
 * Bring every node to its spec's current version through the spec's `migrate(config, fromVersion)`.
 * Nodes of unknown types are left as they are (validation reports them); nodes already current are
 * untouched. A node saved by a newer version than the registry knows, or an old one whose spec has
 * no `migrate`, is reported, not guessed at.
 */
export function migratePipeline(pipeline: Pipeline, registry: NodeRegistry): MigrateResult {
  const migrated: NodeMigration[] = [];
  const problems: MigrationProblem[] = [];
  const nodes = pipeline.nodes.map((node) => {
    const spec = registry.get(node.type);
    if (!spec || node.version === spec.version) return node;
    if (node.version > spec.version) {
      problems.push({
        nodeId: node.id,
        message: `saved with ${node.type} v${node.version}, but this app knows only up to v${spec.version}; update the app`,
      });
      return node;
    }
    if (!spec.migrate) {
      problems.push({
        nodeId: node.id,
        message: `saved with ${node.type} v${node.version}; v${spec.version} has no migration from it`,
      });
      return node;
    }
    try {
      const config = spec.migrate(node.config, node.version);
      migrated.push({ nodeId: node.id, from: node.version, to: spec.version });
      return { ...node, version: spec.version, config };
    } catch (err) {
      problems.push({
        nodeId: node.id,
        message: `migration from v${node.version} failed: ${errorMessage(err)}`,
      });
      return node;
    }
  });
  return { pipeline: { ...pipeline, nodes }, migrated, problems };
}

/** A pipeline as the JSON file export writes (two-space indent, final newline). */
export function pipelineFileText(pipeline: Pipeline): string {
  return `${JSON.stringify(pipeline, null, 2)}\n`;
}

/**
 * A file name for a pipeline: its name with anything but letters, digits, `.`, `_` and `-`
 * turned into `-`, and `.json`; `pipeline.json` when nothing is left.
 */
export function pipelineFileName(name: string): string {
  const stem = name
    .trim()
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[-.]+|-+$/g, '')
    .slice(0, 100);
  return `${stem || 'pipeline'}.json`;
}
