/**
 * The quality benchmark pipeline (bench/QUALITY.md): build the zoo, train the VAE, the dataset
 * encoder and the latent diffusion model, then evaluate D2NWG samples and every baseline on the
 * same tasks and test samples, at the same fine-tuning epochs. Returns the fixed-schema report.
 * Every random draw forks from the config's seed, so a config gives the same numbers twice.
 */
import type * as tf from '@tensorflow/tfjs';
import type { QualityConfig, QualityReport } from '../../../shared/schemas/quality.ts';
import { currentBackend } from '../backend.ts';
import { loadDataset } from '../data/sources.ts';
import {
  drawTargetTasks,
  generateTasks,
  materializeTask,
  supportLabels,
  taskSupportSet,
} from '../data/tasks.ts';
import type { LabelledData, TaskSpec } from '../data/types.ts';
import { trainDiffusion } from '../diffusion/train.ts';
import { trainEncoder } from '../encoder/encoder.ts';
import { InputError, throwIfAborted } from '../errors.ts';
import { applyExtractor } from '../features/extractor.ts';
import { initParams } from '../nn/params.ts';
import { evaluateEnsemble, evaluateMany, predictClasses } from '../nn/train.ts';
import { yieldToEventLoop, type RunControl } from '../progress.ts';
import { Rng } from '../rng.ts';
import {
  greedySoup,
  rankByAccuracy,
  sampleWeights,
  soup,
  type GeneratorParts,
} from '../sample/sample.ts';
import { trainVae } from '../vae/train.ts';
import { buildZoo } from '../zoo/build.ts';
import { zooLayout } from '../zoo/storage.ts';
import {
  addNoise,
  averageVectors,
  fitKde,
  ncmAccuracy,
  noiseFunctionMatched,
  noiseMatched,
  sampleKde,
} from '../eval/baselines.ts';
import { finetuneCurves, type FinetuneCurve } from '../eval/finetune.ts';
import { nearestCheckpoint } from '../eval/nearest.ts';
import {
  agreement,
  l2Distance,
  median,
  nearestZoo,
  rowNorms2,
  zooNearestMedian,
} from '../eval/memorisation.ts';
import { ldaAccuracy } from '../eval/discriminant.ts';
import { discriminantHead, prototypeHead } from '../eval/protohead.ts';
import {
  rankByPredictor,
  spearman,
  trainPredictorOnZoo,
  type AccuracyPredictor,
  type PredictorValidation,
} from '../predictor/predictor.ts';
import { trainSourceModel } from '../eval/pretrained.ts';
import { loadPretrainedFile } from '../eval/pretrained-file.ts';
import { meanStd } from '../../../shared/stats.ts';
import {
  ResultCollector,
  acceptanceChecks,
  convergenceRows,
  targetChecks,
  type Split,
} from './report.ts';

export interface RunQualityArgs {
  /** Fully resolved config (resolveQualityConfig). */
  readonly config: QualityConfig;
  /** Progress lines ('[stage] …'), e.g. to stderr. */
  readonly log?: (line: string) => void;
  readonly control?: RunControl;
}

/** Per-epoch mean curve of one (split, method), recorded beside the fixed rows. */
interface CurveRow {
  split: Split;
  method: string;
  epoch: number;
  accuracy_mean: number;
  test_loss_mean: number;
  train_loss_mean: number;
}

/** Run the whole benchmark; throws InputError on an impossible config or data. */
export async function runQuality(args: RunQualityArgs): Promise<QualityReport> {
  const cfg = args.config;
  const log = args.log ?? (() => undefined);
  const signal = args.control?.signal;
  const root = new Rng(cfg.seed);
  const t0 = performance.now();
  const timings: QualityReport['timings_s'] = {
    features: 0,
    zoo: 0,
    vae: 0,
    encoder: 0,
    diffusion: 0,
    sampling: 0,
    eval: 0,
    total: 0,
  };
  const since = (t: number) => (performance.now() - t) / 1000;

  // ---- the unseen-dataset source, checked before any training ---------------------------------
  const target = cfg.unseenDataset ? await loadTargetSource(cfg) : null;

  // ---- zoo (features fitted inside buildZoo, on the train pool) ------------------------------
  log(
    `[zoo] ${cfg.tasks.numSeen} seen tasks × ${cfg.zoo.train.seeds} seeds × ${cfg.zoo.train.keepLast} checkpoints`,
  );
  let t = performance.now();
  let lastZooLog = 0;
  const built = await buildZoo(
    {
      dataset: cfg.dataset,
      features: cfg.features,
      tasks: cfg.tasks,
      arch: cfg.zoo.architecture,
      train: cfg.zoo.train,
      workers: cfg.zoo.workers,
      seed: cfg.seed,
    },
    {
      signal,
      onProgress: (p) => {
        const now = performance.now();
        if (p.unit === 'member' && now - lastZooLog > 5000) {
          lastZooLog = now;
          log(`[zoo] ${p.value}/${p.max} members${p.label ? ` (${p.label})` : ''}`);
        }
      },
    },
  );
  const zooTimings = built.manifest.timings ?? {};
  timings.features = (zooTimings.data ?? 0) + (zooTimings.features ?? 0);
  timings.zoo = Math.max(0, since(t) - timings.features);
  const layout = zooLayout(built.manifest);
  const members = built.manifest.members;
  const nZoo = members.length;
  const dim = layout.size;
  const zooVectors = built.vectors;

  t = performance.now();
  const data = await loadDataset(cfg.dataset);
  const tasks = generateTasks(data.labels, data.classNames.length, cfg.tasks, data.classNames);
  const feat = await applyExtractor(built.extractor, data, { signal });
  // Another source's tasks go through the extractor fitted on this one, as a user's would.
  const featTarget = target ? await applyExtractor(built.extractor, target.data, { signal }) : null;
  timings.features += since(t);
  const featOf = (task: TaskSpec) => {
    if (task.split !== 'unseen-dataset') return feat;
    if (!featTarget) throw new Error(`task ${task.id} needs the unseen-dataset source`);
    return featTarget;
  };
  const d = feat.sampleShape[0];
  const k = tasks.config.k;
  const perClass = cfg.encoder.perClass;
  const seenIndex = new Map(tasks.seen.map((task, i) => [task.id, i]));
  const groups = new Int32Array(nZoo);
  members.forEach((m, i) => {
    const g = seenIndex.get(m.taskId);
    if (g === undefined) throw new Error(`zoo member ${i} names unknown task ${m.taskId}`);
    groups[i] = g;
  });
  // A user's checkpoint for the pretrained_file rows: read (or refused) as soon as the layout it
  // must fit is known, before the generator trains.
  const pretrainedFile = cfg.eval.pretrainedFile
    ? await loadPretrainedFile(cfg.eval.pretrainedFile, layout)
    : null;
  const zooAcc = members.map((m) => m.testAcc);
  // Selections among checkpoints (KDE30's top 30 %, noise_nearest's best checkpoint) use training
  // accuracy, like d2nwg_best's ranking: the test samples are the ones every method is scored on.
  const zooTrainAcc = members.map((m) => m.trainAcc);
  log(
    `[zoo] ${nZoo} members, ${dim} weights each (${layout.arch.kind}); mean test accuracy ${(100 * meanStd(zooAcc).mean).toFixed(1)}%`,
  );

  // ---- accuracy predictor g (App. D): Eq. 7 of the VAE, and d2nwg_predicted_best ---------------
  // Its labels are the members' training accuracies. The zoo also records test accuracy, but the
  // seen tasks' test samples are what every method is scored on here, and g picks among samples.
  let predictor: AccuracyPredictor | null = null;
  let predictorVal: PredictorValidation | null = null;
  if (cfg.eval.predictorRank || cfg.vae.predictorWeight > 0) {
    t = performance.now();
    log(`[predictor] ${cfg.predictor.epochs} epochs on ${nZoo} members`);
    const r = await trainPredictorOnZoo({
      vectors: zooVectors,
      dim,
      members,
      config: cfg.predictor,
      rng: root.fork('predictor'),
      control: { signal },
    });
    predictor = r.predictor;
    predictorVal = r.validation;
    timings.predictor = since(t);
    log(
      `[predictor] done in ${timings.predictor.toFixed(1)} s` +
        (predictorVal
          ? `; held-out tasks: MAE ${(100 * predictorVal.mae).toFixed(2)} pts, Spearman ${predictorVal.spearman.toFixed(3)}`
          : ''),
    );
  }
  const gPred = predictor;

  // ---- weight VAE ---------------------------------------------------------------------------
  t = performance.now();
  log(`[vae] training on ${nZoo} vectors${cfg.vae.predictorWeight > 0 ? ' (Eq. 7)' : ''}`);
  let trainedVae: Awaited<ReturnType<typeof trainVae>>;
  try {
    trainedVae = await trainVae({
      vectors: zooVectors,
      n: nZoo,
      dim,
      config: cfg.vae,
      rng: root.fork('vae'),
      control: { signal },
      ...(gPred && cfg.vae.predictorWeight > 0
        ? { predictor: (w: tf.Tensor2D) => gPred.embed(w) }
        : {}),
    });
  } catch (err) {
    gPred?.dispose();
    throw err;
  }
  const { vae, history: vaeHistory } = trainedVae;
  const latents = await vae.encodeMean(zooVectors, nZoo);
  const latentDim = vae.latentDim;
  const recon = await vae.decode(latents, nZoo);
  const reconAcc: number[] = [];
  /** The same members' own accuracy, the reference reconAcc is read against. */
  const reconSourceAcc: number[] = [];
  timings.vae = since(t);
  const vaeLast = vaeHistory[vaeHistory.length - 1];
  log(`[vae] done in ${timings.vae.toFixed(1)} s; final recon ${vaeLast?.recon.toFixed(4)}`);

  const disposers: (() => void)[] = [() => vae.dispose()];
  if (gPred) disposers.push(() => gPred.dispose());
  try {
    // ---- dataset encoder --------------------------------------------------------------------
    t = performance.now();
    const setSize = k * perClass * d;
    const supportOf = (task: TaskSpec, rng: Rng) =>
      taskSupportSet(featOf(task), task, perClass, rng).x;
    const encSets = new Float32Array(nZoo * setSize);
    const encRng = root.fork('encoder-support');
    for (let i = 0; i < nZoo; i++) {
      encSets.set(supportOf(tasks.seen[groups[i]], encRng.fork(i)), i * setSize);
    }
    log(`[encoder] ${cfg.encoder.kind}, ${cfg.encoder.epochs} epochs on ${nZoo} pairs`);
    const { encoder, losses: encLosses } = await trainEncoder({
      sets: encSets,
      latents,
      count: nZoo,
      shape: { numClasses: k, perClass, featDim: d, latentDim },
      groups,
      resample: (i, r) => supportOf(tasks.seen[groups[i]], r),
      config: cfg.encoder,
      rng: root.fork('encoder'),
      control: { signal },
    });
    disposers.push(() => encoder.dispose());
    timings.encoder = since(t);
    log(
      `[encoder] done in ${timings.encoder.toFixed(1)} s; loss ${encLosses[0]?.toFixed(3)} → ${encLosses[encLosses.length - 1]?.toFixed(3)}`,
    );

    // ---- latent diffusion ---------------------------------------------------------------------
    t = performance.now();
    const condRng = root.fork('diffusion-support');
    const condSets = new Float32Array(nZoo * setSize);
    for (let i = 0; i < nZoo; i++) {
      condSets.set(supportOf(tasks.seen[groups[i]], condRng.fork(i)), i * setSize);
    }
    const conds = await encoder.embedBatch(condSets, nZoo, k, perClass, d);
    log(`[diffusion] ${cfg.diffusion.steps} steps on ${nZoo} latents`);
    const { model: diffusion, history: diffHistory } = await trainDiffusion({
      latents,
      conds,
      n: nZoo,
      latentDim,
      condDim: encoder.embedDim,
      config: cfg.diffusion,
      rng: root.fork('diffusion'),
      control: { signal },
    });
    disposers.push(() => diffusion.dispose());
    timings.diffusion = since(t);
    log(
      `[diffusion] done in ${timings.diffusion.toFixed(1)} s; loss ${diffHistory[diffHistory.length - 1]?.loss.toFixed(4)}`,
    );
    const parts: GeneratorParts = { layout, vae, encoder, diffusion };

    // ---- evaluation set-up ------------------------------------------------------------------
    const ev = cfg.eval;
    const maxEpoch = Math.max(...ev.finetuneEpochs);
    const pickTasks = (list: TaskSpec[]) =>
      list.slice(0, Math.min(ev.maxTasksPerSplit, list.length));
    const evalTasks: TaskSpec[] = [
      ...pickTasks(tasks.seen),
      ...pickTasks(tasks.unseenCombo),
      ...pickTasks(tasks.unseenClass),
      ...pickTasks(target?.tasks ?? []),
    ];
    for (let i = 0; i < nZoo; i++) {
      // How much the VAE round trip costs a zoo member, on its own task (sanity diagnostic).
      if (i % Math.max(1, Math.floor(nZoo / 20)) !== 0) continue;
      const td = materializeTask(feat, tasks.seen[groups[i]]);
      const [a, o] = await evaluateMany(
        layout,
        [
          recon.slice(i * vae.inputDim, i * vae.inputDim + dim),
          zooVectors.slice(i * dim, (i + 1) * dim),
        ],
        td.xTest,
        td.yTest,
      );
      reconAcc.push(a.accuracy);
      reconSourceAcc.push(o.accuracy);
    }

    // pretrained_source: one model on the whole train pool of the known classes.
    t = performance.now();
    const source = await trainSourceModel({
      feat,
      trainPool: tasks.trainPool,
      heldOut: tasks.heldOut,
      architecture: cfg.zoo.architecture,
      train: cfg.zoo.train,
      rng: root,
      signal,
    });
    log(`[eval] pretrained_source trained on ${source.count} samples of ${source.classes} classes`);

    // S_KDE30 on the VAE latents of the best 30% of the zoo.
    const kde = fitKde(latents, nZoo, latentDim, zooTrainAcc, ev.kdeTopFraction, ev.kdeBandwidth);

    const zooRowsOf = { vectors: zooVectors, taskIds: members.map((m) => m.taskId) };
    const membersOfTask = (g: number) => members.map((_, i) => i).filter((i) => groups[i] === g);

    const collector = new ResultCollector();
    const curveAcc = new Map<string, { acc: number[][]; loss: number[][]; train: number[][] }>();
    const zooNorms = rowNorms2(zooVectors, nZoo, dim);
    const memo: { l2: number[]; cos: number[]; agree: number[] } = { l2: [], cos: [], agree: [] };
    /** The same, per split. */
    const memoBySplit = new Map<Split, { l2: number[]; cos: number[]; agree: number[] }>();
    /** Seen tasks' checkpoints: test-set agreement with their nearest other checkpoint. */
    const zooAgree: number[] = [];
    /** noise_matched copies: distance to their source checkpoint and to the nearest zoo row. */
    const memoMatched: { source: number[]; zoo: number[]; agree: number[] } = {
      source: [],
      zoo: [],
      agree: [],
    };
    /** noise_fn_matched copies: noise norm, and train-set agreement with the source (target, got). */
    const memoFn: { norm: number[]; target: number[]; agree: number[] } = {
      norm: [],
      target: [],
      agree: [],
    };
    /** Per task: rank correlation of g's scores with the samples' test accuracy. */
    const predictorRho: number[] = [];
    /** How many samples each task's greedy soup kept. */
    const greedySoupSizes: number[] = [];
    let samplingSeconds = 0;

    const recordCurve = (split: Split, method: string, c: FinetuneCurve) => {
      const key = `${split}\u0000${method}`;
      let e = curveAcc.get(key);
      if (!e) {
        e = { acc: [], loss: [], train: [] };
        curveAcc.set(key, e);
      }
      e.acc.push(c.accuracy);
      e.loss.push(c.loss);
      e.train.push(c.trainLoss);
    };

    let taskNo = 0;
    for (const task of evalTasks) {
      throwIfAborted(signal);
      taskNo++;
      const split = task.split;
      const td = materializeTask(featOf(task), task);
      const support = supportOf(task, root.fork('eval-support').fork(task.id));
      const ftRng = root.fork('finetune').fork(task.id);
      /** Fine-tuning runs of this task, trained together as one model batch at the task's end. */
      const pending: { name: string; inits: Float32Array[] }[] = [];

      /**
       * Epoch-0 over all inits now; fine-tuned rows over the first `ftCount`, queued. Returns the
       * epoch-0 accuracies, one per init.
       */
      const method = async (name: string, inits: Float32Array[], ftCount = ev.finetuneSamples) => {
        const acc0 = (await evaluateMany(layout, inits, td.xTest, td.yTest)).map((e) => e.accuracy);
        collector.add(split, name, 0, meanStd(acc0).mean, inits.length, task.id);
        pending.push({
          name,
          inits: inits.slice(0, Math.max(1, Math.min(ftCount, inits.length))),
        });
        await yieldToEventLoop();
        return acc0;
      };
      /** Train every queued fine-tuning run (each with the task's same shuffling) and record it. */
      const finishMethods = async () => {
        const jobs = pending.flatMap((p) =>
          p.inits.map((init) => ({ init, task: td, rng: ftRng.clone() })),
        );
        const curves = await finetuneCurves({
          layout,
          jobs,
          maxEpoch,
          lr: ev.lr,
          batchSize: ev.batchSize,
          control: { signal },
        });
        let at = 0;
        for (const p of pending) {
          const cs = curves.slice(at, at + p.inits.length);
          at += p.inits.length;
          for (const e of ev.finetuneEpochs) {
            if (e === 0) continue;
            collector.add(
              split,
              p.name,
              e,
              meanStd(cs.map((c) => c.accuracy[e])).mean,
              cs.length,
              task.id,
            );
          }
          for (const c of cs) recordCurve(split, p.name, c);
        }
      };

      // D2NWG samples first: noise_matched copies their distance to the zoo.
      const ts = performance.now();
      const sampled = await sampleWeights({
        parts,
        support,
        numClasses: k,
        perClass,
        featDim: d,
        count: ev.samplesPerTask,
        sampler: cfg.sampler,
        rng: root.fork('sample').fork(task.id),
      });
      samplingSeconds += since(ts);
      const vecs = sampled.vectors;

      // RandInit: the architecture's default init.
      await method('randinit', [initParams(layout, root.fork('randinit').fork(task.id))]);
      // Pretrained(source): body of the source model, fresh head for this task's K classes.
      await method('pretrained_source', [source.transfer(layout, root.fork('head').fork(task.id))]);
      // Pretrained from the user's file: its body, and its head or a fresh one for these classes.
      if (pretrainedFile) {
        await method('pretrained_file', [
          pretrainedFile.init(root.fork('pretrained-file').fork(task.id)),
        ]);
      }

      // A seen task's own checkpoints (the zoo rows); none for an unseen task.
      const g = seenIndex.get(task.id);
      const own = g === undefined ? [] : membersOfTask(g);
      const ownVecs = own.map((i) => zooVectors.slice(i * dim, (i + 1) * dim));
      // noise_nearest and weight_avg: the checkpoint that fits this task's training samples best,
      // and its task's checkpoints (eval/nearest.ts, the Evaluate node's definition too).
      const near = await nearestCheckpoint(layout, zooRowsOf, td.xTrain, td.yTrain);
      const nearVecs = near.taskRows.map((i) => zooVectors.slice(i * dim, (i + 1) * dim));
      if (split === 'seen') {
        await method('zoo', ownVecs, ownVecs.length);
        for (const i of own) {
          const v = zooVectors.subarray(i * dim, (i + 1) * dim);
          const nn = nearestZoo(v, zooVectors, nZoo, dim, zooNorms, (j) => j === i);
          if (nn.index < 0) continue;
          zooAgree.push(
            agreement(
              await predictClasses(layout, Float32Array.from(v), td.xTest),
              await predictClasses(
                layout,
                zooVectors.slice(nn.index * dim, (nn.index + 1) * dim),
                td.xTest,
              ),
            ),
          );
        }
      }
      const bestVec = zooVectors.slice(near.index * dim, (near.index + 1) * dim);
      const noiseRng = root.fork('noise').fork(task.id);
      await method(
        'noise_nearest',
        Array.from({ length: ev.samplesPerTask }, () => addNoise(bestVec, ev.noiseStd, noiseRng)),
      );
      // Novelty-matched noise (arXiv 2506.07998): sample i's nearest zoo checkpoint plus noise of
      // norm = sample i's distance to it; fine-tuned rows pair with d2nwg_mean's (same indices).
      const matched = noiseMatched(
        vecs,
        zooVectors,
        nZoo,
        dim,
        root.fork('noise-matched').fork(task.id),
        zooNorms,
      );
      await method(
        'noise_matched',
        matched.map((m) => m.vector),
      );
      // The same, matched in behaviour (the critique's novelty measure): noise grown until the
      // copy disagrees with its source on the task's training samples as often as the sample does.
      const fnMatched = await noiseFunctionMatched({
        samples: vecs,
        zoo: zooVectors,
        count: nZoo,
        dim,
        predict: (w) => predictClasses(layout, w, td.xTrain),
        rng: root.fork('noise-fn-matched').fork(task.id),
        zooNorms2: zooNorms,
      });
      await method(
        'noise_fn_matched',
        fnMatched.map((m) => m.vector),
      );
      const ensemble = async (name: string, members: Float32Array[]) => {
        const e = await evaluateEnsemble(layout, members, td.xTest, td.yTest);
        collector.add(split, name, 0, e.accuracy, members.length, task.id);
      };
      if (ev.ensembles) {
        if (split === 'seen') await ensemble('zoo_ensemble', ownVecs);
        await ensemble('d2nwg_ensemble', vecs);
        await ensemble(
          'noise_fn_ensemble',
          fnMatched.map((m) => m.vector),
        );
      }
      for (const m of fnMatched) {
        memoFn.norm.push(m.distance);
        memoFn.target.push(m.targetAgreement);
        memoFn.agree.push(m.agreement);
      }
      await method('weight_avg', [averageVectors(concat(nearVecs), nearVecs.length, dim)]);

      const kdeLat = sampleKde(kde, ev.samplesPerTask, root.fork('kde').fork(task.id));
      const kdeDec = await vae.decode(kdeLat, ev.samplesPerTask);
      await method(
        'kde30',
        Array.from({ length: ev.samplesPerTask }, (_, i) =>
          kdeDec.slice(i * vae.inputDim, i * vae.inputDim + dim),
        ),
      );

      // Nearest class mean: all training samples, and the same 5-shot support set D2NWG sees.
      collector.add(
        split,
        'ncm',
        0,
        ncmAccuracy(td.xTrain, td.yTrain, td.xTest, td.yTest, k, d),
        1,
        task.id,
      );
      const supLabels = supportLabels(k, perClass);
      collector.add(
        split,
        'ncm_support',
        0,
        ncmAccuracy(support, supLabels, td.xTest, td.yTest, k, d),
        1,
        task.id,
      );
      // LDA: the closed-form linear classifier on the same features and samples as ncm.
      if (ev.discriminant) {
        collector.add(
          split,
          'lda',
          0,
          ldaAccuracy(td.xTrain, td.yTrain, td.xTest, td.yTest, k, d, ev.ldaShrinkage),
          1,
          task.id,
        );
      }

      // D2NWG (its samples were drawn before the baselines, for noise_matched).
      const sampleAcc = await method('d2nwg_mean', vecs);
      const ranked = await rankByAccuracy(layout, vecs, td.xTrain, td.yTrain);
      await method('d2nwg_best', [vecs[ranked.order[0]]]);
      if (gPred && ev.predictorRank) {
        // The sample g scores highest: no labelled data needed (the paper's selection).
        const byG = await rankByPredictor(gPred, vecs);
        await method('d2nwg_predicted_best', [vecs[byG.order[0]]]);
        const rho = spearman(byG.predicted, sampleAcc);
        if (Number.isFinite(rho)) predictorRho.push(rho);
      }
      await method('d2nwg_soup', [soup(vecs, ranked.order.slice(0, ev.soupTopK))]);
      // Greedy soup: only the samples that do not lower the training accuracy of the average.
      const greedy = await greedySoup(layout, vecs, ranked, td.xTrain, td.yTrain);
      greedySoupSizes.push(greedy.members.length);
      await method('d2nwg_greedy_soup', [greedy.vector]);
      if (ev.protoHead && layout.arch.kind === 'mlp') {
        await method(
          'd2nwg_protohead',
          vecs.map((v) => prototypeHead(layout, v, support, k, perClass)),
        );
      }
      if (ev.discriminant && layout.arch.kind === 'mlp') {
        // The generated bodies as feature extractors: an LDA head on all training samples.
        await method(
          'd2nwg_lda_head',
          vecs.map((v) => discriminantHead(layout, v, td.xTrain, td.yTrain, ev.ldaShrinkage)),
        );
      }

      // Memorisation: distance of each sample to its nearest zoo member, and agreement.
      let splitMemo = memoBySplit.get(split);
      if (!splitMemo) {
        splitMemo = { l2: [], cos: [], agree: [] };
        memoBySplit.set(split, splitMemo);
      }
      for (const v of vecs) {
        const nn = nearestZoo(v, zooVectors, nZoo, dim, zooNorms);
        const nnVec = zooVectors.subarray(nn.index * dim, (nn.index + 1) * dim);
        const agree = agreement(
          await predictClasses(layout, v, td.xTest),
          await predictClasses(layout, Float32Array.from(nnVec), td.xTest),
        );
        for (const m of [memo, splitMemo]) {
          m.l2.push(nn.l2);
          m.cos.push(nn.cosine);
          m.agree.push(agree);
        }
      }
      // The same diagnostics for the noise_matched copies (distance to source = the samples'
      // distance by construction; the nearest zoo row can only be as close or closer).
      for (const m of matched) {
        const src = zooVectors.subarray(m.sourceIndex * dim, (m.sourceIndex + 1) * dim);
        memoMatched.source.push(l2Distance(m.vector, src));
        const nn = nearestZoo(m.vector, zooVectors, nZoo, dim, zooNorms);
        memoMatched.zoo.push(nn.l2);
        const nnVec = zooVectors.subarray(nn.index * dim, (nn.index + 1) * dim);
        memoMatched.agree.push(
          agreement(
            await predictClasses(layout, m.vector, td.xTest),
            await predictClasses(layout, Float32Array.from(nnVec), td.xTest),
          ),
        );
      }
      await finishMethods();
      log(`[eval] task ${taskNo}/${evalTasks.length} (${split} ${task.classes.join(',')}) done`);
    }
    timings.sampling = samplingSeconds;
    timings.eval = Math.max(0, since(t) - samplingSeconds);

    // ---- report -------------------------------------------------------------------------------
    const sameRun = (i: number, j: number) =>
      members[i].taskId === members[j].taskId && members[i].seed === members[j].seed;
    const zooToZoo = zooNearestMedian(zooVectors, nZoo, dim);
    const zooToZooOther = zooNearestMedian(zooVectors, nZoo, dim, sameRun);
    const curves: CurveRow[] = [];
    for (const [key, e] of curveAcc) {
      const [split, methodName] = key.split('\u0000') as [Split, string];
      for (let ep = 0; ep <= maxEpoch; ep++) {
        curves.push({
          split,
          method: methodName,
          epoch: ep,
          accuracy_mean: meanStd(e.acc.map((a) => a[ep])).mean,
          test_loss_mean: meanStd(e.loss.map((a) => a[ep])).mean,
          train_loss_mean: ep === 0 ? NaN : meanStd(e.train.map((a) => a[ep])).mean,
        });
      }
    }
    timings.total = since(t0);
    const results = collector.rows();
    const perTask = collector.perTask();
    const report: QualityReport & Record<string, unknown> = {
      protocol: 'd2nwg-quality/1',
      preset: cfg.preset,
      config: cfg as unknown as Record<string, unknown>,
      backend: currentBackend()?.name ?? 'unknown',
      results,
      memorisation: {
        sample_to_zoo_median: median(memo.l2),
        zoo_to_zoo_median: zooToZoo,
        zoo_to_zoo_median_other_runs: zooToZooOther,
        sample_to_zoo_cosine_median: median(memo.cos),
        prediction_agreement_median: median(memo.agree),
        samples: memo.l2.length,
        noise_matched_to_source_median: median(memoMatched.source),
        noise_matched_to_zoo_median: median(memoMatched.zoo),
        noise_matched_prediction_agreement_median: median(memoMatched.agree),
        noise_fn_matched_norm_median: median(memoFn.norm),
        noise_fn_matched_target_agreement_median: median(memoFn.target),
        noise_fn_matched_train_agreement_median: median(memoFn.agree),
        zoo_to_zoo_agreement_median: median(zooAgree),
        by_split: Object.fromEntries(
          [...memoBySplit].map(([sp, m]) => [
            sp,
            {
              samples: m.l2.length,
              sample_to_zoo_median: median(m.l2),
              sample_to_zoo_cosine_median: median(m.cos),
              prediction_agreement_median: median(m.agree),
            },
          ]),
        ),
      },
      targets: targetChecks(results, perTask, cfg.seed),
      timings_s: timings,
      curves: curves.map((c) => ({
        ...c,
        train_loss_mean: Number.isFinite(c.train_loss_mean) ? c.train_loss_mean : null,
      })),
      diagnostics: {
        zoo_members: nZoo,
        zoo_test_accuracy_mean: meanStd(zooAcc).mean,
        vae_recon_accuracy_mean: meanStd(reconAcc).mean,
        vae_recon_source_accuracy_mean: meanStd(reconSourceAcc).mean,
        vae_recon_members: reconAcc.length,
        greedy_soup_members_mean: meanStd(greedySoupSizes).mean,
        ...(predictorVal
          ? {
              predictor_val_mae: predictorVal.mae,
              predictor_val_spearman: predictorVal.spearman,
            }
          : {}),
        ...(predictorRho.length
          ? { predictor_sample_spearman_mean: meanStd(predictorRho).mean }
          : {}),
        vae_final_recon: vaeLast?.recon ?? null,
        ...(vaeLast?.predictor !== undefined
          ? { vae_final_predictor_term: vaeLast.predictor }
          : {}),
        encoder_loss_first: encLosses[0] ?? null,
        encoder_loss_last: encLosses[encLosses.length - 1] ?? null,
        diffusion_loss_last: diffHistory[diffHistory.length - 1]?.loss ?? null,
        weights_per_model: dim,
        latent_dim: latentDim,
      },
      convergence: convergenceRows(
        new Map(
          [...curveAcc].map(([key, e]) => {
            const [split, method] = key.split('\u0000') as [Split, string];
            return [key, { split, method, acc: e.acc }];
          }),
        ),
      ),
      per_task: perTask,
    };
    report.checks = acceptanceChecks(report.memorisation, timings.total, cfg.preset);
    return report;
  } finally {
    for (const f of disposers.reverse()) f();
  }
}

/**
 * Load config.unseenDataset's source and draw its tasks. Refused before anything trains when its
 * samples differ in shape from the zoo dataset's (both shapes named) or it cannot give K-class
 * tasks of the configured size.
 */
async function loadTargetSource(
  cfg: QualityConfig,
): Promise<{ data: LabelledData; tasks: TaskSpec[] } | null> {
  const ud = cfg.unseenDataset;
  if (!ud) return null;
  const [source, data] = await Promise.all([loadDataset(cfg.dataset), loadDataset(ud.source)]);
  const shape = (s: readonly number[]) => `[${s.join(', ')}]`;
  if (shape(data.sampleShape) !== shape(source.sampleShape)) {
    throw new InputError(
      `its samples have shape ${shape(data.sampleShape)} but the zoo's dataset (${source.source}) has ${shape(source.sampleShape)}; the generated models take the zoo dataset's inputs`,
      'unseenDataset.source',
    );
  }
  const classes = data.classNames.length;
  const k = cfg.tasks.k;
  let tuples = 1;
  for (let i = 0; i < k; i++) tuples *= Math.max(0, classes - i);
  if (k > classes || ud.numTasks > tuples) {
    throw new InputError(
      k > classes
        ? `tasks.k = ${k} classes per task, but ${data.source} has only ${classes} classes`
        : `numTasks = ${ud.numTasks} is more than the ${tuples} distinct ordered ${k}-class tasks of ${data.source}'s ${classes} classes`,
      'unseenDataset',
    );
  }
  try {
    const drawn = drawTargetTasks(
      data.labels,
      data.classNames.length,
      {
        k: cfg.tasks.k,
        nTrain: cfg.tasks.nTrain,
        nTest: cfg.tasks.nTest,
        count: ud.numTasks,
        trainFraction: cfg.tasks.trainFraction,
        seed: ud.seed ?? cfg.seed,
      },
      data.classNames,
    );
    return { data, tasks: drawn.unseenDataset ?? [] };
  } catch (err) {
    if (err instanceof InputError) {
      throw new InputError(`${err.message} (in ${data.source})`, 'unseenDataset');
    }
    throw err;
  }
}

function concat(vs: readonly Float32Array[]): Float32Array {
  const dim = vs[0]?.length ?? 0;
  const out = new Float32Array(vs.length * dim);
  vs.forEach((v, i) => out.set(v, i * dim));
  return out;
}
