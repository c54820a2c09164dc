/**
 * Runs eval.finetune: for each target task, build the initial weights by the chosen method, then
 * measure test accuracy after each listed number of fine-tuning epochs. The fine-tuning shuffling
 * is forked from the run seed and the task id only, so every Evaluate node of a pipeline trains
 * with the same batches and differences come from the init alone.
 */
import { evalFinetuneSpec, type EvalFinetuneConfig } from '../../shared/nodes/eval-finetune.ts';
import { materializeTask } from '../engine/data/tasks.ts';
import type { TaskData, TaskSpec } from '../engine/data/types.ts';
import { addNoise, averageVectors, fitKde, sampleKde } from '../engine/eval/baselines.ts';
import { finetuneCurve } from '../engine/eval/finetune.ts';
import { InputError, throwIfAborted } from '../engine/errors.ts';
import type { Layout } from '../engine/nn/architecture.ts';
import { initParams } from '../engine/nn/params.ts';
import { evaluateMany } from '../engine/nn/train.ts';
import type { Rng } from '../engine/rng.ts';
import { memberVector, zooLayout } from '../engine/zoo/storage.ts';
import { controlOf, meanStd, nodeRunner, tasksOfSplit } from './define.ts';
import { maybe, one, type MethodResult, type ValueOf } from './values.ts';

interface InitSources {
  readonly zoo?: ValueOf<'zoo'>;
  readonly weights?: ValueOf<'weights'>;
  readonly vae?: ValueOf<'vae'>;
  readonly layout: Layout;
  readonly where: string;
}

function need<T>(v: T | undefined, what: string, init: string, where: string): T {
  if (v === undefined)
    throw new InputError(`init '${init}' needs the ${what} input connected`, where);
  return v;
}

/** Zoo rows ranked by accuracy on the task's training samples (best first). */
function rankZooOnTask(zoo: ValueOf<'zoo'>, layout: Layout, data: TaskData): number[] {
  const n = zoo.zoo.manifest.members.length;
  const vectors = Array.from({ length: n }, (_, i) => memberVector(zoo.zoo, i));
  const acc = evaluateMany(layout, vectors, data.xTrain, data.yTrain).map((e) => e.accuracy);
  return acc.map((_, i) => i).sort((a, b) => acc[b] - acc[a] || a - b);
}

/** The initial weight vector of one task for the configured method. */
function initFor(
  cfg: EvalFinetuneConfig,
  task: TaskSpec,
  data: TaskData,
  src: InitSources,
  rng: Rng,
): Float32Array {
  const { layout, where } = src;
  switch (cfg.init) {
    case 'randinit':
      return initParams(layout, rng);
    case 'pretrained_source': {
      // Transfer learning from a source task: the body (every layer but the last) of the best
      // zoo checkpoint trained on another task, with a freshly initialised head for this task.
      const zoo = need(src.zoo, 'zoo', cfg.init, where);
      const members = zoo.zoo.manifest.members;
      let best = -1;
      for (const m of members) {
        if (m.taskId === task.id) continue;
        if (best < 0 || m.testAcc > members[best].testAcc) best = m.index;
      }
      if (best < 0) throw new InputError('the zoo has no member trained on another task', where);
      const head = layout.params.slice(-2).reduce((a, p) => a + p.size, 0);
      const out = initParams(layout, rng);
      out.set(memberVector(zoo.zoo, best).subarray(0, layout.size - head), 0);
      return out;
    }
    case 'noise_nearest': {
      // The checkpoint nearest in function (best on the task's training samples), plus noise.
      const zoo = need(src.zoo, 'zoo', cfg.init, where);
      const order = rankZooOnTask(zoo, layout, data);
      return addNoise(memberVector(zoo.zoo, order[0]), cfg.noiseStd, rng);
    }
    case 'weight_avg': {
      // Average of the checkpoints of the nearest zoo task: the task of the member that fits this
      // task's training samples best (for a seen task, normally the task itself).
      const zoo = need(src.zoo, 'zoo', cfg.init, where);
      const d = layout.size;
      const members = zoo.zoo.manifest.members;
      const nearest = members[rankZooOnTask(zoo, layout, data)[0]].taskId;
      const rows = members.filter((m) => m.taskId === nearest).map((m) => m.index);
      const stacked = new Float32Array(rows.length * d);
      rows.forEach((r, i) => stacked.set(memberVector(zoo.zoo, r), i * d));
      return averageVectors(stacked, rows.length, d);
    }
    case 'kde30': {
      const zoo = need(src.zoo, 'zoo', cfg.init, where);
      const { vae } = need(src.vae, 'VAE', cfg.init, where);
      const members = zoo.zoo.manifest.members;
      const latents = vae.encodeMean(zoo.zoo.vectors, members.length);
      const kde = fitKde(
        latents,
        members.length,
        vae.latentDim,
        members.map((m) => m.testAcc),
        cfg.kdeTopFraction,
        cfg.kdeBandwidth,
      );
      const z = sampleKde(kde, 1, rng);
      return vae.decode(z, 1).slice(0, layout.size);
    }
    case 'd2nwg': {
      const w = need(src.weights, 'Weights', cfg.init, where);
      const mine = w.perTask.find((t) => t.task.id === task.id);
      if (!mine || mine.vectors.length === 0) {
        throw new InputError(
          `the Weights input has no sample for task ${task.id}; give the Sampler the same split and maxTasks as this node`,
          where,
        );
      }
      return mine.vectors[0];
    }
  }
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
  const perTask: { taskId: string; accuracy: number[] }[] = [];
  for (const [i, task] of tasks.entries()) {
    throwIfAborted(ctx.signal);
    if (task.classes.length !== layout.arch.outputs) {
      throw new InputError(
        `task ${task.id} has ${task.classes.length} classes but the architecture has ${layout.arch.outputs} outputs`,
        where,
      );
    }
    const data = materializeTask(features.data, task);
    const init = initFor(
      cfg,
      task,
      data,
      { zoo, weights, vae, layout, where },
      ctx.rng.fork(`init-${task.id}`),
    );
    const curve = await finetuneCurve({
      layout,
      init,
      task: data,
      maxEpoch,
      lr: cfg.lr,
      batchSize: cfg.batchSize,
      rng: ctx.rng.fork(`finetune-${task.id}`),
      control: { signal: ctx.signal },
    });
    perTask.push({ taskId: task.id, accuracy: epochs.map((e) => curve.accuracy[e]) });
    const running = meanStd(perTask.map((p) => p.accuracy[0]));
    controlOf(ctx).onProgress?.({
      value: i + 1,
      max: tasks.length,
      unit: 'task',
      label: method,
      metrics: { [`accuracy@${epochs[0]}`]: running.mean },
    });
  }
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
