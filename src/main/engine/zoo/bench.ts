/**
 * The 'zoo' benchmark: the numbers that decide how big a zoo is affordable. Matmul speed (plain vs
 * transposed: the MLP backward pass needs both), the standard preset's zoo trained one model at a
 * time against model batches (1 and 2 workers, interleaved rounds, optionally side by side with
 * the PyTorch reference scripts), CNN epoch time on raw Fashion-MNIST, and peak memory while
 * building a 200-member zoo.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { qualityPresetInput, type QualityConfigInput } from '../../../shared/schemas/quality.ts';
import type { ZooConfigInput } from '../../../shared/schemas/zoo.ts';
import { ArchitectureSchema } from '../../../shared/schemas/zoo.ts';
import { currentBackend } from '../backend.ts';
import { measureMatmulAsync } from '../bench/matmul.ts';
import { loadDataset } from '../data/sources.ts';
import { describeLayout, layoutOf, resolveArchitecture } from '../nn/architecture.ts';
import { initParams } from '../nn/params.ts';
import { trainClassifier } from '../nn/train.ts';
import { trainBatch } from '../nn/batch.ts';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../rng.ts';
import { buildZoo } from './build.ts';

export interface ZooBenchOptions {
  /** Smaller sizes, for a ~2-minute run. */
  readonly quick?: boolean;
  /** Interleaved rounds of the standard-zoo throughput comparison (default 3; quick: 1). */
  readonly rounds?: number;
  /**
   * Folder of the PyTorch reference scripts (torch_zoo.py); when given, each round also runs its
   * `vec` and `loop` modes on one thread, interleaved with ours.
   */
  readonly torchDir?: string;
  /** Python with torch (default /usr/bin/python3). */
  readonly python?: string;
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
  /** The standard preset's zoo: runs/s of each way to train it, interleaved rounds. */
  readonly standardZoo: StandardZooThroughput;
  /**
   * Tensor kernels dispatched per training step of a model batch (forward, backward, Adam), for 1
   * and 100 models of the standard zoo's MLP: the same count, whatever the batch size.
   */
  readonly kernelsPerStep: { readonly models1: number; readonly models100: number };
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

/** One way of training the zoo, measured in every round. */
export interface ZooThroughputRow {
  /** e.g. 'batched, 2 workers', 'single, 2 workers', 'torch vec t1'. */
  readonly name: string;
  /** runs/s of each round (training stage only, worker start-up included for ours). */
  readonly runsPerSecond: number[];
  readonly median: number;
  /** Mean test accuracy of the kept checkpoints (a broken training shows here). */
  readonly testAcc: number;
}

export interface StandardZooThroughput {
  readonly runs: number;
  readonly rounds: number;
  readonly rows: ZooThroughputRow[];
  /**
   * Same-round ratios, median and range: batched (best of 1 and 2 workers) over single with 2
   * workers, and over torch vec / loop when measured.
   */
  readonly ratios: Record<string, { median: number; min: number; max: number }>;
}

/**
 * The standard quality preset's zoo (tasks, features, architecture, training), as a zoo config;
 * `preset: 'large'` gives the large preset's (4,000 seen tasks, one run each).
 */
export function standardZooConfig(
  workers: number,
  modelsPerBatch?: number,
  quick = false,
  preset: 'standard' | 'large' = 'standard',
): ZooConfigInput {
  const q: QualityConfigInput = qualityPresetInput(preset);
  const tasks = { ...q.tasks, ...(quick ? { numSeen: 20 } : {}) };
  return {
    dataset: { kind: 'fashion-mnist' },
    features: q.features,
    tasks,
    arch: q.zoo?.architecture ?? { kind: 'mlp', hidden: [32] },
    train: { ...q.zoo?.train, ...(modelsPerBatch ? { modelsPerBatch } : {}) },
    workers,
    seed: q.seed ?? 1,
  };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Run torch_zoo.py once; null (with a log line) when python or torch is missing. */
function runTorchZoo(
  python: string,
  dir: string,
  mode: 'vec' | 'loop',
  log: (l: string) => void,
): { runsPerSecond: number; testAcc: number } | null {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-torch-')), 'zoo.json');
  const r = spawnSync(
    python,
    [path.join(dir, 'torch_zoo.py'), mode, '--threads', '1', '--out', out],
    {
      encoding: 'utf8',
      cwd: dir,
    },
  );
  if (r.status !== 0 || !fs.existsSync(out)) {
    log(
      `torch ${mode}: not measured (${(r.stderr || r.error?.message || 'failed').trim().split('\n').pop()})`,
    );
    return null;
  }
  const rep = JSON.parse(fs.readFileSync(out, 'utf8')) as {
    runs_per_second: number;
    test_acc_mean: number;
  };
  fs.rmSync(path.dirname(out), { recursive: true, force: true });
  return { runsPerSecond: rep.runs_per_second, testAcc: rep.test_acc_mean };
}

/**
 * Train the standard zoo one model at a time (modelsPerBatch 1, 2 workers, as the engine did
 * before model batches) and as model batches (1 and 2 workers), in interleaved rounds, with the
 * PyTorch reference in the same rounds when its folder is given.
 */
export async function standardZooThroughput(opts: ZooBenchOptions): Promise<StandardZooThroughput> {
  const quick = opts.quick ?? false;
  const rounds = opts.rounds ?? (quick ? 1 : 3);
  const log = opts.log ?? (() => undefined);
  const ours: { name: string; workers: number; perBatch?: number }[] = [
    { name: 'batched, 1 worker', workers: 1 },
    { name: 'batched, 2 workers', workers: 2 },
    { name: 'single, 2 workers', workers: 2, perBatch: 1 },
  ];
  const rows = new Map<string, { rps: number[]; acc: number[] }>();
  const add = (name: string, rps: number, acc: number): void => {
    const row = rows.get(name) ?? { rps: [], acc: [] };
    row.rps.push(rps);
    row.acc.push(acc);
    rows.set(name, row);
  };
  let runs = 0;
  for (let r = 0; r < rounds; r++) {
    for (const o of ours) {
      const zoo = await buildZoo(standardZooConfig(o.workers, o.perBatch, quick));
      const ms = zoo.manifest.members;
      runs = new Set(ms.map((m) => `${m.taskId}#${m.seed}`)).size;
      const train = zoo.manifest.timings?.train ?? NaN;
      const acc = ms.reduce((s, m) => s + m.testAcc, 0) / ms.length;
      add(o.name, runs / train, acc);
      log(
        `round ${r + 1} ${o.name}: ${runs} runs in ${train.toFixed(2)} s = ${(runs / train).toFixed(1)} runs/s (test acc ${acc.toFixed(4)})`,
      );
    }
    if (opts.torchDir && !quick) {
      for (const mode of ['vec', 'loop'] as const) {
        const t = runTorchZoo(opts.python ?? '/usr/bin/python3', opts.torchDir, mode, log);
        if (t) {
          add(`torch ${mode} t1`, t.runsPerSecond, t.testAcc);
          log(
            `round ${r + 1} torch ${mode} t1: ${t.runsPerSecond.toFixed(1)} runs/s (test acc ${t.testAcc.toFixed(4)})`,
          );
        }
      }
    }
  }
  const out: ZooThroughputRow[] = [...rows.entries()].map(([name, v]) => ({
    name,
    runsPerSecond: v.rps,
    median: median(v.rps),
    testAcc: v.acc.reduce((a, b) => a + b, 0) / v.acc.length,
  }));
  const get = (name: string): number[] | undefined => rows.get(name)?.rps;
  const best = (get('batched, 1 worker') ?? []).map((a, i) =>
    Math.max(a, get('batched, 2 workers')?.[i] ?? 0),
  );
  const ratios: StandardZooThroughput['ratios'] = {};
  for (const [key, other] of [
    ['batched / single (2 workers)', 'single, 2 workers'],
    ['batched / torch vec t1', 'torch vec t1'],
    ['batched / torch loop t1', 'torch loop t1'],
  ] as const) {
    const o = get(other);
    if (!o || o.length !== best.length) continue;
    const rs = best.map((b, i) => b / o[i]);
    ratios[key] = { median: median(rs), min: Math.min(...rs), max: Math.max(...rs) };
    log(
      `${key}: ${ratios[key].median.toFixed(2)}× (range ${ratios[key].min.toFixed(2)}–${ratios[key].max.toFixed(2)})`,
    );
  }
  return { runs, rounds, rows: out, ratios };
}

/** Kernels per step of a model batch of `models` standard-zoo MLPs (one epoch of 4 steps, profiled). */
export async function kernelsPerTrainingStep(models: number): Promise<number> {
  const layout = layoutOf(
    resolveArchitecture(ArchitectureSchema.parse({ kind: 'mlp', hidden: [32] }), [48], 5),
  );
  const rng = new Rng(0);
  const n = 128;
  const members = Array.from({ length: models }, (_, m) => ({
    init: initParams(layout, new Rng(m)),
    xTrain: rng.normalArray(n * 48),
    yTrain: Int32Array.from({ length: n }, (_, i) => i % 5),
    rng: new Rng(m + 1),
  }));
  const args = { layout, members, epochs: 1, batchSize: 32, lr: 1e-3 };
  // Count every kernel the engine dispatches (ops, their gradients, Adam) while training.
  const engine = tf.engine() as unknown as { runKernelFunc: (...a: unknown[]) => unknown };
  const original = engine.runKernelFunc;
  let count = 0;
  engine.runKernelFunc = function (this: unknown, ...a: unknown[]) {
    count++;
    return original.apply(this, a);
  };
  const run = async (epochs: number): Promise<number> => {
    count = 0;
    await trainBatch({ ...args, epochs });
    return count;
  };
  let empty: number;
  let one: number;
  try {
    empty = await run(0);
    one = await run(1);
  } finally {
    engine.runKernelFunc = original;
  }
  // One epoch = 4 steps plus the epoch-end readback of losses and counts.
  return Math.round((one - empty) / (n / 32));
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

  // 3. The standard zoo: one model at a time against model batches (and PyTorch).
  const standardZoo = await standardZooThroughput(opts);
  const kernelsPerStep = {
    models1: await kernelsPerTrainingStep(1),
    models100: await kernelsPerTrainingStep(100),
  };
  log(
    `kernels per training step: ${kernelsPerStep.models1} (1 model), ${kernelsPerStep.models100} (100 models)`,
  );

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
    standardZoo,
    kernelsPerStep,
    cnn,
    memory,
  };
}
