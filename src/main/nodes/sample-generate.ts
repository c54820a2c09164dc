/** Runs sample.generate: D2NWG inference for each target task of the chosen split. */
import { mkdir } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { JsonValue } from '../../shared/events.ts';
import { sampleGenerateSpec } from '../../shared/nodes/sample-generate.ts';
import { SamplerConfig } from '../../shared/schemas/diffusion.ts';
import { LATENTS_SUMMARY_KEY } from '../../shared/schemas/latents.ts';
import { encodeWeightsArtifact } from '../engine/export/artifact.ts';
import { exportFeaturesOf, inputScaleOf } from '../engine/export/features.ts';
import { taskOf, testAccuracyOn } from '../engine/export/task.ts';
import { evaluateMany } from '../engine/nn/train.ts';
import { writeFileAtomic } from '../engine/formats/atomic.ts';
import { materializeTask, supportLabels, taskSupportSet } from '../engine/data/tasks.ts';
import { InputError, throwIfAborted } from '../engine/errors.ts';
import { ClassHeadGenerator } from '../engine/eval/classhead.ts';
import { supportRng } from '../engine/eval/inits.ts';
import { discriminantHead, prototypeHeadOf } from '../engine/eval/protohead.ts';
import {
  predictorMetrics,
  rankByPredictor,
  trainPredictorOnZoo,
  type AccuracyPredictor,
} from '../engine/predictor/predictor.ts';
import { rankByAccuracy, sampleWeights } from '../engine/sample/sample.ts';
import { buildLatentProjection, type TaggedLatents } from '../engine/vae/latents.ts';
import type { WeightVae } from '../engine/vae/model.ts';
import { zooLayout } from '../engine/zoo/storage.ts';
import { controlOf, nodeRunner } from './define.ts';
import { safeName } from './file-names.ts';
import { zooPairs } from './generator.ts';
import { tasksOfSplit } from './split-tasks.ts';
import { meanStd } from '../../shared/stats.ts';
import { type TaskWeights, type ZooValue } from './values.ts';

export const run = nodeRunner(sampleGenerateSpec, async (ctx, inputs) => {
  const cfg = ctx.config;
  const { model } = inputs.diffusion;
  const vaeV = inputs.vae;
  const { vae } = vaeV;
  const { encoder } = inputs.encoder;
  const featV = inputs.features;
  const feat = featV.data;
  const tasksV = inputs.tasks;
  const bySplit = cfg.splits.map((split) => ({
    split,
    tasks: tasksOfSplit(tasksV, split, cfg.maxTasks, ctx.nodeId),
  }));
  const targets = bySplit.flatMap((g) => g.tasks);
  const perClass = encoder.shape.perClass;
  const d = feat.sampleShape[0];
  const zoo = inputs.zoo;
  const layout = zooLayout(zoo.zoo.manifest);
  const parts = { layout, vae, encoder, diffusion: model };
  // The node's config extends the sampler's; the sampler takes (and strictly checks) only its own keys.
  const sampler = SamplerConfig.strip().parse(cfg);
  const perTask: TaskWeights[] = [];
  /** Every sample's latent, in task order, for the latent map. */
  const sampleLatents: Float32Array[] = [];
  const control = controlOf(ctx);
  // rankBy 'predictor': g learns accuracy from the zoo's members (their training accuracy, tasks
  // held out to measure it), then scores each task's samples with no labelled data.
  let predictor: AccuracyPredictor | null = null;
  let predictorSummary: Record<string, number> = {};
  if (cfg.rank && cfg.rankBy === 'predictor') {
    const t0 = performance.now();
    const trained = await trainPredictorOnZoo({
      vectors: zoo.zoo.vectors,
      dim: layout.size,
      members: zoo.zoo.manifest.members,
      config: cfg.predictor,
      rng: ctx.rng.fork('predictor'),
      control,
    });
    predictor = trained.predictor;
    predictorSummary = {
      ...predictorMetrics(trained.validation),
      predictorSeconds: (performance.now() - t0) / 1000,
    };
  }
  let classHead: ClassHeadGenerator | null = null;
  try {
    if (cfg.head === 'class') {
      if (cfg.headFrom === 'train') {
        throw new InputError(
          "head 'class' is generated from the support set: to condition it on all training samples set the encoder's perClass to tasks.nTrain",
          `${ctx.nodeId}: config.headFrom`,
        );
      }
      // The zoo's checkpoints with their own tasks' training samples (the Tasks the zoo was built from).
      const pairs = zooPairs(zoo, tasksV, ctx.nodeId);
      const vecs = zoo.zoo.vectors;
      classHead = await ClassHeadGenerator.train({
        layout,
        members: pairs.groups.length,
        member: (m) => {
          const td = materializeTask(feat, pairs.tasks[pairs.groups[m]]);
          return {
            params: vecs.slice(m * layout.size, (m + 1) * layout.size),
            x: td.xTrain,
            y: td.yTrain,
          };
        },
        perClass,
        config: cfg.classHead,
        rng: ctx.rng.fork('class-head'),
        control: { signal: ctx.signal },
      });
    }
    for (const [i, task] of targets.entries()) {
      throwIfAborted(ctx.signal);
      const supportSet = taskSupportSet(feat, task, perClass, supportRng(ctx.seed, task.id));
      const support = supportSet.x;
      const sampled = await sampleWeights({
        parts,
        support,
        numClasses: task.classes.length,
        perClass,
        featDim: d,
        count: cfg.samplesPerTask,
        sampler,
        rng: ctx.rng.fork('sample').fork(task.id),
      });
      sampleLatents.push(sampled.latents);
      let td: ReturnType<typeof materializeTask> | null = null;
      const taskData = () => (td ??= materializeTask(feat, task));
      let vectors = sampled.vectors;
      const gen = classHead;
      if (gen) {
        vectors = await Promise.all(
          vectors.map((v) => gen.headFor(v, support, task.classes.length, perClass)),
        );
      } else if (cfg.head !== 'generated') {
        const [x, y] =
          cfg.headFrom === 'train'
            ? [taskData().xTrain, taskData().yTrain]
            : [support, supportLabels(supportSet.shape[0], supportSet.shape[1])];
        vectors = await Promise.all(
          vectors.map((v) =>
            cfg.head === 'prototypes'
              ? prototypeHeadOf(layout, v, x, y)
              : discriminantHead(layout, v, x, y, cfg.headShrinkage),
          ),
        );
      }
      let ranked: TaskWeights;
      if (predictor) {
        const byG = await rankByPredictor(predictor, vectors);
        ranked = {
          task,
          vectors: byG.order.map((j) => vectors[j]),
          predictedAccuracy: byG.order.map((j) => byG.predicted[j]),
        };
      } else if (cfg.rank) {
        const { xTrain, yTrain } = taskData();
        const r = await rankByAccuracy(layout, vectors, xTrain, yTrain);
        ranked = {
          task,
          vectors: r.order.map((j) => vectors[j]),
          supportAccuracy: r.order.map((j) => r.accuracy[j]),
        };
      } else {
        ranked = { task, vectors };
      }
      // Test accuracy of every sample (never used to rank): what an export reports as `accuracy`.
      const { xTest, yTest } = taskData();
      const testAccuracy = (await evaluateMany(layout, ranked.vectors, xTest, yTest)).map(
        (e) => e.accuracy,
      );
      perTask.push({ ...ranked, testAccuracy });
      control.onProgress?.({ value: i + 1, max: targets.length, unit: 'task' });
    }
  } finally {
    predictor?.dispose();
    classHead?.dispose();
  }
  // One 'weights' artifact per task (all its samples, ranked), so `d2nwg runs export` and the
  // app's export dialog can turn any of them into safetensors / tfjs / npy later. The files are
  // staging copies for the store (which keeps its own content-addressed copy), so they go to the
  // temp folder, not into the data folder (the working directory for `d2nwg run`).
  const dir = path.join(os.tmpdir(), 'd2nwg-artifacts', safeName(ctx.runId), safeName(ctx.nodeId));
  await mkdir(dir, { recursive: true });
  const features = exportFeaturesOf(featV.state, inputScaleOf(tasksV.datasetSource.kind));
  /** How the output layers were made, for the stored artifacts and the Export node's manifests. */
  const head = cfg.head !== 'generated' ? `${cfg.head} (${cfg.headFrom})` : undefined;
  for (const t of perTask) {
    const enc = encodeWeightsArtifact(layout, t.vectors, {
      dataset: `${tasksV.source} task ${t.task.id} (classes ${t.task.classes.join(', ')})`,
      ...(head !== undefined ? { head } : {}),
      sampleMetrics: t.vectors.map((_, j) => ({
        ...(t.supportAccuracy ? { supportAccuracy: t.supportAccuracy[j] } : {}),
        ...(t.predictedAccuracy ? { predictedAccuracy: t.predictedAccuracy[j] } : {}),
        ...(t.testAccuracy ? { testAccuracy: t.testAccuracy[j] } : {}),
      })),
      accuracyOn: testAccuracyOn(t.task),
      task: taskOf(t.task, tasksV.classNames),
      features,
    });
    const file = path.join(dir, `${safeName(t.task.id)}.safetensors`);
    await writeFileAtomic(file, enc.bytes);
    const meta: { readonly [key: string]: JsonValue } = JSON.parse(JSON.stringify(enc.meta));
    ctx.artifact({ kind: 'weights', path: file, bytes: enc.bytes.length, shape: enc.shape, meta });
  }
  const latents = latentMap(vaeV.zooLatents ?? (await zooLatentsOf(zoo, vae)), vae.latentDim, {
    latents: concat(sampleLatents),
    n: targets.length * cfg.samplesPerTask,
    taskIds: targets.flatMap((t) => Array<string>(cfg.samplesPerTask).fill(t.id)),
  });
  // The best-ranked sample's training accuracy, per split (a seen task's is not a new task's).
  const bestBySplit: Record<string, number> = {};
  for (const { split, tasks } of bySplit) {
    const ids = new Set(tasks.map((t) => t.id));
    const best = perTask
      .filter((t) => ids.has(t.task.id))
      .map((t) => t.supportAccuracy?.[0])
      .filter((a): a is number => a !== undefined);
    if (best.length) bestBySplit[`bestTrainAccuracy/${split}`] = meanStd(best).mean;
  }
  return {
    outputs: {
      weights: {
        type: 'weights',
        layout,
        perTask,
        dataset: tasksV.source,
        method: 'd2nwg',
        producedBy: { runId: ctx.runId, nodeId: ctx.nodeId },
        features,
        classNames: tasksV.classNames,
        ...(head !== undefined ? { head } : {}),
      },
    },
    summary: {
      splits: [...cfg.splits],
      ...(latents ? { [LATENTS_SUMMARY_KEY]: latents } : {}),
      metrics: {
        tasks: perTask.length,
        samples: perTask.length * cfg.samplesPerTask,
        ...bestBySplit,
        ...predictorSummary,
      },
    },
  };
});

/**
 * The zoo's latent means computed here, for a VAE value that does not carry them; undefined when
 * the zoo's vectors do not fit the VAE (then there is no latent map).
 */
async function zooLatentsOf(zoo: ZooValue, vae: WeightVae): Promise<TaggedLatents | undefined> {
  const members = zoo.zoo.manifest.members;
  if (zoo.zoo.manifest.layout.size !== vae.inputDim || members.length === 0) return undefined;
  return {
    latents: await vae.encodeMean(zoo.zoo.vectors, members.length),
    n: members.length,
    taskIds: members.map((m) => m.taskId),
  };
}

/** The zoo + samples latent map, or undefined without zoo latents. */
function latentMap(zoo: TaggedLatents | undefined, latentDim: number, samples: TaggedLatents) {
  return zoo ? buildLatentProjection({ latentDim, zoo, samples }) : undefined;
}

function concat(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
