/**
 * Every initialisation method the Evaluate node offers (and the quality benchmark reports, since
 * it runs Evaluate nodes): the one definition of what each method starts fine-tuning from on a
 * task, and of the random streams they draw from, so a report row and an Evaluate node with that
 * init give the same numbers.
 */
import type { InitMethod } from '../../../shared/nodes/eval-finetune.ts';
import { supportLabels, taskSupportSet } from '../data/tasks.ts';
import type { LabelledData, TaskData, TaskSpec } from '../data/types.ts';
import { InputError } from '../errors.ts';
import type { Layout } from '../nn/architecture.ts';
import { initParams } from '../nn/params.ts';
import { evaluateMany } from '../nn/train.ts';
import { predictBatch } from '../nn/batch.ts';
import { Rng } from '../rng.ts';
import type { WeightVae } from '../vae/model.ts';
import {
  addNoise,
  averageVectors,
  fitKde,
  noiseFunctionMatched,
  noiseMatched,
  sampleKde,
  type Kde,
  type FunctionMatchedCopy,
  type NoiseMatchedCopy,
} from './baselines.ts';
import { nearestCheckpoint, type ZooRows } from './nearest.ts';
import type { SourceModel } from './pretrained.ts';
import { discriminantHead } from './protohead.ts';
import type { PretrainedCheckpoint } from './pretrained-file.ts';

/** The stream name of the Evaluate node (its node type: the executor forks ctx.rng by it). */
const EVAL_STREAM = 'eval.finetune';

/** The stream a task's inits are drawn from, the same in every Evaluate node of a run. */
export function initRng(seed: number, taskId: string): Rng {
  return new Rng(seed).fork(EVAL_STREAM).fork(`init-${taskId}`);
}

/** The fine-tuning shuffling of a task: every method of a run trains with the same batches. */
export function finetuneRng(seed: number, taskId: string): Rng {
  return new Rng(seed).fork(EVAL_STREAM).fork(`finetune-${taskId}`);
}

/**
 * The support set a target task is conditioned on (Sampler) or fitted on (Reference, 'support'):
 * drawn from the run seed and the task id only, so every node sees the same one.
 */
export function supportRng(seed: number, taskId: string): Rng {
  return new Rng(seed).fork('support').fork(taskId);
}

/** That support set with its labels (class i of the task = label i), `perClass` per class. */
export function labelledSupport(
  feat: LabelledData,
  task: TaskSpec,
  perClass: number,
  seed: number,
): { x: Float32Array; y: Int32Array } {
  const s = taskSupportSet(feat, task, perClass, supportRng(seed, task.id));
  return { x: s.x, y: supportLabels(task.classes.length, perClass) };
}

/** The zoo a method draws checkpoints from: its rows, with each member's task and accuracy. */
export interface InitZoo extends ZooRows {
  /** Training accuracy of each member (S_KDE30 keeps the best fraction by it). */
  readonly trainAcc: readonly number[];
}

/** What the methods draw on; each needs only some of it (InputError naming what is missing). */
export interface InitSources {
  readonly layout: Layout;
  readonly zoo?: InitZoo;
  /** The D2NWG samples of the task (the Weights input), in the Sampler's order. */
  readonly samples?: readonly Float32Array[];
  readonly vae?: WeightVae;
  /** Trained once per run, for pretrained_source. */
  readonly source?: SourceModel;
  /** Read once per run, for pretrained_file. */
  readonly checkpoint?: PretrainedCheckpoint;
  /** Where errors point (the node id). */
  readonly where: string;
}

/** The settings of the methods that have any. */
export interface InitSettings {
  /** noise_nearest: noise std relative to the checkpoint's RMS. */
  readonly noiseStd: number;
  readonly kdeBandwidth: number;
  readonly kdeTopFraction: number;
  /** How many inits the random-draw methods (noise_nearest, kde30) draw per task. */
  readonly draws: number;
  /** pretrained_probe: shrinkage of the LDA head's covariance (discriminant.ts). */
  readonly ldaShrinkage: number;
}

function need<T>(v: T | undefined, what: string, init: string, where: string): T {
  if (v === undefined)
    throw new InputError(`init '${init}' needs the ${what} input connected`, where);
  return v;
}

/** The D2NWG samples of a task; an InputError when there is none. */
function samplesOf(src: InitSources, init: string, task: TaskSpec): readonly Float32Array[] {
  const samples = need(src.samples, 'Weights', init, src.where);
  if (samples.length === 0) {
    throw new InputError(
      `the Weights input has no sample for task ${task.id}; give the Sampler the same splits and maxTasks as this node`,
      src.where,
    );
  }
  return samples;
}

function row(zoo: ZooRows, i: number, dim: number): Float32Array {
  return zoo.vectors.slice(i * dim, (i + 1) * dim);
}

/**
 * noise_matched: for each D2NWG sample, its nearest zoo checkpoint (L2) plus noise of norm = that
 * distance (as novel as the sample in weight space), with the source of each copy.
 */
export function noiseMatchedCopies(
  src: InitSources,
  task: TaskSpec,
  rng: Rng,
  zooNorms2?: Float64Array,
): NoiseMatchedCopy[] {
  const zoo = need(src.zoo, 'zoo', 'noise_matched', src.where);
  const samples = samplesOf(src, 'noise_matched', task);
  const n = zoo.taskIds.length;
  return noiseMatched(samples, zoo.vectors, n, src.layout.size, rng, zooNorms2);
}

/**
 * noise_fn_matched: the same checkpoints, noised until their predictions on the task's training
 * samples differ from the checkpoint's as often as the sample's do (as novel in function).
 */
export async function noiseFnMatchedCopies(
  src: InitSources,
  task: TaskSpec,
  data: Pick<TaskData, 'xTrain'>,
  rng: Rng,
  zooNorms2?: Float64Array,
): Promise<FunctionMatchedCopy[]> {
  const zoo = need(src.zoo, 'zoo', 'noise_fn_matched', src.where);
  const samples = samplesOf(src, 'noise_fn_matched', task);
  return noiseFunctionMatched({
    samples,
    zoo: zoo.vectors,
    count: zoo.taskIds.length,
    dim: src.layout.size,
    predict: (ws) => predictBatch(src.layout, ws, data.xTrain),
    rng,
    ...(zooNorms2 ? { zooNorms2 } : {}),
  });
}

/**
 * The zoo's own checkpoints of a seen task, best on the task's training samples first; an
 * InputError for a task the zoo never trained on (the 'zoo' method exists on seen tasks only).
 */
async function zooCheckpointsOf(
  src: InitSources,
  task: TaskSpec,
  data: TaskData,
): Promise<Float32Array[]> {
  const zoo = need(src.zoo, 'zoo', 'zoo', src.where);
  const dim = src.layout.size;
  const own = zoo.taskIds.flatMap((id, i) => (id === task.id ? [i] : []));
  if (own.length === 0) {
    throw new InputError(
      `the zoo has no checkpoint of task ${task.id}: init 'zoo' applies to the seen split only (the tasks the zoo trained on)`,
      src.where,
    );
  }
  const vectors = own.map((i) => row(zoo, i, dim));
  const acc = (await evaluateMany(src.layout, vectors, data.xTrain, data.yTrain)).map(
    (e) => e.accuracy,
  );
  return vectors
    .map((_, i) => i)
    .sort((a, b) => acc[b] - acc[a] || a - b)
    .map((i) => vectors[i]);
}

/** S_KDE30 of a zoo and VAE: the latent means of the best fraction of the zoo. */
export async function kdeOf(src: InitSources, settings: InitSettings): Promise<Kde> {
  const zoo = need(src.zoo, 'zoo', 'kde30', src.where);
  const vae = need(src.vae, 'VAE', 'kde30', src.where);
  const n = zoo.taskIds.length;
  const latents = await vae.encodeMean(zoo.vectors, n);
  return fitKde(
    latents,
    n,
    vae.latentDim,
    zoo.trainAcc,
    settings.kdeTopFraction,
    settings.kdeBandwidth,
  );
}

/**
 * The initial weight vectors of one task for `method`, in order (the first is what 'first'
 * evaluates): several for d2nwg (the samples, in the Sampler's order), zoo (the task's
 * checkpoints, best on its training samples first), noise_matched and noise_fn_matched (one copy
 * per sample) and the random draws (noise_nearest, kde30: `settings.draws`); one otherwise.
 * `kde` is the fitted S_KDE30 (kdeOf, once per run) for kde30.
 */
export async function initsFor(
  method: InitMethod,
  task: TaskSpec,
  data: TaskData,
  src: InitSources,
  settings: InitSettings,
  rng: Rng,
  kde?: Kde,
): Promise<Float32Array[]> {
  const { layout, where } = src;
  const dim = layout.size;
  switch (method) {
    case 'randinit':
      return [initParams(layout, rng)];
    case 'pretrained_source':
      // The source model (trained once per run on every known class) with a fresh head here.
      return [need(src.source, 'source model', method, where).transfer(layout, rng)];
    case 'pretrained_probe': {
      // A linear probe: the source model's body as a fixed feature extractor, with an LDA head
      // fitted in closed form on `data`'s training samples (all of the task's, or the support
      // set: the Evaluate node's probeFrom); fine-tuning then trains it all.
      const transferred = need(src.source, 'source model', method, where).transfer(layout, rng);
      return [
        await discriminantHead(
          layout,
          transferred,
          data.xTrain,
          data.yTrain,
          settings.ldaShrinkage,
        ),
      ];
    }
    case 'pretrained_file':
      // The user's checkpoint, with a fresh head here when its class count differs.
      return [need(src.checkpoint, 'checkpoint', method, where).init(rng)];
    case 'noise_nearest': {
      // The checkpoint nearest in function (best on the task's training samples), plus noise.
      const zoo = need(src.zoo, 'zoo', method, where);
      const near = await nearestCheckpoint(layout, zoo, data.xTrain, data.yTrain);
      const best = row(zoo, near.index, dim);
      return Array.from({ length: settings.draws }, () => addNoise(best, settings.noiseStd, rng));
    }
    case 'noise_matched':
      return noiseMatchedCopies(src, task, rng).map((c) => c.vector);
    case 'noise_fn_matched':
      return (await noiseFnMatchedCopies(src, task, data, rng)).map((c) => c.vector);
    case 'weight_avg': {
      // Average of the checkpoints of the nearest zoo task: the task of the member that fits this
      // task's training samples best (for a seen task, normally the task itself).
      const zoo = need(src.zoo, 'zoo', method, where);
      const rows = (await nearestCheckpoint(layout, zoo, data.xTrain, data.yTrain)).taskRows;
      const stacked = new Float32Array(rows.length * dim);
      rows.forEach((r, i) => stacked.set(zoo.vectors.subarray(r * dim, (r + 1) * dim), i * dim));
      return [averageVectors(stacked, rows.length, dim)];
    }
    case 'kde30': {
      const vae = need(src.vae, 'VAE', method, where);
      const fitted = kde ?? (await kdeOf(src, settings));
      const z = sampleKde(fitted, settings.draws, rng);
      const dec = await vae.decode(z, settings.draws);
      return Array.from({ length: settings.draws }, (_, i) =>
        dec.slice(i * vae.inputDim, i * vae.inputDim + dim),
      );
    }
    case 'd2nwg':
      return [...samplesOf(src, method, task)];
    case 'zoo':
      return zooCheckpointsOf(src, task, data);
  }
}
