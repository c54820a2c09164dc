/**
 * From a pipeline file (or untrusted JSON) to a pipeline the executor can run: parse, migrate old
 * node versions, validate. Every step's problems are collected, so `d2nwg validate` and the app's
 * import show all of them at once.
 */
import type { NodeRegistry } from '../../shared/nodes/spec.ts';
import {
  formatProblem,
  validatePipeline,
  type PipelineProblem,
  type PipelineValidation,
} from '../../shared/nodes/validate.ts';
import {
  migratePipeline,
  parsePipeline,
  type NodeMigration,
  type Pipeline,
} from '../../shared/pipeline.ts';
import { PipelineInvalidError } from './errors.ts';
import { readJson } from '../engine/formats/json-file.ts';

/** Outcome of checking a pipeline: what could be parsed, and every problem found, as lines. */
export interface PipelineCheck {
  /** The parsed, migrated pipeline; null if the JSON is not a pipeline at all. */
  readonly pipeline: Pipeline | null;
  /** Validation against the registry, when the structure parsed. */
  readonly validation: PipelineValidation | null;
  /** Nodes upgraded from older spec versions. */
  readonly migrated: readonly NodeMigration[];
  /** Every problem, each naming the node or field at fault. */
  readonly problems: readonly PipelineProblem[];
}

/** Parse, migrate and validate JSON that claims to be a pipeline. */
export function checkPipelineJson(json: unknown, registry: NodeRegistry): PipelineCheck {
  const parsed = parsePipeline(json);
  if (!parsed.ok) {
    return {
      pipeline: null,
      validation: null,
      migrated: [],
      problems: parsed.problems.map((message) => ({ code: 'bad-config', message })),
    };
  }
  const m = migratePipeline(parsed.pipeline, registry);
  const validation = validatePipeline(m.pipeline, registry);
  const migrationProblems: PipelineProblem[] = m.problems.map((p) => ({
    code: 'version',
    nodeId: p.nodeId,
    message: p.message,
  }));
  // A failed migration also shows up as a version problem in validation; keep the clearer one.
  const failedIds = new Set(m.problems.map((p) => p.nodeId));
  const rest = validation.problems.filter(
    (p) => !(p.code === 'version' && p.nodeId && failedIds.has(p.nodeId)),
  );
  return {
    pipeline: m.pipeline,
    validation,
    migrated: m.migrated,
    problems: [...migrationProblems, ...rest],
  };
}

/** Read a pipeline file and check it; unreadable files and bad JSON raise InputError naming the file. */
export async function checkPipelineFile(
  path: string,
  registry: NodeRegistry,
): Promise<PipelineCheck> {
  const json = await readJson(path, { what: 'pipeline file' });
  return checkPipelineJson(json, registry);
}

/** Read, migrate and validate a pipeline file, throwing PipelineInvalidError listing every problem. */
export async function loadPipelineFile(path: string, registry: NodeRegistry): Promise<Pipeline> {
  const check = await checkPipelineFile(path, registry);
  if (!check.pipeline || check.problems.length)
    throw new PipelineInvalidError(check.problems, path);
  return check.pipeline;
}

export { formatProblem };
