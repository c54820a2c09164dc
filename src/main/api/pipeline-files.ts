/**
 * Pipeline files coming in: the text of an imported file is parsed, migrated and checked with the
 * strict pipeline and config schemas before anything is saved. A file that is not JSON, not a
 * pipeline, or holds a node the registry cannot read is refused with every problem named (an
 * unknown config key with the key meant); a graph that is only unfinished (an input not yet
 * connected) imports, as the canvas would save it.
 */
import type { NodeRegistry } from '../../shared/nodes/spec.ts';
import type { PipelineProblemCode } from '../../shared/nodes/validate.ts';
import type { Pipeline } from '../../shared/pipeline.ts';
import { InputError } from '../engine/errors.ts';
import { parseJsonText } from '../engine/formats/json-file.ts';
import { checkPipelineJson, formatProblem } from '../graph/load.ts';

/** Problems of a graph still being built; such a file imports and the canvas shows them. */
const UNFINISHED: ReadonlySet<PipelineProblemCode> = new Set(['missing-input']);

/** Most problems one refusal lists (the count of the rest follows). */
const LISTED = 5;

/** The pipeline in an imported file's `text`, or an InputError naming `fileName` and the problems. */
export function importPipelineText(
  text: string,
  fileName: string,
  registry: NodeRegistry,
): Pipeline {
  const json = parseJsonText(text, fileName);
  const check = checkPipelineJson(json, registry);
  const refused = check.problems.filter((p) => !UNFINISHED.has(p.code));
  if (check.pipeline && refused.length === 0) return check.pipeline;
  const lines = refused
    .slice(0, LISTED)
    .map((p) => (check.pipeline ? formatProblem(p) : p.message));
  const more = refused.length > LISTED ? `; and ${refused.length - LISTED} more` : '';
  throw new InputError(`not a pipeline this studio can open: ${lines.join('; ')}${more}`, fileName);
}
