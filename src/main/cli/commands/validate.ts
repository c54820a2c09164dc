/** `d2nwg validate PIPELINE.json`: every problem of a pipeline file, with node ids, before running it. */
import { registry } from '../../../shared/nodes/registry.ts';
import { formatProblem } from '../../../shared/nodes/validate.ts';
import { checkPipelineFile } from '../../graph/load.ts';
import { parseCliArgs } from '../args.ts';
import type { CliCommand } from '../command.ts';
import { InputError } from '../../engine/errors.ts';

export const validateCommand: CliCommand = {
  name: 'validate',
  summary: 'Check a pipeline file: node types, configs, edges, port types, cycles',
  usage: [
    'Usage: d2nwg validate PIPELINE.json [--quiet]',
    '',
    'Parses the pipeline, upgrades old node versions, and checks it against the node registry.',
    'Prints every problem at once, each with the node or edge it belongs to.',
    '',
    'Options:',
    '  --quiet   print nothing when the pipeline is valid',
    '',
    'Exit codes: 0 valid, 2 invalid (or unreadable).',
  ].join('\n'),
  async run(argv) {
    const { values, positionals } = parseCliArgs('validate', argv, {
      quiet: { type: 'boolean', default: false },
    });
    if (positionals.length !== 1) {
      throw new InputError('expected exactly one pipeline file', 'd2nwg validate');
    }
    const file = positionals[0];
    const check = await checkPipelineFile(file, registry);
    for (const m of check.migrated) {
      console.error(`note: node '${m.nodeId}' upgraded from v${m.from} to v${m.to}`);
    }
    if (check.problems.length > 0) {
      console.error(
        `${file}: ${check.problems.length} problem${check.problems.length === 1 ? '' : 's'}:`,
      );
      for (const p of check.problems) console.error(`  - ${formatProblem(p)}`);
      return 2;
    }
    if (!values.quiet) {
      const n = check.pipeline?.nodes.length ?? 0;
      const order = check.validation?.order ?? [];
      console.log(`${file}: valid (${n} node${n === 1 ? '' : 's'}; order: ${order.join(' → ')})`);
    }
    return 0;
  },
};
