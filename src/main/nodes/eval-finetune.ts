/**
 * Runs eval.finetune: for each target task, build the initial weights by the chosen method
 * (engine/eval/inits.ts, the one definition the quality benchmark reports too), then measure test
 * accuracy after each listed number of fine-tuning epochs. The fine-tuning shuffling is forked
 * from the run seed and the task id only, so every Evaluate node of a pipeline trains with the
 * same batches and differences come from the init alone.
 */
import { evalFinetuneSpec } from '../../shared/nodes/eval-finetune.ts';
import { materializeTask } from '../engine/data/tasks.ts';
import { sampleSize, type TaskSpec } from '../engine/data/types.ts';
import { finetuneCurves, type FinetuneCurve, type FinetuneJob } from '../engine/eval/finetune.ts';
import {
  finetuneRng,
  initRng,
  initsFor,
  labelledSupport,
  kdeOf,
  type InitSettings,
  type InitSources,
  type InitZoo,
} from '../engine/eval/inits.ts';
import { trainSourceModel, type SourceModel } from '../engine/eval/pretrained.ts';
import { zooSourceModel } from '../engine/zoo/build.ts';
import { loadPretrainedFile, type PretrainedCheckpoint } from '../engine/eval/pretrained-file.ts';
import { InputError, throwIfAborted } from '../engine/errors.ts';
import { inputShapeOf, inputSize } from '../engine/nn/architecture.ts';
import type { Rng } from '../engine/rng.ts';
import { zooLayout } from '../engine/zoo/storage.ts';
import { canonicalJson } from '../graph/cache.ts';
import { controlOf, nodeRunner } from './define.ts';
import { resultSummary } from './results.ts';
import { tasksOfSplit } from './split-tasks.ts';
import { meanStd } from '../../shared/stats.ts';
import { type MethodResult, type TaskCurve, type ValueOf } from './values.ts';

/** A zoo input as the rows the init methods draw from. */
export function initZoo(zoo: ValueOf<'zoo'>): InitZoo {
  const members = zoo.zoo.manifest.members;
  return {
    vectors: zoo.zoo.vectors,
    taskIds: members.map((m) => m.taskId),
    trainAcc: members.map((m) => m.trainAcc),
  };
}

function need<T>(v: T | undefined, what: string, init: string, where: string): T {
  if (v === undefined)
    throw new InputError(`init '${init}' needs the ${what} input connected`, where);
  return v;
}

/** The support set as a task's training samples. */
function supportAsTrain(
  feat: ValueOf<'features'>['data'],
  task: TaskSpec,
  perClass: number,
  seed: number,
): { xTrain: Float32Array; yTrain: Int32Array } {
  const s = labelledSupport(feat, task, perClass, seed);
  return { xTrain: s.x, yTrain: s.y };
}

/** Source models being trained or trained, by the Tasks and Features values they came from. */
const sourceModels = new WeakMap<object, WeakMap<object, Map<string, Promise<SourceModel>>>>();

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
  // The members' input shape: a CNN's images, which 'pixels' features hold flattened.
  const arch = zooLayout(z.zoo.manifest).arch;
  const feat = features.data;
  if (sampleSize(feat) !== inputSize(arch)) {
    throw new InputError(
      `the Features have ${sampleSize(feat)} values per sample but the zoo's ${arch.kind} takes ${inputSize(arch)}; connect the Features the zoo was built from`,
      where,
    );
  }
  // A zoo built in this run carries the body its runs were fine-tuned from: used as is.
  if (built.train.pretrainEpochs > 0 && z.pretrained) return z.pretrained;
  // pretrained_source and pretrained_probe of one run share their source model: it is trained
  // once per (Tasks, Features, zoo build config, stream), as each node would train it.
  const key = `${rng.seed}\u0000${canonicalJson(built.arch)}\u0000${canonicalJson(built.train)}`;
  const byFeatures = sourceModels.get(tasksV.tasks) ?? new WeakMap();
  sourceModels.set(tasksV.tasks, byFeatures);
  const byKey = byFeatures.get(feat) ?? new Map<string, Promise<SourceModel>>();
  byFeatures.set(feat, byKey);
  const known = byKey.get(key);
  if (known) return known;
  const inputs = { ...feat, sampleShape: inputShapeOf(arch) };
  // A zoo fine-tuned from a pretrained body is compared with that very body (a loaded zoo's is
  // trained again, the same model from the zoo's seed).
  const trained =
    built.train.pretrainEpochs > 0
      ? zooSourceModel(built, inputs, tasksV.tasks, signal)
      : trainSourceModel({
          feat: inputs,
          trainPool: tasksV.tasks.trainPool,
          heldOut: tasksV.tasks.heldOut,
          architecture: built.arch,
          train: built.train,
          rng,
          signal,
        });
  byKey.set(key, trained);
  // A failed or cancelled training is not kept: the next node trains it again.
  trained.catch(() => byKey.delete(key));
  return trained;
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
  const fromSource = cfg.init === 'pretrained_source' || cfg.init === 'pretrained_probe';
  if (fromSource && tasksV.tasks.unseenDataset !== undefined) {
    // It would train on these tasks' own dataset: not a model pretrained on the zoo's source.
    throw new InputError(
      `init '${cfg.init}' trains on the zoo's dataset, but these Tasks come from an Unseen-dataset tasks node: for a pretrained model on another dataset use init 'pretrained_file' with your checkpoint`,
      where,
    );
  }
  const total = bySplit.reduce((n, g) => n + g.tasks.length, 0);
  const epochs = [...new Set(cfg.finetuneEpochs)].sort((a, b) => a - b);
  const maxEpoch = epochs[epochs.length - 1];
  const method = cfg.label || cfg.init;
  const source = fromSource
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
  const sources = {
    layout,
    where,
    ...(zoo ? { zoo: initZoo(zoo) } : {}),
    ...(vae ? { vae: vae.vae } : {}),
    ...(source ? { source } : {}),
    ...(checkpoint ? { checkpoint } : {}),
  } satisfies InitSources;
  const mean = cfg.samples === 'mean';
  const settings: InitSettings = {
    noiseStd: cfg.noiseStd,
    kdeBandwidth: cfg.kdeBandwidth,
    kdeTopFraction: cfg.kdeTopFraction,
    draws: mean ? cfg.draws : 1,
    ldaShrinkage: cfg.ldaShrinkage,
  };
  const kde = cfg.init === 'kde30' ? await kdeOf(sources, settings) : undefined;
  // Every init of every task first; then all of their fine-tuning as model batches (each gets
  // the curve it would get alone), every init of a task with the task's same shuffling. Inits
  // past `finetuneInits` are only measured as they are (epoch 0).
  const jobs: FinetuneJob[] = [];
  const extra: FinetuneJob[] = [];
  const owners: { trained: number; measured: number }[][] = [];
  let done = 0;
  for (const { split, tasks } of bySplit) {
    owners.push([]);
    for (const task of tasks) {
      throwIfAborted(ctx.signal);
      if (task.classes.length !== layout.arch.outputs) {
        throw new InputError(
          `task ${task.id} has ${task.classes.length} classes but the architecture has ${layout.arch.outputs} outputs`,
          where,
        );
      }
      const data = materializeTask(features.data, task);
      const mine = weights?.perTask.find((t) => t.task.id === task.id)?.vectors ?? [];
      const samples = weights ? (mean ? mine : mine.slice(0, 1)) : undefined;
      // A probe from the support set fits its head on that alone; fine-tuning still uses `data`.
      const fitOn =
        cfg.init === 'pretrained_probe' && cfg.probeFrom === 'support'
          ? { ...data, ...supportAsTrain(features.data, task, cfg.perClass, ctx.seed) }
          : data;
      const all = await initsFor(
        cfg.init,
        task,
        fitOn,
        samples ? { ...sources, samples } : sources,
        settings,
        initRng(ctx.seed, task.id),
        kde,
      );
      const inits = mean ? all : all.slice(0, 1);
      const trained =
        cfg.finetuneInits > 0 ? Math.min(cfg.finetuneInits, inits.length) : inits.length;
      const shuffle = finetuneRng(ctx.seed, task.id);
      inits.forEach((init, i) =>
        (i < trained ? jobs : extra).push({ init, task: data, rng: shuffle.clone() }),
      );
      owners[owners.length - 1].push({ trained, measured: inits.length - trained });
      done += 1;
      controlOf(ctx).onProgress?.({
        value: done,
        max: total + maxEpoch,
        unit: 'task',
        label: `${method} (${split}): init ${done}/${total}`,
      });
    }
  }
  const ftArgs = { layout, lr: cfg.lr, batchSize: cfg.batchSize };
  const curves = await finetuneCurves({
    ...ftArgs,
    jobs,
    maxEpoch,
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
  const measured = extra.length
    ? await finetuneCurves({ ...ftArgs, jobs: extra, maxEpoch: 0, control: { signal: ctx.signal } })
    : [];
  const results: MethodResult[] = [];
  let at = 0;
  let atExtra = 0;
  for (const [si, { split, tasks }] of bySplit.entries()) {
    // 'mean' averages the curves of a task's inits (epoch 0: every init; later: the trained ones).
    const runs: TaskCurve[] = [];
    const perTask = tasks.map((task, ti) => {
      const { trained, measured: m } = owners[si][ti];
      const cs: FinetuneCurve[] = curves.slice(at, at + trained);
      const es: FinetuneCurve[] = measured.slice(atExtra, atExtra + m);
      at += trained;
      atExtra += m;
      for (const c of cs) runs.push({ taskId: task.id, ...c });
      return {
        taskId: task.id,
        accuracy: epochs.map(
          (e) => meanStd((e === 0 ? [...cs, ...es] : cs).map((c) => c.accuracy[e])).mean,
        ),
        inits: epochs.map((e) => (e === 0 ? trained + m : trained)),
      };
    });
    const stats = epochs.map((_, j) => meanStd(perTask.map((p) => p.accuracy[j])));
    results.push({
      method,
      split,
      epochs,
      mean: stats.map((st) => st.mean),
      std: stats.map((st) => st.std),
      perTask: perTask.map((p) => ({ taskId: p.taskId, accuracy: p.accuracy })),
      initsPerTask: epochs.map((_, j) => Math.max(0, ...perTask.map((p) => p.inits[j]))),
      curves: runs,
    });
  }
  return {
    outputs: { metrics: { type: 'metrics', results } },
    summary: resultSummary(method, results),
  };
});
