/**
 * `d2nwg zoo build|info|import`: the model zoo (stage 1) headless. Building is the longest CPU job
 * before the VAE, so it runs on worker threads, prints live progress and stops cleanly on Ctrl-C.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { intFlag, parseCliArgs } from '../args.ts';
import type { CliCommand } from '../command.ts';
import { initBackend } from '../../engine/backend.ts';
import { InputError } from '../../engine/errors.ts';
import type { Progress } from '../../engine/progress.ts';
import { buildZoo, parseZooConfig } from '../../engine/zoo/build.ts';
import { saveZoo, zooInfo, type ZooInfo } from '../../engine/zoo/storage.ts';
import { importAnyZoo } from '../../engine/zoo/torch-zoo.ts';
import { executorSettingWith, zooExecutorFor } from '../../engine/zoo/executor.ts';
import { ActivationSchema } from '../../../shared/schemas/zoo.ts';
import { ZOO_IMPORT_FORMATS } from '../../../shared/nodes/zoo-import.ts';
import { runZooBenchmark } from '../../engine/zoo/bench.ts';
import { writeJsonReport } from '../../engine/formats/atomic.ts';
import { benchmarks } from './bench.ts';
import { readJson } from '../../engine/formats/json-file.ts';

/**
 * `d2nwg bench zoo [--quick] [--rounds N] [--torch DIR] [--python BIN] [--out FILE]
 * [--backend NAME]`.
 */
async function zooBenchmark(argv: string[]): Promise<number> {
  const { values } = parseCliArgs(
    'bench zoo',
    argv,
    {
      quick: { type: 'boolean' },
      out: { type: 'string' },
      backend: { type: 'string' },
      rounds: { type: 'string' },
      torch: { type: 'string' },
      python: { type: 'string' },
    },
    false,
  );
  const out = values.out ?? path.join('bench', 'out', 'zoo.json');
  const rounds = values.rounds === undefined ? undefined : intFlag(values.rounds, 'rounds', 3);
  if (rounds !== undefined && rounds < 1) throw new InputError('--rounds must be at least 1');
  if (values.torch !== undefined && !fs.existsSync(path.join(values.torch, 'torch_zoo.py'))) {
    throw new InputError(`no torch_zoo.py in ${values.torch}`, '--torch');
  }
  await initBackend({ backend: values.backend, quiet: true });
  const report = await runZooBenchmark({
    quick: values.quick,
    rounds,
    torchDir: values.torch,
    python: values.python,
    log: (l) => console.log(l),
  });
  await writeJsonReport(out, report);
  console.log(`wrote ${out}`);
  return 0;
}

// The zoo benchmark lives with the zoo code; it joins `d2nwg bench` when the CLI loads.
benchmarks.zoo = zooBenchmark;

const USAGE = `Usage:
  d2nwg zoo build --config zoo.json --out DIR [--workers N] [--backend NAME]
                  [--queue redis://HOST:PORT [--queue-name NAME]]
  d2nwg zoo info DIR [--json]
  d2nwg zoo import SRC --out DIR [--format auto|d2nwg|schurholt|pdiff] [--activation NAME]

build   Train the zoo described by a JSON config (schema: ZooConfig in src/shared/schemas/zoo.ts:
        dataset, features, tasks, arch, train {epochs, batchSize, lr, keepLast, seeds}, workers,
        seed) and write it to DIR: safetensors shards + manifest.json + features.safetensors.
        --workers overrides the config's worker-thread count (0 = in this thread); it also sets
        how many batches the runs are split into at least, so with --queue give it the number
        of worker slots. --queue (default: D2NWG_QUEUE) trains the batches on \`d2nwg worker\`
        processes through a Redis queue instead of threads here; the zoo is the same.
info    Validate a zoo folder and print tasks, members, architecture, parameter count and the
        members' accuracy (mean/min/max).
import  Validate a zoo folder from elsewhere (every shard and member) and copy it to DIR.
        --format: d2nwg (this app's), schurholt (Schürholt et al.'s PyTorch model zoos: model
        folders with params.json, result.json, checkpoint_NNNNNN/checkpoints), pdiff (a folder
        of .pt/.pth checkpoints of one model); auto (default) detects it. PyTorch files are read
        without Python and nothing in them is run; only MLPs are imported. --activation
        (tanh|relu|leaky_relu): the imported MLPs' nonlinearity when params.json lacks it.

Exit codes: 0 ok, 1 failed, 2 bad input (config, files).`;

/** A throttled one-line progress printer: a live line on a terminal, sparse lines otherwise. */
function progressPrinter(): { update: (p: Progress) => void; done: () => void } {
  const tty = process.stderr.isTTY;
  let last = 0;
  let shown = false;
  const line = (p: Progress): string => {
    const pct = p.max > 0 ? Math.floor((100 * p.value) / p.max) : 0;
    const acc = p.metrics?.testAcc;
    return `zoo ${p.value}/${p.max} ${p.unit}s (${pct}%)${acc !== undefined ? ` test acc ${acc.toFixed(3)}` : ''}${p.label ? `  ${p.label}` : ''}`;
  };
  return {
    update(p) {
      const now = Date.now();
      const final = p.unit === 'member' && p.value === p.max;
      if (!final && now - last < (tty ? 150 : 5000)) return;
      last = now;
      if (tty) {
        process.stderr.write(`\r\x1b[2K${line(p)}`);
        shown = true;
      } else {
        console.error(line(p));
      }
    },
    done() {
      if (shown) process.stderr.write('\n');
    },
  };
}

function fmt(s: { mean: number; min: number; max: number }): string {
  return `mean ${s.mean.toFixed(4)}  min ${s.min.toFixed(4)}  max ${s.max.toFixed(4)}`;
}

function printInfo(info: ZooInfo): void {
  console.log(
    [
      `zoo        ${info.dir} (${info.format}, created ${info.created})`,
      `dataset    ${info.dataset}`,
      `arch       ${info.arch}`,
      `params     ${info.paramCount}`,
      `tasks      ${info.tasks.seen} seen, ${info.tasks.unseenCombo} unseen-combo, ${info.tasks.unseenClass} unseen-class`,
      `members    ${info.members} (${info.runs} runs, epochs ${info.epochs.join(',')}, ${info.shards} shard${info.shards === 1 ? '' : 's'})`,
      `test acc   ${fmt(info.testAcc)}`,
      `train acc  ${fmt(info.trainAcc)}`,
    ].join('\n'),
  );
}

async function build(argv: string[]): Promise<number> {
  const { values } = parseCliArgs(
    'zoo build',
    argv,
    {
      config: { type: 'string' },
      out: { type: 'string' },
      workers: { type: 'string' },
      backend: { type: 'string' },
      queue: { type: 'string' },
      'queue-name': { type: 'string' },
    },
    false,
  );
  if (!values.config) throw new InputError('--config FILE is required', 'd2nwg zoo build');
  if (!values.out) throw new InputError('--out DIR is required', 'd2nwg zoo build');
  const raw = await readJson(values.config);
  const cfg = parseZooConfig(raw, values.config);
  const workers = intFlag(values.workers, 'workers', cfg.workers);
  if (workers < 0 || workers > 64)
    throw new InputError(`--workers must be in 0..64, got ${workers}`);
  const executor = await zooExecutorFor(
    executorSettingWith({ queue: values.queue, queueName: values['queue-name'] }),
  );
  await initBackend({ backend: values.backend, quiet: true });
  const ac = new AbortController();
  const onSigint = (): void => ac.abort();
  process.once('SIGINT', onSigint);
  const printer = progressPrinter();
  try {
    const zoo = await buildZoo(
      { ...cfg, workers },
      { signal: ac.signal, onProgress: (p) => printer.update(p), executor },
    );
    printer.done();
    await saveZoo(values.out, zoo);
    printInfo(await zooInfo(values.out, false));
    const t = zoo.manifest.timings ?? {};
    console.log(
      `time       ${Object.entries(t)
        .map(([k, v]) => `${k} ${v.toFixed(1)}s`)
        .join(', ')}`,
    );
    return 0;
  } finally {
    printer.done();
    process.off('SIGINT', onSigint);
  }
}

async function info(argv: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs('zoo info', argv, { json: { type: 'boolean' } });
  const [dir, ...extra] = positionals;
  if (!dir || extra.length > 0)
    throw new InputError('expects exactly one zoo folder', 'd2nwg zoo info');
  const res = await zooInfo(dir, true);
  if (values.json) console.log(JSON.stringify(res, null, 2));
  else printInfo(res);
  return 0;
}

async function importCmd(argv: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs('zoo import', argv, {
    out: { type: 'string' },
    format: { type: 'string', default: 'auto' },
    activation: { type: 'string' },
  });
  const [src, ...extra] = positionals;
  if (!src || extra.length > 0)
    throw new InputError('expects exactly one source folder', 'd2nwg zoo import');
  if (!values.out) throw new InputError('--out DIR is required', 'd2nwg zoo import');
  const format = ZOO_IMPORT_FORMATS.find((f) => f === values.format);
  if (!format) {
    throw new InputError(
      `--format must be one of ${ZOO_IMPORT_FORMATS.join(', ')}, not '${values.format}'`,
      'd2nwg zoo import',
    );
  }
  const act = ActivationSchema.optional().safeParse(values.activation);
  if (!act.success) {
    throw new InputError(
      `--activation must be one of ${ActivationSchema.options.join(', ')}, not '${values.activation}'`,
      'd2nwg zoo import',
    );
  }
  const zoo = await importAnyZoo(src, values.out, format, { activation: act.data });
  console.log(`imported ${zoo.manifest.members.length} members from ${src} to ${values.out}`);
  printInfo(await zooInfo(values.out, false));
  return 0;
}

export const zooCommand: CliCommand = {
  name: 'zoo',
  summary: 'build, inspect or import a model zoo (stage 1)',
  usage: USAGE,
  async run(argv) {
    const [sub, ...rest] = argv;
    switch (sub) {
      case 'build':
        return build(rest);
      case 'info':
        return info(rest);
      case 'import':
        return importCmd(rest);
      default:
        throw new InputError(
          `${sub === undefined ? 'missing subcommand' : `unknown subcommand '${sub}'`}\n\n${USAGE}`,
          'd2nwg zoo',
        );
    }
  },
};
