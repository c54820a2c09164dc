/**
 * `d2nwg doctor`: what the tensor backend is and how fast it multiplies, so a user (or a bug
 * report) can tell at a glance why a run is slow: a missing native package, a skipped GPU, or a
 * wasm build without our transposed-matmul kernel.
 */
import os from 'node:os';
import { intFlag, parseCliArgs } from '../args.ts';
import type { CliCommand } from '../command.ts';
import { InputError } from '../../engine/errors.ts';
import { initBackend } from '../../engine/backend.ts';
import { measureMatmulAsync } from '../../engine/bench/matmul.ts';
import { wasmKernelsInstalled } from '../../engine/kernels/wasm.ts';

const USAGE = `Usage: d2nwg doctor [--backend NAME] [--sizes 512,1024] [--reps N] [--no-bench] [--json]

Prints the tensor backend in use and the candidates that were skipped (and why), the tfjs and Node
versions, the platform, and matmul throughput in GFLOP/s for A·B, Aᵀ·B and A·Bᵀ.

  --backend NAME   force a backend (auto, tensorflow, webgpu, wasm, cpu); default: $D2NWG_BACKEND,
                   else auto (tfjs-node-gpu, webgpu on real hardware, tfjs-node, wasm, cpu)
  --sizes LIST     comma-separated square matrix sizes to time (default 512,1024)
  --reps N         timed products per variant and size (default 3)
  --no-bench       skip the matmul timing
  --json           print one JSON object instead of text`;

function parseSizes(raw: string | undefined): number[] {
  if (raw === undefined) return [512, 1024];
  const sizes = raw.split(',').map((s) => Number(s.trim()));
  if (sizes.length === 0 || sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 8192)) {
    throw new InputError(`--sizes must be integers in 1..8192 separated by commas, got '${raw}'`);
  }
  return sizes;
}

async function timeSizes(sizes: readonly number[], reps: number) {
  const out = [];
  for (const size of sizes) out.push({ size, gflops: await measureMatmulAsync({ size, reps }) });
  return out;
}

export const doctorCommand: CliCommand = {
  name: 'doctor',
  summary: 'show the tensor backend, skipped candidates and matmul speed',
  usage: USAGE,
  async run(argv) {
    const { values } = parseCliArgs(
      'doctor',
      argv,
      {
        backend: { type: 'string' },
        sizes: { type: 'string' },
        reps: { type: 'string' },
        'no-bench': { type: 'boolean' },
        json: { type: 'boolean' },
      },
      false,
    );
    const sizes = parseSizes(values.sizes);
    const reps = intFlag(values.reps, 'reps', 3);
    if (reps < 1) throw new InputError(`--reps must be at least 1, got ${reps}`);
    const info = await initBackend({ backend: values.backend, quiet: true });
    const report = {
      backend: info.name,
      provider: info.provider,
      skipped: info.skipped,
      wasmTransposeKernel: info.name === 'wasm' ? wasmKernelsInstalled() : null,
      wasmThreads: info.threads ?? null,
      gpu: info.gpu ?? null,
      tfjs: info.tfjsVersion,
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      matmul: values['no-bench'] ? [] : await timeSizes(sizes, reps),
    };
    if (values.json) {
      console.log(JSON.stringify(report, null, 2));
      return 0;
    }
    const lines = [
      `backend      ${report.backend} (${report.provider})`,
      ...report.skipped.map((s) => `  skipped    ${s.name}: ${s.reason}`),
    ];
    if (report.wasmTransposeKernel !== null) {
      lines.push(
        `wasm matmul  explicit-transpose kernel ${report.wasmTransposeKernel ? 'on' : 'OFF'}`,
      );
    }
    if (report.wasmThreads !== null) {
      lines.push(`wasm threads ${report.wasmThreads} (D2NWG_WASM_THREADS=auto|off|N)`);
    }
    if (report.gpu) {
      const g = report.gpu;
      const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
      lines.push(
        `gpu adapter  ${[g.vendor, g.architecture, g.device].filter((s) => s !== '').join(' / ') || 'unknown'}` +
          `${g.software ? ' (software, CPU)' : ''}`,
        `  driver     ${g.description || 'unknown'}`,
        `  limits     maxBufferSize ${mib(g.maxBufferSize)}, maxStorageBufferBindingSize ${mib(g.maxStorageBufferBindingSize)}`,
      );
    }
    lines.push(
      `tfjs         ${report.tfjs}`,
      `node         ${report.node}`,
      `platform     ${report.platform}, ${report.cpus} CPUs (${report.cpuModel})`,
    );
    for (const { size, gflops } of report.matmul) {
      const f = (x: number) => x.toFixed(2).padStart(7);
      lines.push(
        `matmul ${String(size).padStart(5)}  GFLOP/s  A·B ${f(gflops.plain)}  Aᵀ·B ${f(gflops.transposeA)}  A·Bᵀ ${f(gflops.transposeB)}`,
      );
    }
    console.log(lines.join('\n'));
    return 0;
  },
};
