/**
 * The 'zoo' benchmark: the numbers that decide how big a zoo is affordable on a CPU. Matmul speed
 * (plain vs transposed: the MLP backward pass needs both), MLP zoo throughput with 1 and 2 worker
 * threads, CNN epoch time on raw Fashion-MNIST, and peak memory while building a 200-member zoo.
 */
import type { ZooConfigInput } from '../../../shared/schemas/zoo.ts';
import { ArchitectureSchema } from '../../../shared/schemas/zoo.ts';
import { currentBackend } from '../backend.ts';
import { measureMatmulAsync } from '../bench/matmul.ts';
import { loadDataset } from '../data/sources.ts';
import { describeLayout, layoutOf, resolveArchitecture } from '../nn/architecture.ts';
import { initParams } from '../nn/params.ts';
import { trainClassifier } from '../nn/train.ts';
import { Rng } from '../rng.ts';
import { buildZoo } from './build.ts';

export interface ZooBenchOptions {
  /** Smaller sizes, for a ~2-minute run. */
  readonly quick?: boolean;
  /** Called with one line per finished measurement. */
  readonly log?: (line: string) => void;
}

/** What `d2nwg bench zoo` writes to bench/out/zoo.json. */
export interface ZooBenchReport {
  readonly bench: 'zoo';
  readonly quick: boolean;
  readonly backend: string;
  readonly node: string;
  readonly date: string;
  readonly matmul: {
    readonly size: number;
    readonly plainGflops: number;
    readonly transposeAGflops: number;
    readonly transposeBGflops: number;
    /** min(transposed) / plain; target ≥ 0.8. */
    readonly transposedToPlain: number;
  };
  readonly mlpZoo: {
    readonly config: ZooConfigInput;
    readonly runs: number;
    readonly members: number;
    /** Training-stage seconds (worker start-up included) with 1 and 2 workers. */
    readonly trainSeconds: { readonly workers1: number; readonly workers2: number };
    readonly membersPerMinute: { readonly workers1: number; readonly workers2: number };
    /** workers2 / workers1 throughput; target ≥ 1.7 on 2 free cores. */
    readonly speedup: number;
  };
  readonly cnn: {
    readonly arch: string;
    readonly params: number;
    readonly samples: number;
    readonly epochs: number;
    readonly secondsPerEpoch: number;
    /** secondsPerEpoch scaled to the full 10,000 t10k images. */
    readonly secondsPerEpochT10k: number;
  };
  readonly memory: {
    readonly members: number;
    /** Seconds to build it (all stages). */
    readonly buildSeconds: number;
    /** Peak resident set size of the process (worker threads included) while building, MB. */
    readonly peakRssMB: number;
    /** process.resourceUsage().maxRSS after the build, MB (lifetime peak of the process). */
    readonly maxRssMB: number;
    /** Target: < 2048 MB. */
    readonly targetMB: number;
  };
}

const MB = 1024 * 1024;

function mlpConfig(quick: boolean, workers: number): ZooConfigInput {
  return {
    dataset: { kind: 'fashion-mnist' },
    features: { kind: 'pca', components: 32 },
    tasks: {
      k: 5,
      nTrain: quick ? 100 : 200,
      nTest: 50,
      numSeen: quick ? 6 : 12,
      numUnseenCombo: 0,
      numUnseenClass: 0,
    },
    arch: { kind: 'mlp', hidden: [32] },
    // Enough steps per run that training, not worker start-up, dominates the timing.
    train: { epochs: quick ? 15 : 20, keepLast: 2, seeds: 2, batchSize: 32, lr: 1e-3 },
    workers,
    seed: 0,
  };
}

/** Run the benchmark on the current backend (call initBackend first). */
export async function runZooBenchmark(opts: ZooBenchOptions = {}): Promise<ZooBenchReport> {
  const quick = opts.quick ?? false;
  const log = opts.log ?? (() => undefined);

  // 1. matmul, plain vs transposed.
  const size = quick ? 256 : 512;
  const mm = await measureMatmulAsync({ size, reps: quick ? 3 : 5 });
  const matmul = {
    size,
    plainGflops: mm.plain,
    transposeAGflops: mm.transposeA,
    transposeBGflops: mm.transposeB,
    transposedToPlain: Math.min(mm.transposeA, mm.transposeB) / mm.plain,
  };
  log(
    `matmul ${size}: plain ${mm.plain.toFixed(2)}, Aᵀ·B ${mm.transposeA.toFixed(2)}, A·Bᵀ ${mm.transposeB.toFixed(2)} GFLOP/s (ratio ${matmul.transposedToPlain.toFixed(2)})`,
  );

  // 2. peak memory while building a 200-member zoo (first, so maxRSS is this build's peak).
  const memCfg: ZooConfigInput = {
    dataset: { kind: 'fashion-mnist' },
    features: { kind: 'pca', components: 64 },
    tasks: { k: 5, nTrain: 50, nTest: 50, numSeen: 20, numUnseenCombo: 0, numUnseenClass: 0 },
    arch: { kind: 'mlp', hidden: [32] },
    train: { epochs: quick ? 5 : 10, keepLast: 5, seeds: 2 },
    workers: 2,
    seed: 1,
  };
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 100);
  const tMem = performance.now();
  let memZoo;
  try {
    memZoo = await buildZoo(memCfg);
  } finally {
    clearInterval(sampler);
  }
  peak = Math.max(peak, process.memoryUsage().rss);
  const memory = {
    members: memZoo.manifest.members.length,
    buildSeconds: (performance.now() - tMem) / 1000,
    peakRssMB: peak / MB,
    maxRssMB: (process.resourceUsage().maxRSS * 1024) / MB,
    targetMB: 2048,
  };
  log(
    `200-member zoo: ${memory.members} members in ${memory.buildSeconds.toFixed(1)} s, peak RSS ${memory.peakRssMB.toFixed(0)} MB (maxRSS ${memory.maxRssMB.toFixed(0)} MB)`,
  );

  // 3. MLP zoo throughput with 1 and 2 workers (same config).
  const trainSeconds = { workers1: 0, workers2: 0 };
  let members = 0;
  let runs = 0;
  for (const w of [1, 2] as const) {
    const zoo = await buildZoo(mlpConfig(quick, w));
    members = zoo.manifest.members.length;
    runs = new Set(zoo.manifest.members.map((m) => `${m.taskId}#${m.seed}`)).size;
    trainSeconds[w === 1 ? 'workers1' : 'workers2'] = zoo.manifest.timings?.train ?? NaN;
    log(
      `mlp zoo, ${w} worker(s): ${runs} runs in ${(zoo.manifest.timings?.train ?? NaN).toFixed(1)} s`,
    );
  }
  const perMin = (s: number): number => (members / s) * 60;
  const mlpZoo = {
    config: mlpConfig(quick, 2),
    runs,
    members,
    trainSeconds,
    membersPerMinute: {
      workers1: perMin(trainSeconds.workers1),
      workers2: perMin(trainSeconds.workers2),
    },
    speedup: trainSeconds.workers1 / trainSeconds.workers2,
  };

  // 4. CNN epoch time on raw t10k pixels.
  const data = await loadDataset({ kind: 'fashion-mnist' });
  const n = quick ? 2000 : data.labels.length;
  const arch = resolveArchitecture(ArchitectureSchema.parse({ kind: 'cnn' }), data.sampleShape, 10);
  const layout = layoutOf(arch);
  const d = data.sampleShape.reduce((a, b) => a * b, 1);
  const epochs = 1;
  const tCnn = performance.now();
  await trainClassifier({
    layout,
    init: initParams(layout, new Rng(0)),
    xTrain: data.x.subarray(0, n * d),
    yTrain: data.labels.subarray(0, n),
    epochs,
    batchSize: 32,
    lr: 1e-3,
    rng: new Rng(1),
  });
  const secondsPerEpoch = (performance.now() - tCnn) / 1000 / epochs;
  const cnn = {
    arch: describeLayout(layout),
    params: layout.size,
    samples: n,
    epochs,
    secondsPerEpoch,
    secondsPerEpochT10k: (secondsPerEpoch * data.labels.length) / n,
  };
  log(`cnn (${layout.size} params): ${secondsPerEpoch.toFixed(1)} s/epoch on ${n} images`);

  return {
    bench: 'zoo',
    quick,
    backend: currentBackend()?.name ?? 'unknown',
    node: process.version,
    date: new Date().toISOString(),
    matmul,
    mlpZoo,
    cnn,
    memory,
  };
}
