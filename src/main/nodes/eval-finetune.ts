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
import { InputError, throwIfAborted } from '../engine/errors.ts';
import type { Layout } from '../engine/nn/architecture.ts';
import { initParams } from '../engine/nn/params.ts';
import { predictClasses } from '../engine/nn/train.ts';
import type { Rng } from '../engine/rng.ts';
import { memberVector, zooLayout } from '../engine/zoo/storage.ts';
import { controlOf, meanStd, nodeRunner, tasksOfSplit } from './define.ts';
import { maybe, one, type MethodResult, type ValueOf } from './values.ts';

interface InitSources {
  readonly zoo?: ValueOf<'zoo'>;
  readonly weights?: ValueOf<'weights'>;
  readonly vae?: ValueOf<'vae'>;
  /** Trained once per run, for pretrained_source. */
  readonly source?: SourceModel;
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

/** The first (best-ranked) Weights sample of a task; an InputError when there is none. */
function sampleOf(cfg: EvalFinetuneConfig, task: TaskSpec, src: InitSources): Float32Array {
  const w = need(src.weights, 'Weights', cfg.init, src.where);
  const mine = w.perTask.find((t) => t.task.id === task.id);
  if (!mine || mine.vectors.length === 0) {
    throw new InputError(
      `the Weights input has no sample for task ${task.id}; give the Sampler the same split and maxTasks as this node`,
      src.where,
    );
  }
  return mine.vectors[0];
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
  const features = one(inputs, 'features', 'features');
  const tasksV = one(inputs, 'tasks', 'tasks');
  const zoo = maybe(inputs, 'zoo', 'zoo');
  const weights = maybe(inputs, 'weights', 'weights');
  const vae = maybe(inputs, 'vae', 'vae');
  const layout = weights?.layout ?? (zoo ? zooLayout(zoo.zoo.manifest) : undefined);
  if (!layout) {
    throw new InputError('connect a Zoo (or Weights) input: it fixes the architecture', where);
  }
  const tasks = tasksOfSplit(tasksV, cfg.split, cfg.maxTasks, where);
  const epochs = [...new Set(cfg.finetuneEpochs)].sort((a, b) => a - b);
  const maxEpoch = epochs[epochs.length - 1];
  const method = cfg.label || cfg.init;
  const source =
    cfg.init === 'pretrained_source'
      ? await pretrainedSource(zoo, features, tasksV, ctx.rng.fork('source'), ctx.signal, where)
      : undefined;
  const jobs: FinetuneJob[] = [];
  for (const [i, task] of tasks.entries()) {
    throwIfAborted(ctx.signal);
    if (task.classes.length !== layout.arch.outputs) {
      throw new InputError(
        `task ${task.id} has ${task.classes.length} classes but the architecture has ${layout.arch.outputs} outputs`,
        where,
      );
    }
    const data = materializeTask(features.data, task);
    const init = await initFor(
      cfg,
      task,
      data,
      { zoo, weights, vae, source, layout, where },
      ctx.rng.fork(`init-${task.id}`),
    );
    jobs.push({ init, task: data, rng: ctx.rng.fork(`finetune-${task.id}`) });
    controlOf(ctx).onProgress?.({
      value: i + 1,
      max: tasks.length + maxEpoch,
      unit: 'task',
      label: `${method}: init ${i + 1}/${tasks.length}`,
    });
  }
  // Every task's fine-tuning as one model batch: each gets the curve it would get alone.
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
          value: tasks.length + p.value,
          max: tasks.length + maxEpoch,
          unit: 'task',
          label: `${method}: fine-tuning epoch ${p.value}/${maxEpoch}`,
          ...(p.metrics?.testAcc !== undefined ? { metrics: { testAcc: p.metrics.testAcc } } : {}),
        }),
    },
  });
  const perTask = tasks.map((task, i) => ({
    taskId: task.id,
    accuracy: epochs.map((e) => curves[i].accuracy[e]),
  }));
  const stats = epochs.map((_, j) => meanStd(perTask.map((p) => p.accuracy[j])));
  const result: MethodResult = {
    method,
    split: cfg.split,
    epochs,
    mean: stats.map((s) => s.mean),
    std: stats.map((s) => s.std),
    perTask,
  };
  const metrics: Record<string, number> = {};
  epochs.forEach((e, j) => {
    metrics[`accuracy/${method}@${e}`] = stats[j].mean;
  });
  return {
    outputs: { metrics: { type: 'metrics', results: [result] } },
    summary: {
      method,
      split: cfg.split,
      epochs,
      mean: result.mean,
      std: result.std,
      tasks: perTask.length,
      metrics,
    },
  };
});
