/**
 * `d2nwg bench <name>`: named benchmarks that write a JSON result file, so numbers in docs and
 * reports come from one reproducible command. Other modules add entries to `benchmarks`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { intFlag, parseCliArgs } from '../args.ts';
import type { CliCommand } from '../command.ts';
import { InputError } from '../../engine/errors.ts';
import { initBackend } from '../../engine/backend.ts';
import { measureMatmulAsync, type MatmulGflops } from '../../engine/bench/matmul.ts';
import { installWasmKernels, uninstallWasmKernels } from '../../engine/kernels/wasm.ts';
import { writeFileAtomic } from '../../engine/formats/atomic.ts';
import { benchQuality } from '../../engine/quality/cli.ts';

/**
 * Benchmarks by name. Each receives the arguments after its name and returns an exit code; it
 * parses its own flags (by convention `--out FILE`, default bench/out/<name>.json).
 */
export const benchmarks: Record<string, (argv: string[]) => Promise<number>> = {
  matmul: matmulBench,
  quality: benchQuality,
  ui: (argv) => import('../../server/bench-ui.ts').then((m) => m.benchUi(argv)),
};

async function matmulBench(argv: string[]): Promise<number> {
  const { values } = parseCliArgs(
    'bench matmul',
    argv,
    {
      out: { type: 'string' },
      backend: { type: 'string' },
      sizes: { type: 'string' },
      reps: { type: 'string' },
      'compare-stock': { type: 'boolean' },
    },
    false,
  );
  const out = values.out ?? path.join('bench', 'out', 'matmul.json');
  const reps = intFlag(values.reps, 'reps', 5);
  if (reps < 1) throw new InputError(`--reps must be at least 1, got ${reps}`);
  const sizes = (values.sizes ?? '256,512,1024').split(',').map((s) => Number(s.trim()));
  if (sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 8192)) {
    throw new InputError(
      `--sizes must be integers in 1..8192 separated by commas, got '${values.sizes}'`,
    );
  }
  const info = await initBackend({ backend: values.backend, quiet: true });
  const compare = values['compare-stock'] === true;
  if (compare && info.name !== 'wasm') {
    throw new InputError(`--compare-stock needs the wasm backend, not '${info.name}'`);
  }
  const results = [];
  const show = (label: string, size: number, g: MatmulGflops) =>
    console.log(
      `${label} ${size}: A·B ${g.plain.toFixed(2)}  Aᵀ·B ${g.transposeA.toFixed(2)}  A·Bᵀ ${g.transposeB.toFixed(2)} GFLOP/s`,
    );
  for (const size of sizes) {
    let stock: MatmulGflops | undefined;
    if (compare) {
      uninstallWasmKernels();
      try {
        stock = await measureMatmulAsync({ size, reps });
      } finally {
        installWasmKernels();
      }
      show('wasm (stock kernels)', size, stock);
    }
    const gflops = await measureMatmulAsync({ size, reps });
    results.push({ size, reps, ...gflops, ...(stock ? { stock } : {}) });
    show(info.name, size, gflops);
  }
  const report = {
    bench: 'matmul',
    unit: 'GFLOP/s',
    backend: info.name,
    provider: info.provider,
    tfjs: info.tfjsVersion,
    node: process.version,
    date: new Date().toISOString(),
    results,
  };
  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  await writeFileAtomic(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`wrote ${out}`);
  return 0;
}

const USAGE = () => `Usage: d2nwg bench <name> [--out FILE] [options]

Benchmarks: ${Object.keys(benchmarks).sort().join(', ')}
Each writes a JSON report (default bench/out/<name>.json).

  matmul [--backend NAME] [--sizes 256,512,1024] [--reps N] [--compare-stock]
         GFLOP/s of A·B, Aᵀ·B and A·Bᵀ on the tensor backend; --compare-stock (wasm) also times
         the stock wasm kernels, i.e. before/after our explicit-transpose kernel.`;

export const benchCommand: CliCommand = {
  name: 'bench',
  summary: 'run a named benchmark and write its JSON report',
  get usage() {
    return USAGE();
  },
  async run(argv) {
    const [name, ...rest] = argv;
    if (name === undefined)
      throw new InputError(`missing benchmark name\n\n${USAGE()}`, 'd2nwg bench');
    const bench = Object.hasOwn(benchmarks, name) ? benchmarks[name] : undefined;
    if (!bench) {
      throw new InputError(
        `unknown benchmark '${name}'; known: ${Object.keys(benchmarks).sort().join(', ')}`,
        'd2nwg bench',
      );
    }
    return bench(rest);
  },
};
