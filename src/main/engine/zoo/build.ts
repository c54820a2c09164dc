/**
 * Building a model zoo (stage 1 of D2NWG): load the data, fit the features on the train pool, draw
 * the tasks, and train the shared architecture on every seen task from several init seeds, keeping
 * the last k checkpoints of each run. Runs are independent, so they go to an executor (executor.ts:
 * a worker_threads pool, one tensor backend per thread, or a Redis queue of worker processes); the
 * result does not depend on the worker count nor on the executor.
 */
import {
  ZOO_FORMAT,
  ZooConfigSchema,
  type ZooConfig,
  type ZooConfigInput,
  type ZooManifest,
  type ZooMember,
} from '../../../shared/schemas/zoo.ts';
import { currentBackend } from '../backend.ts';
import { describeSource, loadDataset } from '../data/sources.ts';
import { generateTasks, type GeneratedTasks } from '../data/tasks.ts';
import type { LabelledData, TaskSpec } from '../data/types.ts';
import { InputError, throwIfAborted } from '../errors.ts';
import { fitExtractor, type FeatureExtractor } from '../features/extractor.ts';
import {
  architectureToJson,
  layoutOf,
  layoutToJson,
  resolveArchitecture,
  type Layout,
} from '../nn/architecture.ts';
import { initParams } from '../nn/params.ts';
import { trainSourceModel, type SourceModel } from '../eval/pretrained.ts';
import { yieldToEventLoop, type RunControl } from '../progress.ts';
import { Rng } from '../rng.ts';
import { issueList, MEMBERS_PER_SHARD, shardName, type Zoo } from './storage.ts';
import { memberInputs } from './tasks.ts';
import { modelsPerBatch } from '../nn/batch.ts';
import type { MemberEpochMessage, MemberResult } from './train-member.ts';
import {
  threadExecutor,
  warmMemberPool,
  zooExecutorFor,
  type PlannedRun,
  type ZooExecutor,
} from './executor.ts';
import type { WorkerPool } from '../workers/pool.ts';

/** File name of the feature extractor inside a zoo folder. */
export const FEATURES_FILE = 'features.safetensors';

/** A freshly built zoo: the stored part plus the fitted extractor that made its inputs. */
export interface BuiltZoo extends Zoo {
  /** The feature extractor the members were trained on; saveZoo writes it next to the shards. */
  readonly extractor: FeatureExtractor;
  /** With `train.pretrainEpochs`: the model every run started from (zooSourceModel). */
  readonly source?: SourceModel;
}

/** Parse a zoo config (zod); every problem is listed with its path in one InputError. */
export function parseZooConfig(input: unknown, where = 'zoo config'): ZooConfig {
  const r = ZooConfigSchema.safeParse(input ?? {});
  if (!r.success) throw new InputError(`invalid zoo config:${issueList(r.error)}`, where);
  return r.data;
}

/**
 * The initial weights of every run with seed index `seedIndex`. Deliberately the SAME for every
 * task: members that start from one init keep their hidden units aligned across tasks (no
 * permutation symmetry between them), which makes the weight distribution far easier for the
 * VAE and the diffusion model to learn. Seed indices give the zoo its init diversity.
 */
export function memberInit(layout: Layout, baseSeed: number, seedIndex: number): Float32Array {
  return initParams(layout, new Rng(baseSeed).fork('init').fork(seedIndex));
}

/**
 * The model a zoo with `train.pretrainEpochs` starts from: the architecture trained on the train
 * pool of every known class (eval/pretrained.ts), pretrainEpochs epochs with the members' batch
 * size and learning rate, from the zoo's seed. The Evaluate node's Pretrained (source) of such a
 * zoo is this same model, so D2NWG is compared with the body its zoo was fine-tuned from.
 */
export function zooSourceModel(
  cfg: Pick<ZooConfig, 'arch' | 'train' | 'seed'>,
  inputs: LabelledData,
  tasks: Pick<GeneratedTasks, 'trainPool' | 'heldOut'>,
  signal?: AbortSignal,
): Promise<SourceModel> {
  const { batchSize, lr, pretrainEpochs } = cfg.train;
  return trainSourceModel({
    feat: inputs,
    trainPool: tasks.trainPool,
    heldOut: tasks.heldOut,
    architecture: cfg.arch,
    train: { epochs: pretrainEpochs, batchSize, lr },
    rng: new Rng(cfg.seed).fork('pretrain'),
    signal,
  });
}

/**
 * The initial weights of every seed index: memberInit's, or with `train.pretrainEpochs` the body
 * of the source model (zooSourceModel) under each seed's own memberInit head, with that model.
 */
export async function zooInits(
  cfg: ZooConfig,
  layout: Layout,
  inputs: LabelledData,
  tasks: Pick<GeneratedTasks, 'trainPool' | 'heldOut'>,
  signal?: AbortSignal,
): Promise<{ inits: Float32Array[]; source?: SourceModel }> {
  const { seeds, pretrainEpochs } = cfg.train;
  if (pretrainEpochs === 0) {
    return { inits: Array.from({ length: seeds }, (_, s) => memberInit(layout, cfg.seed, s)) };
  }
  const source = await zooSourceModel(cfg, inputs, tasks, signal);
  // transfer's head comes from the rng memberInit draws from: each seed keeps its own head.
  const inits = Array.from({ length: seeds }, (_, s) =>
    source.transfer(layout, new Rng(cfg.seed).fork('init').fork(s)),
  );
  return { inits, source };
}

/** Seed of the minibatch shuffling of one run. */
function shuffleSeed(baseSeed: number, taskId: string, seedIndex: number): number {
  return new Rng(baseSeed).fork('shuffle').fork(taskId).fork(seedIndex).seedInt();
}

/** buildZoo's options: progress, cancel, and where the training batches run. */
export interface BuildZooControl extends RunControl {
  /** Default: the configured setting (executor.ts: `--queue`, D2NWG_QUEUE), else worker threads. */
  readonly executor?: ZooExecutor;
}

/**
 * Build a zoo in memory. Progress is reported in members (stored checkpoints), with the latest
 * run's test accuracy; the signal cancels the build, stopping the workers.
 */
export async function buildZoo(
  cfgInput: ZooConfig | ZooConfigInput,
  control: BuildZooControl = {},
): Promise<BuiltZoo> {
  const cfg = parseZooConfig(cfgInput);
  const executor = control.executor ?? (await zooExecutorFor());
  // The worker threads start now, warming up (~1 s each) while the data and features load.
  const pool = executor === threadExecutor ? warmMemberPool(cfg.workers) : null;
  try {
    return await buildZooOn(cfg, control, executor, pool);
  } finally {
    await pool?.close();
  }
}

async function buildZooOn(
  cfg: ZooConfig,
  control: BuildZooControl,
  executor: ZooExecutor,
  pool: WorkerPool | null,
): Promise<BuiltZoo> {
  const { signal, onProgress } = control;
  const t0 = performance.now();
  const timings: Record<string, number> = {};
  const mark = (name: string, since: number): number => {
    const now = performance.now();
    timings[name] = (now - since) / 1000;
    return now;
  };

  if (cfg.arch.kind === 'cnn' && cfg.features.kind !== 'pixels') {
    throw new InputError(
      `arch.kind 'cnn' needs image inputs [h, w, c]; set features.kind to 'pixels' (got '${cfg.features.kind}')`,
      'zoo config',
    );
  }
  let t = performance.now();
  const data = await loadDataset(cfg.dataset);
  throwIfAborted(signal);
  const tasks = generateTasks(data.labels, data.classNames.length, cfg.tasks, data.classNames);
  t = mark('data', t);

  onProgress?.({ value: 0, max: 1, unit: 'step', label: 'features' });
  const ex = await fitExtractor(
    cfg.features,
    data,
    tasks.trainPool,
    new Rng(cfg.seed).fork('features'),
    {
      signal,
    },
  );
  const inputs = await memberInputs(cfg.arch.kind, ex, data, control);
  t = mark('features', t);
  await yieldToEventLoop();

  const seen = tasks.seen;
  if (seen.length === 0) {
    throw new InputError('the task config draws no seen tasks; set tasks.numSeen ≥ 1', 'tasks');
  }
  const arch = resolveArchitecture(cfg.arch, inputs.sampleShape, tasks.config.k);
  const layout = layoutOf(arch);
  const { seeds, epochs, keepLast } = cfg.train;
  const keep = Math.min(keepLast, epochs);
  const runs = seen.length * seeds;
  const totalMembers = runs * keep;
  if (cfg.train.pretrainEpochs > 0) {
    onProgress?.({ value: 0, max: 1, unit: 'step', label: 'pretraining the shared body' });
  }
  const { inits, source } = await zooInits(cfg, layout, inputs, tasks, signal);
  if (cfg.train.pretrainEpochs > 0) t = mark('pretrain', t);

  const planRun = (run: number): PlannedRun => {
    const task = seen[Math.floor(run / seeds)];
    const s = run % seeds;
    return { run, task, seedIndex: s, shuffleSeed: shuffleSeed(cfg.seed, task.id, s) };
  };
  // Runs train as model batches: runs with the same sample counts, at most what fits the device,
  // and at least one batch per worker so every worker has work.
  const groups = new Map<string, number[]>();
  for (let run = 0; run < runs; run++) {
    const task = seen[Math.floor(run / seeds)];
    const key = `${task.trainIndex.length}/${task.testIndex.length}`;
    const g = groups.get(key) ?? [];
    g.push(run);
    groups.set(key, g);
  }
  const lanes = cfg.workers === 0 ? 1 : Math.min(cfg.workers, runs);
  const batches: number[][] = [];
  for (const g of groups.values()) {
    const task = seen[Math.floor(g[0] / seeds)];
    const cap = modelsPerBatch(
      layout,
      task.trainIndex.length,
      task.testIndex.length,
      cfg.train.batchSize,
    );
    const per = Math.max(
      1,
      Math.min(cap, cfg.train.modelsPerBatch ?? Infinity, Math.ceil(g.length / lanes)),
    );
    for (let i = 0; i < g.length; i += per) batches.push(g.slice(i, i + per));
  }

  const results: (MemberResult | undefined)[] = new Array<MemberResult | undefined>(runs);
  let membersDone = 0;
  let runsDone = 0;
  // Checkpoints already kept by batches still training, by their first run: progress moves
  // with every kept epoch, not only when a whole batch (possibly all of a worker's runs) ends.
  const inFlight = new Map<number, number>();
  const kept = (): number => {
    let n = membersDone;
    for (const v of inFlight.values()) n += v;
    return n;
  };
  const report = (label: string, testAcc: number): void => {
    onProgress?.({
      value: kept(),
      max: totalMembers,
      unit: 'member',
      metrics: Number.isFinite(testAcc) ? { testAcc } : undefined,
      label,
    });
  };
  const onEpoch = (m: MemberEpochMessage): void => {
    const perRun = Math.max(0, Math.min(keep, m.epoch - (m.epochs - keep)));
    inFlight.set(m.runs[0], perRun * m.runs.length);
    report(
      `runs ${m.runs[0] + 1}–${m.runs[m.runs.length - 1] + 1}/${runs} epoch ${m.epoch}/${m.epochs}`,
      m.testAcc,
    );
  };
  const finish = (batch: readonly MemberResult[]): void => {
    let acc = 0;
    for (const res of batch) {
      results[res.run] = res;
      inFlight.delete(res.run);
      membersDone += res.checkpoints.length;
      runsDone++;
      const last = res.checkpoints[res.checkpoints.length - 1];
      acc += last ? last.testAcc : NaN;
    }
    report(`${runsDone}/${runs} runs`, acc / batch.length);
  };
  report(`0/${runs} runs`, NaN);

  await executor.train(
    {
      layout,
      inputs,
      inits,
      epochs,
      batchSize: cfg.train.batchSize,
      lr: cfg.train.lr,
      keepLast: keep,
      batches: batches.map((b) => b.map(planRun)),
      workers: cfg.workers,
      ...(pool ? { pool } : {}),
    },
    { onEpoch, finish, signal },
  );
  t = mark('train', t);

  const members: ZooMember[] = [];
  const vectors = new Float32Array(totalMembers * layout.size);
  results.forEach((res, run) => {
    if (!res) throw new Error(`zoo run ${run} produced no result`);
    const task = seen[Math.floor(run / seeds)];
    for (const c of res.checkpoints) {
      const index = members.length;
      vectors.set(c.params, index * layout.size);
      members.push({
        index,
        taskId: task.id,
        classes: [...task.classes],
        seed: run % seeds,
        epoch: c.epoch,
        trainAcc: c.trainAcc,
        testAcc: c.testAcc,
        shard: shardName(Math.floor(index / MEMBERS_PER_SHARD)),
        tensorName: `m${index}`,
      });
    }
  });
  mark('assemble', t);
  timings.total = (performance.now() - t0) / 1000;

  const taskEntry = (task: TaskSpec): ZooManifest['tasks']['list'][number] => {
    // The zoo's tasks come from its own source; another source's tasks are never in a zoo.
    if (task.split === 'unseen-dataset') throw new Error(`task ${task.id} is of another source`);
    return {
      id: task.id,
      classes: [...task.classes],
      split: task.split,
      trainCount: task.trainIndex.length,
      testCount: task.testIndex.length,
    };
  };
  const manifest: ZooManifest = {
    format: ZOO_FORMAT,
    created: new Date().toISOString(),
    arch: architectureToJson(arch),
    layout: layoutToJson(layout),
    dataset: {
      source: cfg.dataset,
      id: describeSource(cfg.dataset),
      classNames: [...data.classNames],
    },
    features: { kind: ex.kind, dim: ex.dim, file: FEATURES_FILE },
    tasks: {
      config: tasks.config,
      heldOut: [...tasks.heldOut],
      list: [...tasks.seen, ...tasks.unseenCombo, ...tasks.unseenClass].map(taskEntry),
    },
    members,
    config: cfg,
    backend: currentBackend()?.name,
    timings,
  };
  return { manifest, vectors, extractor: ex, ...(source ? { source } : {}) };
}
