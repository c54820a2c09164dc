/**
 * `d2nwg quickstart`: the one command a new user runs. It executes the bundled quickstart
 * pipeline (the whole method on the embedded Fashion-MNIST, CPU-sized), records it in the default
 * store, prints one table of the seen, unseen-combo and unseen-class tasks (D2NWG best-of-6 and
 * mean-of-6 beside the zoo's own checkpoints, RandInit, Pretrained (source), NCM and LDA, at 0/1/5
 * fine-tuning epochs, mean ± std over tasks) with what each split means, and exports the
 * generated weights as safetensors.
 */
import * as path from 'node:path';
import { resourcesDir } from '../../engine/data/sources.ts';
import { InputError } from '../../engine/errors.ts';
import { defaultDbPath } from '../../store/index.ts';
import { intFlag, parseCliArgs } from '../args.ts';
import type { CliCommand } from '../command.ts';
import { executePipeline } from './run.ts';

/** The user's data folder: $XDG_DATA_HOME/d2nwg-studio, else ~/.local/share/d2nwg-studio. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.dirname(defaultDbPath(env));
}

/** The bundled quickstart pipeline file. */
export function quickstartPipelinePath(): string {
  return path.join(resourcesDir(), 'pipelines', 'quickstart.json');
}

export const quickstartCommand: CliCommand = {
  name: 'quickstart',
  summary: 'Run the bundled D2NWG demo end to end, seen and unseen tasks (about a minute on a CPU)',
  usage: [
    'Usage: d2nwg quickstart [--db FILE | --no-db] [--data-dir DIR] [--seed N] [--backend NAME]',
    '',
    'Runs resources/pipelines/quickstart.json: Fashion-MNIST tasks → zoo (fine-tuned from one',
    'body pretrained on every known class) → weight VAE → dataset encoder → latent diffusion →',
    "sampled weights, each with its class head (a class's output row generated from that class's",
    'support samples). Then, on 4 tasks of each split, one table:',
    '  seen          the tasks the zoo trained on (the zoo row: its own checkpoints there)',
    '  unseen-combo  known classes in a class set no zoo task used',
    '  unseen-class  tasks with classes held out of the zoo entirely',
    'with D2NWG (best of 6 samples by training accuracy, and the mean over the 6), RandInit and',
    "Pretrained (source: the zoo's pretrained body, fresh head) at 0, 1 and 5 fine-tuning epochs,",
    'and NCM and LDA (no training) as references; mean ± std over tasks. Exports the best',
    'generated model per task as safetensors under DATA-DIR/exports/quickstart/RUN-ID (feature',
    'pipeline included: the models take raw images). The run is recorded in the store.',
    '',
    'Options:',
    `  --db FILE        store to record in (default ${defaultDbPath()})`,
    '  --no-db          do not record the run',
    `  --data-dir DIR   where exports go (default ${defaultDataDir()})`,
    '  --seed N         seed of the run (default 0)',
    '  --backend NAME   tensor backend: wasm, cpu or tensorflow',
    '',
    'Exit codes: 0 done, 1 a node failed or the run was cancelled, 2 bad options.',
  ].join('\n'),
  async run(argv) {
    const { values, positionals } = parseCliArgs('quickstart', argv, {
      db: { type: 'string' },
      'no-db': { type: 'boolean', default: false },
      'data-dir': { type: 'string' },
      seed: { type: 'string' },
      backend: { type: 'string' },
    });
    if (positionals.length > 0) {
      throw new InputError(`unexpected argument '${positionals[0]}'`, 'd2nwg quickstart');
    }
    if (values['no-db'] && values.db) {
      throw new InputError('--db and --no-db exclude each other', 'd2nwg quickstart');
    }
    const dataDir = path.resolve(values['data-dir'] ?? defaultDataDir());
    const outcome = await executePipeline({
      file: quickstartPipelinePath(),
      dbPath: values['no-db'] ? null : path.resolve(values.db ?? defaultDbPath()),
      dataDir,
      seed: intFlag(values.seed, 'seed', 0),
      backend: values.backend,
    });
    if (outcome.code === 0) {
      // The Export node writes into its own <folder>/<run id>/ and reports it.
      const folder = outcome.result?.nodes.get('export')?.summary?.folder;
      console.error(
        `generated weights exported under ${typeof folder === 'string' ? folder : path.join(dataDir, 'exports', 'quickstart')} ` +
          '(each with manifest.json; the models take raw 28×28 images)',
      );
    }
    return outcome.code;
  },
};
