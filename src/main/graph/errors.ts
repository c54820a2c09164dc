/**
 * Errors of the graph layer, kept free of tensor imports so that loading and validating a
 * pipeline (`d2nwg validate`, the app's import) does not pull in the engine.
 */
import { formatProblem, type PipelineProblem } from '../../shared/nodes/validate.ts';
import { InputError } from '../engine/errors.ts';

/** A pipeline that failed validation; the CLI maps it to exit code 2 and prints every problem. */
export class PipelineInvalidError extends InputError {
  constructor(
    readonly problems: readonly PipelineProblem[],
    where?: string,
  ) {
    super(
      `pipeline is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  - ${formatProblem(p)}`).join('\n'),
      where,
    );
  }
}
