/**
 * Runs eval.finetune: for each target task, build the initial weights by the chosen method, then
 * measure test accuracy after each listed number of fine-tuning epochs. The fine-tuning shuffling
 * is forked from the run seed and the task id only, so every Evaluate node of a pipeline trains
 * with the same batches and differences come from the init alone.
 */
import { evalFinetuneSpec, type EvalFinetuneConfig } from '../../shared/nodes/eval-finetune.ts';
import { materializeTask } from '../engine/data/tasks.ts';
import type { TaskData, TaskSpec } from '../engine/data/types.ts';
import {
  addNoise,
  averageVectors,
  fitKde,
  noiseFunctionMatched,
  noiseMatched,
  sampleKde,
} from '../engine/eval/baselines.ts';
import { finetuneCurves, type FinetuneJob } from '../engine/eval/finetune.ts';
import { nearestCheckpoint, type ZooRows } from '../engine/eval/nearest.ts';
import { trainSourceModel, type SourceModel } from '../engine/eval/pretrained.ts';
import { loadPretrainedFile, type PretrainedCheckpoint } from '../engine/eval/pretrained-file.ts';
import { InputError, throwIfAborted } from '../engine/errors.ts';
import type { Layout } from '../engine/nn/architecture.ts';
import { initParams } from '../engine/nn/params.ts';
import { evaluateMany, predictClasses } from '../engine/nn/train.ts';
import type { Rng } from '../engine/rng.ts';
import { memberVector, zooLayout } from '../engine/zoo/storage.ts';
import { controlOf, nodeRunner, resultSummary, tasksOfSplit } from './define.ts';
import { meanStd } from '../../shared/stats.ts';
import { type MethodResult, type ValueOf } from './values.ts';

interface InitSources {
  readonly zoo?: ValueOf<'zoo'>;
  readonly weights?: ValueOf<'weights'>;
  readonly vae?: ValueOf<'vae'>;
  /** Trained once per run, for pretrained_source. */
  readonly source?: SourceModel;
  /** Read once per run, for pretrained_file. */
  readonly checkpoint?: PretrainedCheckpoint;
  readonly layout: Layout;
  readonly where: string;
}

function need<T>(v: T | undefined, what: string, init: string, where: string): T {
  if (v === undefined)
    throw new InputError(`init '${init}' needs the ${what} input connected`, where);
  return v;
}

/** A zoo input as the rows nearestCheckpoint scores. */
function zooRows(zoo: ValueOf<'zoo'>): ZooRows {
  return { vectors: zoo.zoo.vectors, taskIds: zoo.zoo.manifest.members.map((m) => m.taskId) };
}

/** The Weights samples of a task, best-ranked first; an InputError when there is none. */
function samplesOf(cfg: EvalFinetuneConfig, task: TaskSpec, src: InitSources): Float32Array[] {
  const w = need(src.weights, 'Weights', cfg.init, src.where);
  const mine = w.perTask.find((t) => t.task.id === task.id);
  if (!mine || mine.vectors.length === 0) {
    throw new InputError(
      `the Weights input has no sample for task ${task.id}; give the Sampler the same splits and maxTasks as this node`,
      src.where,
    );
  }
  return [...mine.vectors];
}

/** The first (best-ranked) Weights sample of a task. */
function sampleOf(cfg: EvalFinetuneConfig, task: TaskSpec, src: InitSources): Float32Array {
  return samplesOf(cfg, task, src)[0];
}

/**
 * The zoo's own checkpoints of a seen task, best on the task's training samples first; an
 * InputError for a task the zoo never trained on (the 'zoo' row exists on seen tasks only).
 */
async function zooCheckpointsOf(
  cfg: EvalFinetuneConfig,
  task: TaskSpec,
  data: TaskData,
  src: InitSources,
): Promise<Float32Array[]> {
  const zoo = need(src.zoo, 'zoo', cfg.init, src.where);
  const own = zoo.zoo.manifest.members.filter((m) => m.taskId === task.id).map((m) => m.index);
  if (own.length === 0) {
    throw new InputError(
      `the zoo has no checkpoint of task ${task.id}: init 'zoo' applies to the seen split only (the tasks the zoo trained on)`,
      src.where,
    );
  }
  const vectors = own.map((i) => memberVector(zoo.zoo, i));
  const acc = (await evaluateMany(src.layout, vectors, data.xTrain, data.yTrain)).map(
    (e) => e.accuracy,
  );
  return vectors
    .map((_, i) => i)
    .sort((a, b) => acc[b] - acc[a] || a - b)
    .map((i) => vectors[i]);
}

/**
 * The initial weight vectors of one task: several for d2nwg and zoo (samples or checkpoints,
 * best first), one otherwise; `samples` then takes the first or all of them.
 */
async function initsFor(
  cfg: EvalFinetuneConfig,
  task: TaskSpec,
  data: TaskData,
  src: InitSources,
  rng: Rng,
): Promise<Float32Array[]> {
  const all =
    cfg.init === 'd2nwg'
      ? samplesOf(cfg, task, src)
      : cfg.init === 'zoo'
        ? await zooCheckpointsOf(cfg, task, data, src)
        : [await initFor(cfg, task, data, src, rng)];
  return cfg.samples === 'mean' ? all : all.slice(0, 1);
}

/** The initial weight vector of one task for the configured method. */
async function initFor(
  cfg: EvalFinetuneConfig,
  task: TaskSpec,
  data: TaskData,
  src: InitSources,
  rng: Rng,
): Promise<Float32Array> {
  const { layout, where } = src;
  switch (cfg.init) {
    case 'randinit':
      return initParams(layout, rng);
    case 'pretrained_source': {
      // The source model (trained once per run on every known class) with a fresh head here.
      if (!src.source) throw new Error('pretrained_source: the source model was not trained');
      return src.source.transfer(layout, rng);
    }
    case 'pretrained_file': {
      // The user's checkpoint, with a fresh head here when its class count differs.
      if (!src.checkpoint) throw new Error('pretrained_file: the checkpoint was not read');
      return src.checkpoint.init(rng);
    }
    case 'noise_nearest': {
      // The checkpoint nearest in function (best on the task's training samples), plus noise.
      const zoo = need(src.zoo, 'zoo', cfg.init, where);
      const near = await nearestCheckpoint(layout, zooRows(zoo), data.xTrain, data.yTrain);
      return addNoise(memberVector(zoo.zoo, near.index), cfg.noiseStd, rng);
    }
    case 'noise_matched': {
      // The D2NWG sample's nearest zoo checkpoint (L2), plus noise of norm = that distance.
      const zoo = need(src.zoo, 'zoo', cfg.init, where);
      const sample = sampleOf(cfg, task, src);
      const n = zoo.zoo.manifest.members.length;
      return noiseMatched([sample], zoo.zoo.vectors, n, layout.size, rng)[0].vector;
    }
    case 'noise_fn_matched': {
      // The same checkpoint, noised until its training-set predictions differ from it as often as
      // the D2NWG sample's do.
      const zoo = need(src.zoo, 'zoo', cfg.init, where);
      const sample = sampleOf(cfg, task, src);
      const [copy] = await noiseFunctionMatched({
        samples: [sample],
        zoo: zoo.zoo.vectors,
        count: zoo.zoo.manifest.members.length,
        dim: layout.size,
        predict: (w) => predictClasses(layout, w, data.xTrain),
        rng,
      });
      return copy.vector;
    }
    case 'weight_avg': {
      // Average of the checkpoints of the nearest zoo task: the task of the member that fits this
      // task's training samples best (for a seen task, normally the task itself).
      const zoo = need(src.zoo, 'zoo', cfg.init, where);
      const d = layout.size;
      const rows = (await nearestCheckpoint(layout, zooRows(zoo), data.xTrain, data.yTrain))
        .taskRows;
      const stacked = new Float32Array(rows.length * d);
      rows.forEach((r, i) => stacked.set(memberVector(zoo.zoo, r), i * d));
      return averageVectors(stacked, rows.length, d);
    }
    case 'kde30': {
      const zoo = need(src.zoo, 'zoo', cfg.init, where);
      const { vae } = need(src.vae, 'VAE', cfg.init, where);
      const members = zoo.zoo.manifest.members;
      const latents = await vae.encodeMean(zoo.zoo.vectors, members.length);
      const kde = fitKde(
        latents,
        members.length,
        vae.latentDim,
        members.map((m) => m.trainAcc),
        cfg.kdeTopFraction,
        cfg.kdeBandwidth,
      );
      const z = sampleKde(kde, 1, rng);
      return (await vae.decode(z, 1)).slice(0, layout.size);
    }
    case 'd2nwg':
      return sampleOf(cfg, task, src);
    case 'zoo':
      return (await zooCheckpointsOf(cfg, task, data, src))[0];
  }
}

/**
 * The Pretrained (source) model: the zoo's architecture trained with the zoo's settings on the
 * train pool of every known class of the Features input (the same definition as the quality
 * benchmark's), once per run; each task then gets its body and a fresh head.
 */
async function pretrainedSource(
  zoo: ValueOf<'zoo'> | undefined,
  features: ValueOf<'features'>,
  tasksV: ValueOf<'tasks'>,
  rng: Rng,
  signal: AbortSignal | undefined,
  where: string,
): Promise<SourceModel> {
  const z = need(zoo, 'zoo', 'pretrained_source', where);
  const built = z.zoo.manifest.config;
  if (!built) {
    throw new InputError(
      "init 'pretrained_source' needs the zoo's architecture and training settings, but this zoo records no build config (imported from elsewhere?)",
      where,
    );
  }
  return trainSourceModel({
    feat: features.data,
    trainPool: tasksV.tasks.trainPool,
    heldOut: tasksV.tasks.heldOut,
    architecture: built.arch,
    train: built.train,
    rng,
    signal,
  });
}

export const run = nodeRunner(evalFinetuneSpec, async (ctx, inputs) => {
  const cfg = ctx.config;
  const where = ctx.nodeId;
  const features = inputs.features;
  const tasksV = inputs.tasks;
  const zoo = inputs.zoo;
  const weights = inputs.weights;
  const vae = inputs.vae;
  const layout = weights?.layout ?? (zoo ? zooLayout(zoo.zoo.manifest) : undefined);
  if (!layout) {
    throw new InputError('connect a Zoo (or Weights) input: it fixes the architecture', where);
  }
  const bySplit = cfg.splits.map((split) => ({
    split,
    tasks: tasksOfSplit(tasksV, split, cfg.maxTasks, where),
  }));
  if (cfg.init === 'pretrained_source' && tasksV.tasks.unseenDataset !== undefined) {
    // It would train on these tasks' own dataset: not a model pretrained on the zoo's source.
    throw new InputError(
      "init 'pretrained_source' trains on the zoo's dataset, but these Tasks come from an Unseen-dataset tasks node: for a pretrained model on another dataset use init 'pretrained_file' with your checkpoint",
      where,
    );
  }
  const total = bySplit.reduce((n, g) => n + g.tasks.length, 0);
  const epochs = [...new Set(cfg.finetuneEpochs)].sort((a, b) => a - b);
  const maxEpoch = epochs[epochs.length - 1];
  const method = cfg.label || cfg.init;
  const source =
    cfg.init === 'pretrained_source'
      ? await pretrainedSource(zoo, features, tasksV, ctx.rng.fork('source'), ctx.signal, where)
      : undefined;
  let checkpoint: PretrainedCheckpoint | undefined;
  if (cfg.init === 'pretrained_file') {
    if (!cfg.checkpoint) {
      throw new InputError(
        "init 'pretrained_file' needs a checkpoint file: set config.checkpoint",
        `${where}: config.checkpoint`,
      );
    }
    checkpoint = await loadPretrainedFile(
      await ctx.paths.checkRead(cfg.checkpoint, 'checkpoint'),
      layout,
      (file) => ctx.paths.checkRead(file, 'checkpoint weight file'),
    );
  }
  // Every init of every task first; then all of their fine-tuning as model batches (each gets
  // the curve it would get alone), every init of a task with the task's same shuffling.
  const jobs: FinetuneJob[] = [];
  const owners: { split: number; task: number; inits: number }[][] = [];
  let done = 0;
  for (const [si, { split, tasks }] of bySplit.entries()) {
    owners.push([]);
    for (const [ti, task] of tasks.entries()) {
      throwIfAborted(ctx.signal);
      if (task.classes.length !== layout.arch.outputs) {
        throw new InputError(
          `task ${task.id} has ${task.classes.length} classes but the architecture has ${layout.arch.outputs} outputs`,
          where,
        );
      }
      const data = materializeTask(features.data, task);
      const inits = await initsFor(
        cfg,
        task,
        data,
        { zoo, weights, vae, source, checkpoint, layout, where },
        ctx.rng.fork(`init-${task.id}`),
      );
      const shuffle = ctx.rng.fork(`finetune-${task.id}`);
      for (const init of inits) jobs.push({ init, task: data, rng: shuffle.clone() });
      owners[si].push({ split: si, task: ti, inits: inits.length });
      done += 1;
      controlOf(ctx).onProgress?.({
        value: done,
        max: total + maxEpoch,
        unit: 'task',
        label: `${method} (${split}): init ${done}/${total}`,
      });
    }
  }
  const curves = await finetuneCurves({
    layout,
    jobs,
    maxEpoch,
    lr: cfg.lr,
    batchSize: cfg.batchSize,
    control: {
      signal: ctx.signal,
      onProgress: (p) =>
        controlOf(ctx).onProgress?.({
          value: total + p.value,
          max: total + maxEpoch,
          unit: 'task',
          label: `${method}: fine-tuning epoch ${p.value}/${maxEpoch}`,
          ...(p.metrics?.testAcc !== undefined ? { metrics: { testAcc: p.metrics.testAcc } } : {}),
        }),
    },
  });
  const results: MethodResult[] = [];
  let at = 0;
  for (const [si, { split, tasks }] of bySplit.entries()) {
    // 'mean' averages the curves of a task's inits.
    const perTask = tasks.map((task, ti) => {
      const n = owners[si][ti].inits;
      const cs = curves.slice(at, at + n);
      at += n;
      return {
        taskId: task.id,
        accuracy: epochs.map((e) => meanStd(cs.map((c) => c.accuracy[e])).mean),
      };
    });
    const stats = epochs.map((_, j) => meanStd(perTask.map((p) => p.accuracy[j])));
    results.push({
      method,
      split,
      epochs,
      mean: stats.map((st) => st.mean),
      std: stats.map((st) => st.std),
      perTask,
    });
  }
  return {
    outputs: { metrics: { type: 'metrics', results } },
    summary: resultSummary(method, results),
  };
});
