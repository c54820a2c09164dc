/**
 * `d2nwg bench <name>`: named benchmarks that write a JSON result file, so numbers in docs and
 * reports come from one reproducible command. Other modules add entries to `benchmarks`.
 */
import path from 'node:path';
import { intFlag, parseCliArgs } from '../args.ts';
import type { CliCommand } from '../command.ts';
import { InputError } from '../../engine/errors.ts';
import { initBackend } from '../../engine/backend.ts';
import {
  STANDARD_SHAPES,
  measureMatmulAsync,
  measureMatmulShapes,
  type MatmulGflops,
} from '../../engine/bench/matmul.ts';
import { installWasmKernels, uninstallWasmKernels } from '../../engine/kernels/wasm.ts';
import { writeJsonReport } from '../../engine/formats/atomic.ts';
import { benchQuality } from '../../quality/cli.ts';
import { measureDispatch } from '../../engine/bench/dispatch.ts';
import { MAX_SHARDS } from '../../../shared/schemas/shards.ts';
import {
  STEPS_WORKLOADS,
  measureDiffusionSteps,
  measureVaeSteps,
  type StepsResult,
} from '../../engine/bench/steps.ts';

/**
 * Benchmarks by name. Each receives the arguments after its name and returns an exit code; it
 * parses its own flags (by convention `--out FILE`, default bench/out/<name>.json).
 */
export const benchmarks: Record<string, (argv: string[]) => Promise<number>> = {
  dispatch: dispatchBench,
  matmul: matmulBench,
  quality: benchQuality,
  reliability: (argv) => import('../../reliability/bench.ts').then((m) => m.benchReliability(argv)),
  steps: stepsBench,
  ui: (argv) => import('../../server/bench-ui.ts').then((m) => m.benchUi(argv)),
};

/** Where a benchmark ran: backend, GPU adapter, versions and time, the head of every report. */
function benchEnvironment(info: Awaited<ReturnType<typeof initBackend>>) {
  return {
    backend: info.name,
    provider: info.provider,
    threads: info.threads ?? null,
    gpu: info.gpu ?? null,
    tfjs: info.tfjsVersion,
    node: process.version,
    date: new Date().toISOString(),
  };
}

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
      shapes: { type: 'string' },
      rounds: { type: 'string' },
    },
    false,
  );
  const out = values.out ?? path.join('bench', 'out', 'matmul.json');
  const reps = intFlag(values.reps, 'reps', 5);
  if (reps < 1) throw new InputError(`--reps must be at least 1, got ${reps}`);
  if (values.shapes !== undefined) return matmulShapesBench(values, out, reps);
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
    ...benchEnvironment(info),
    results,
  };
  await writeJsonReport(out, report);
  console.log(`wrote ${out}`);
  return 0;
}

/** A --shards value: 'auto' or a whole number of shards. */
function parseShardsFlag(v: string): number | 'auto' {
  if (v === 'auto') return 'auto';
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > MAX_SHARDS) {
    throw new InputError(
      `expected auto or a whole number from 1 to ${MAX_SHARDS}, got '${v}'`,
      '--shards',
    );
  }
  return n;
}

/** `bench matmul --shapes standard|MxKxN,…`: our wasm gemm against the route it replaced. */
async function matmulShapesBench(
  values: { backend?: string; shapes?: string; rounds?: string },
  out: string,
  reps: number,
): Promise<number> {
  const raw = values.shapes ?? 'standard';
  const shapes =
    raw === 'standard'
      ? STANDARD_SHAPES
      : raw.split(',').map((s) => {
          const dims = s.trim().split('x').map(Number);
          const [m, k, n] = dims;
          if (
            dims.length !== 3 ||
            m === undefined ||
            k === undefined ||
            n === undefined ||
            dims.some((d) => !Number.isInteger(d) || d < 1 || d > 8192)
          ) {
            throw new InputError(
              `--shapes must be 'standard' or MxKxN triples in 1..8192 separated by commas, got '${raw}'`,
            );
          }
          return { m, k, n };
        });
  const rounds = intFlag(values.rounds, 'rounds', 7);
  if (rounds < 1) throw new InputError(`--rounds must be at least 1, got ${rounds}`);
  const info = await initBackend({ backend: values.backend, quiet: true });
  if (info.name !== 'wasm')
    throw new InputError(`--shapes needs the wasm backend, not '${info.name}'`);
  const results = measureMatmulShapes({ shapes, reps, rounds });
  for (const r of results) {
    console.log(
      `${r.m}×${r.k}×${r.n} ${r.form}: gemm ${r.gemmMs.toFixed(3)} ms (${r.gemmGflops.toFixed(1)} GFLOP/s), ` +
        `before ${r.previousMs.toFixed(3)} ms (${r.previousGflops.toFixed(1)}), ×${r.speedup.toFixed(2)}` +
        (r.ours ? (r.packed ? ' [ours, packed]' : ' [ours]') : ' [xnnpack]'),
    );
  }
  const report = {
    bench: 'matmul-shapes',
    unit: 'ms',
    ...benchEnvironment(info),
    reps,
    rounds,
    results,
  };
  await writeJsonReport(out, report);
  console.log(`wrote ${out}`);
  return 0;
}

async function stepsBench(argv: string[]): Promise<number> {
  const { values } = parseCliArgs(
    'bench steps',
    argv,
    {
      out: { type: 'string' },
      backend: { type: 'string' },
      workloads: { type: 'string' },
      'vae-epochs': { type: 'string' },
      'diffusion-steps': { type: 'string' },
      kernels: { type: 'boolean' },
      shards: { type: 'string' },
    },
    false,
  );
  const out = values.out ?? path.join('bench', 'out', 'steps.json');
  const shardList = (values.shards ?? 'auto').split(',').map((v) => parseShardsFlag(v.trim()));
  const names = (values.workloads ?? 'standard').split(',').map((s) => s.trim());
  const known = Object.keys(STEPS_WORKLOADS);
  for (const n of names) {
    if (!known.includes(n)) {
      throw new InputError(`unknown workload '${n}'; known: ${known.join(', ')}`, '--workloads');
    }
  }
  const vaeEpochs = intFlag(values['vae-epochs'], 'vae-epochs', 3);
  const diffusionSteps = intFlag(values['diffusion-steps'], 'diffusion-steps', 100);
  if (vaeEpochs < 1 || diffusionSteps < 1) {
    throw new InputError('--vae-epochs and --diffusion-steps must be at least 1');
  }
  const info = await initBackend({ backend: values.backend, quiet: true });
  const results: StepsResult[] = [];
  for (const name of names) {
    const w = STEPS_WORKLOADS[name];
    if (!w) continue;
    // Each shard count in turn, stage by stage, so a list such as 1,2 is measured interleaved.
    const measured: StepsResult[] = [];
    for (const stage of ['vae', 'diffusion'] as const) {
      for (const shards of shardList) {
        const opts = { kernels: values.kernels === true, shards };
        measured.push(
          stage === 'vae'
            ? await measureVaeSteps(w, vaeEpochs, opts)
            : await measureDiffusionSteps(w, diffusionSteps, opts),
        );
      }
    }
    for (const r of measured) {
      results.push(r);
      const kernels =
        (r.kernelsPerStep === undefined ? '' : `, ${r.kernelsPerStep.toFixed(1)} kernels/step`) +
        (r.graph
          ? `; step graphs: ${(100 * r.graph.replayedShare).toFixed(0)} % of steps replayed, ${r.graph.kernelsPerStep.toFixed(0)} kernels each`
          : '');
      console.log(
        `${info.name} ${r.workload} ${r.stage} (${r.shards} shard${r.shards === 1 ? '' : 's'} on ${r.threads} thread${r.threads === 1 ? '' : 's'}): ${r.stepsPerSecond.toFixed(2)} steps/s ` +
          `(${r.examplesPerSecond.toFixed(0)} examples/s, ${r.steps} steps in ${r.seconds.toFixed(2)} s${kernels})`,
      );
    }
  }
  const report = {
    bench: 'steps',
    unit: 'steps/s',
    ...benchEnvironment(info),
    workloads: names.map((n) => STEPS_WORKLOADS[n]),
    results,
  };
  await writeJsonReport(out, report);
  console.log(`wrote ${out}`);
  return 0;
}

async function dispatchBench(argv: string[]): Promise<number> {
  const { values } = parseCliArgs(
    'bench dispatch',
    argv,
    {
      out: { type: 'string' },
      backend: { type: 'string' },
      rounds: { type: 'string' },
      'chain-ops': { type: 'string' },
      steps: { type: 'string' },
      breakdown: { type: 'boolean' },
    },
    false,
  );
  const out = values.out ?? path.join('bench', 'out', 'dispatch.json');
  const rounds = intFlag(values.rounds, 'rounds', 3);
  const chainOps = intFlag(values['chain-ops'], 'chain-ops', 2000);
  const steps = intFlag(values.steps, 'steps', 20);
  if (rounds < 1 || chainOps < 1 || steps < 1) {
    throw new InputError('--rounds, --chain-ops and --steps must be at least 1');
  }
  const info = await initBackend({ backend: values.backend, quiet: true });
  const results = await measureDispatch({
    rounds,
    chainOps,
    steps,
    breakdown: values.breakdown === true,
    log: console.log,
  });
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length ? s[Math.floor(s.length / 2)] : NaN;
  };
  const summary = Object.fromEntries(
    [...new Set(results.map((r) => String(r.caches)))].map((k) => {
      const rs = results.filter((r) => String(r.caches) === k);
      return [
        k === 'null' ? 'all' : k === 'true' ? 'cachesOn' : 'cachesOff',
        {
          chainUsPerOp: median(rs.map((r) => r.chainUsPerOp)),
          stepMs: median(rs.map((r) => r.stepMs)),
          stepUsPerKernel: median(rs.map((r) => r.stepUsPerKernel)),
        },
      ];
    }),
  );
  console.log(`medians: ${JSON.stringify(summary)}`);
  const report = {
    bench: 'dispatch',
    unit: 'µs per op',
    ...benchEnvironment(info),
    summary,
    results,
  };
  await writeJsonReport(out, report);
  console.log(`wrote ${out}`);
  return 0;
}

const USAGE = () => `Usage: d2nwg bench <name> [--out FILE] [options]

Benchmarks: ${Object.keys(benchmarks).sort().join(', ')}
Each writes a JSON report (default bench/out/<name>.json).

  dispatch [--backend NAME] [--rounds N] [--chain-ops N] [--steps N] [--breakdown]
         µs per op of a chain of tiny ops and of a model-batch training step; on webgpu with the
         dispatch caches (bind groups, uniforms, uploads) off and on, alternating in one process;
         --breakdown times each Dawn call the backend makes, per op of the chain and per kernel
         of the training step (engine, buffer creation, uploads, GC, GPU wait, cache counters).
  matmul [--backend NAME] [--sizes 256,512,1024] [--reps N] [--compare-stock]
         [--shapes standard|MxKxN,… [--rounds N]]
         GFLOP/s of A·B, Aᵀ·B and A·Bᵀ on the tensor backend; --compare-stock (wasm) also times
         the stock wasm kernels, i.e. before/after our explicit-transpose kernel. --shapes
         (wasm) times layer-shaped products in every transpose form with our gemm kernel and
         with D2NWG_WASM_GEMM=0, alternating; 'standard' = the standard VAE/diffusion layers.
  steps  [--backend NAME] [--workloads standard,large] [--vae-epochs N] [--diffusion-steps N]
         [--kernels] [--shards auto|N[,N…]]
         VAE and diffusion training steps per second on synthetic inputs of the standard quality
         preset's shapes ('standard'; 'standard-unet' with the 1-D UNet denoiser) or GPU-sized
         ones ('large'); compare backends with --backend; --kernels also counts backend kernels
         per step (two extra profiled runs each); --shards 1,2 measures each data-parallel shard
         count in turn (D2NWG_SHARD_THREADS=1 runs the shards one after the other). Timed as
         a run of 2N steps minus a run of N, so set-up and thread start-up cancel.
  reliability [--only fuzz,soak,kill] [--cases N] [--seed N] [--parsers a,b] [--soak-seconds S]
         [--clients N] [--rps N] [--scenarios zoo-build,export,migration]
         Fuzzes every reader of user files (default 10,000 cases each), soaks web mode (20
         WebSocket clients, 50 API requests/s for 60 s during a run) and kills -9 a zoo build,
         an export and a migration; parts not run keep their figures in the report.
  queue  [--queue URL] [--rounds N] [--large-rounds N] [--jobs N]
         The Redis queue on this machine (a private redis-server unless --queue): empty jobs/s,
         one job's round trip, the standard zoo in-process vs 1, 2 and 3 \`d2nwg worker\`
         processes (interleaved rounds, zoos checked identical), and the large preset's zoo in
         40 jobs in-process vs 2 workers (--large-rounds, default 1; 0 skips): the queue's cost
         per job against its training time.`;

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
