/**
 * The quality benchmark (bench/QUALITY.md), run as a pipeline: qualityPipeline turns the config
 * into the document a user could build on the canvas, the executor runs it (the same node code as
 * `d2nwg run` and the app), and the report is read from the node outputs: every row of an init or
 * baseline is an Evaluate or Reference node's, so it equals what that node gives in any pipeline
 * of the same config and seed. What has no node (soups, the prototype and LDA heads, ensembles,
 * memorisation, the VAE round trip, predictor diagnostics, convergence) is computed here from the
 * node outputs with the engine's library functions. Stage timings are the node-run records'.
 */
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { PortType } from '../../shared/nodes/spec.ts';
import { registry } from '../../shared/nodes/registry.ts';
import type { NodeErrorKind } from '../../shared/events.ts';
import type { QualityConfig, QualityReport } from '../../shared/schemas/quality.ts';
import { currentBackend } from '../engine/backend.ts';
import { loadDataset } from '../engine/data/sources.ts';
import { drawTargetTasks, materializeTask, taskSupportSet } from '../engine/data/tasks.ts';
import type { LabelledData, TaskData, TaskSpec } from '../engine/data/types.ts';
import { CancelledError, InputError, throwIfAborted } from '../engine/errors.ts';
import { finetuneCurves, type FinetuneCurve, type FinetuneJob } from '../engine/eval/finetune.ts';
import {
  finetuneRng,
  initRng,
  noiseFnMatchedCopies,
  noiseMatchedCopies,
  supportRng,
  type InitSources,
} from '../engine/eval/inits.ts';
import {
  agreement,
  l2Distance,
  median,
  nearestZoo,
  rowNorms2,
  zooNearestMedian,
} from '../engine/eval/memorisation.ts';
import { ClassHeadGenerator } from '../engine/eval/classhead.ts';
import { discriminantHead, prototypeHead } from '../engine/eval/protohead.ts';
import { evaluateEnsemble, evaluateMany, predictClasses } from '../engine/nn/train.ts';
import { spearman } from '../engine/predictor/predictor.ts';
import { Rng } from '../engine/rng.ts';
import { yieldToEventLoop, type RunControl } from '../engine/progress.ts';
import {
  ResultCollector,
  acceptanceChecks,
  convergenceRows,
  targetChecks,
  type Split,
} from '../engine/quality/report.ts';
import { greedySoup, soup } from '../engine/sample/sample.ts';
import { zooLayout } from '../engine/zoo/storage.ts';
import { MemoryNodeCache } from '../graph/cache.ts';
import { runPipeline, type RunResult } from '../graph/executor.ts';
import { tasksOfSplit } from '../nodes/split-tasks.ts';
import { initZoo } from '../nodes/eval-finetune.ts';
import { zooPairs } from '../nodes/generator.ts';
import { runners } from '../nodes/index.ts';
import type { PortValue, TaskCurve, ValueOf } from '../nodes/values.ts';
import { meanStd } from '../../shared/stats.ts';
import { QUALITY_SPLITS } from '../../shared/schemas/quality.ts';
import { qualityPipeline, type QualityPipeline, type QualityTargetNodes } from './pipeline.ts';

export interface RunQualityArgs {
  /** Fully resolved config (resolveQualityConfig). */
  readonly config: QualityConfig;
  /** Progress lines ('[stage] …'), e.g. to stderr. */
  readonly log?: (line: string) => void;
  readonly control?: RunControl;
  /**
   * Node cache shared with other runs: runs of configs that differ downstream of a node (e.g. only
   * in the VAE or diffusion sizes) reuse its outputs, the zoo's included. The caller owns it (it is
   * not cleared here); by default each run has its own, cleared at the end.
   */
  readonly cache?: MemoryNodeCache<PortValue>;
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

const since = (t: number) => (performance.now() - t) / 1000;

/** A report row's split, checked (node results carry it as a string). */
function asSplit(s: string): Split {
  const found = QUALITY_SPLITS.find((x) => x === s);
  if (!found) throw new Error(`a node reported results for an unknown split '${s}'`);
  return found;
}

/** Run the whole benchmark; throws InputError on an impossible config or data. */
export async function runQuality(args: RunQualityArgs): Promise<QualityReport> {
  const cfg = args.config;
  const log = args.log ?? (() => undefined);
  const t0 = performance.now();

  // The unseen-dataset source, checked before any training.
  if (cfg.unseenDataset) await checkTargetSource(cfg);

  const qp = qualityPipeline(cfg);
  const cache = args.cache ?? new MemoryNodeCache<PortValue>();
  const ac = new AbortController();
  const outer = args.control?.signal;
  const onOuterAbort = () => ac.abort();
  if (outer?.aborted) ac.abort();
  outer?.addEventListener('abort', onOuterAbort, { once: true });
  const failures: { message: string; kind: NodeErrorKind }[] = [];
  const runId = `quality-${randomUUID()}`;
  try {
    const result = await runPipeline<PortValue>({
      pipeline: qp.pipeline,
      registry,
      runners,
      seed: cfg.seed,
      signal: ac.signal,
      cache,
      runId,
      dataDir: process.cwd(),
      onEvent: (e) => {
        if (e.type === 'nodeStart') log(`[${e.nodeId}] running`);
        else if (e.type === 'nodeCached') log(`[${e.nodeId}] cached`);
        else if (e.type === 'nodeFinish') log(`[${e.nodeId}] done in ${e.durationS.toFixed(1)} s`);
        else if (e.type === 'nodeError' && failures.length === 0) {
          // The first failure ends the benchmark: nothing after it could fill the report.
          failures.push({ message: e.message, kind: e.kind });
          ac.abort();
        }
      },
    });
    const failed = failures[0];
    if (failed) {
      throw failed.kind === 'input' ? new InputError(failed.message) : new Error(failed.message);
    }
    if (result.status !== 'done') throw new CancelledError();
    return await buildReport(cfg, qp, result, cache, log, t0, ac.signal);
  } finally {
    outer?.removeEventListener('abort', onOuterAbort);
    if (!args.cache) cache.clear();
    // The Samplers' staging copies of their weights (for a store this run does not have).
    await rm(path.join(os.tmpdir(), 'd2nwg-artifacts', runId), { recursive: true, force: true });
  }
}

/** The report, from the node outputs of a finished run. */
async function buildReport(
  cfg: QualityConfig,
  qp: QualityPipeline,
  result: RunResult,
  cache: MemoryNodeCache<PortValue>,
  log: (line: string) => void,
  t0: number,
  signal: AbortSignal,
): Promise<QualityReport> {
  const valueOf = <T extends PortType>(nodeId: string, port: string, type: T): ValueOf<T> => {
    const key = result.nodes.get(nodeId)?.cacheKey;
    const v = key === undefined ? undefined : cache.get(key)?.outputs[port];
    if (!v || v.type !== type) throw new Error(`node '${nodeId}' left no '${type}' output`);
    return v as ValueOf<T>;
  };
  const dur = (id: string | undefined) =>
    id === undefined ? 0 : (result.nodes.get(id)?.durationS ?? 0);
  const metricOf = (id: string | undefined, key: string): number | undefined =>
    id === undefined ? undefined : result.nodes.get(id)?.summary?.metrics?.[key];
  const n = qp.nodes;
  const ev = cfg.eval;

  const zooV = valueOf(n.zoo, 'zoo', 'zoo');
  const zoo = zooV.zoo;
  const layout = zooLayout(zoo.manifest);
  const members = zoo.manifest.members;
  const nZoo = members.length;
  const dim = layout.size;
  const zooVectors = zoo.vectors;
  const vaeV = valueOf(n.vae, 'vae', 'vae');
  const vae = vaeV.vae;
  const tasksV = valueOf(n.tasks, 'tasks', 'tasks');
  const feat = valueOf(n.features, 'features', 'features').data;
  const seenIndex = new Map(tasksV.tasks.seen.map((task, i) => [task.id, i]));
  // Each member's task: a seen one, or a class-permuted copy of one (zoo.augment).
  const pairs = zooPairs(zooV, tasksV, 'bench quality');
  const groups = Array.from(pairs.groups);
  const k = tasksV.tasks.config.k;
  const perClass = cfg.encoder.perClass;
  const zooAcc = members.map((m) => m.testAcc);
  const zooNorms = rowNorms2(zooVectors, nZoo, dim);
  const maxEpoch = Math.max(...ev.finetuneEpochs);
  const tEval = performance.now();
  /** Seconds of each part of the extras and diagnostics (timings_s.extras). */
  const parts: Record<string, number> = {};
  let tPart = tEval;
  const lap = (name: string): void => {
    const now = performance.now();
    parts[name] = (parts[name] ?? 0) + (now - tPart) / 1000;
    tPart = now;
  };

  // How much the VAE round trip costs a zoo member, on its own task (sanity diagnostic).
  const latents = vaeV.zooLatents?.latents ?? (await vae.encodeMean(zooVectors, nZoo));
  const recon = await vae.decode(latents, nZoo);
  const reconAcc: number[] = [];
  /** The same members' own accuracy, the reference reconAcc is read against. */
  const reconSourceAcc: number[] = [];
  for (let i = 0; i < nZoo; i++) {
    if (i % Math.max(1, Math.floor(nZoo / 20)) !== 0) continue;
    const td = materializeTask(feat, pairs.tasks[groups[i]]);
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
  lap('vae_round_trip');

  const collector = new ResultCollector();
  const curveAcc = new Map<string, { acc: number[][]; loss: number[][]; train: number[][] }>();
  const recordCurve = (split: Split, method: string, c: TaskCurve | FinetuneCurve) => {
    const key = `${split}\u0000${method}`;
    let e = curveAcc.get(key);
    if (!e) {
      e = { acc: [], loss: [], train: [] };
      curveAcc.set(key, e);
    }
    e.acc.push([...c.accuracy]);
    e.loss.push([...c.loss]);
    e.train.push([...c.trainLoss]);
  };

  // ---- the Evaluate and Reference nodes' rows ------------------------------------------------
  for (const target of qp.targets) {
    for (const id of target.evals) {
      for (const r of valueOf(id, 'metrics', 'metrics').results) {
        const split = asSplit(r.split);
        r.epochs.forEach((epoch, j) => {
          for (const p of r.perTask) {
            collector.add(
              split,
              r.method,
              epoch,
              p.accuracy[j],
              r.initsPerTask?.[j] ?? 1,
              p.taskId,
            );
          }
        });
        for (const c of r.curves ?? []) recordCurve(split, r.method, c);
      }
    }
  }

  // ---- what has no node, from the node outputs -----------------------------------------------
  const memo: { l2: number[]; cos: number[]; agree: number[] } = { l2: [], cos: [], agree: [] };
  const memoBySplit = new Map<Split, { l2: number[]; cos: number[]; agree: number[] }>();
  const zooAgree: number[] = [];
  const memoMatched: { source: number[]; zoo: number[]; agree: number[] } = {
    source: [],
    zoo: [],
    agree: [],
  };
  const memoFn: { norm: number[]; target: number[]; agree: number[] } = {
    norm: [],
    target: [],
    agree: [],
  };
  const predictorRho: number[] = [];
  const greedySoupSizes: number[] = [];
  /** Methods without a node: epoch 0 over every init, the first finetuneSamples fine-tuned. */
  const extras: {
    split: Split;
    name: string;
    task: TaskSpec;
    td: TaskData;
    inits: Float32Array[];
  }[] = [];
  const zooRows = initZoo({ type: 'zoo', zoo });
  const vectorAt = (i: number) => zooVectors.subarray(i * dim, (i + 1) * dim);

  // Conditioning per class: an output-layer generator trained on the zoo's checkpoints, which
  // gives each generated body its head from the support set with no fitting (d2nwg_class_head).
  let classHead: ClassHeadGenerator | undefined;
  /** The class head conditioned on all training samples (d2nwg_class_head_all), and its episodes' support size. */
  let classHeadAll: ClassHeadGenerator | undefined;
  const allTrain = cfg.tasks.nTrain;
  const allEpisode = allTrain - ev.classHead.queryPerClass;
  const classHeadStats: { seconds: number; lossFirst: number; lossLast: number } | undefined = ev
    .classHead.enabled
    ? { seconds: 0, lossFirst: NaN, lossLast: NaN }
    : undefined;
  try {
    if (classHeadStats) {
      const tc = performance.now();
      // Each zoo checkpoint with its own task's training samples, for both class-head generators.
      const trainOn = (episodePerClass: number, stream: string) =>
        ClassHeadGenerator.train({
          layout,
          members: nZoo,
          member: (i) => {
            const td = materializeTask(feat, pairs.tasks[groups[i]]);
            return { params: zooVectors.slice(i * dim, (i + 1) * dim), x: td.xTrain, y: td.yTrain };
          },
          perClass: episodePerClass,
          config: ev.classHead,
          rng: new Rng(cfg.seed).fork(stream),
          control: { signal },
        });
      classHead = await trainOn(perClass, 'class-head');
      classHeadStats.seconds = since(tc);
      lap('class_head_training');
      classHeadStats.lossFirst = classHead.lossHistory[0] ?? NaN;
      classHeadStats.lossLast = classHead.lossHistory[classHead.lossHistory.length - 1] ?? NaN;
      log(
        `[class-head] trained in ${classHeadStats.seconds.toFixed(1)} s, loss ${classHeadStats.lossFirst.toFixed(3)} → ${classHeadStats.lossLast.toFixed(3)}`,
      );
      if (ev.classHeadAll && allEpisode > perClass) {
        // Episodes of allEpisode support samples per class (the rest of the task's training
        // samples are its queries); at sampling time it reads all allTrain of them.
        const ta = performance.now();
        classHeadAll = await trainOn(allEpisode, 'class-head-all');
        lap('class_head_training');
        log(
          `[class-head] on all training samples: trained in ${since(ta).toFixed(1)} s on episodes of ${allEpisode} per class`,
        );
      }
    }
    for (const target of qp.targets) {
      const featT: LabelledData = valueOf(
        target.features.node,
        target.features.port,
        'features',
      ).data;
      const tasksT = valueOf(target.tasks.node, target.tasks.port, 'tasks');
      const raw = valueOf(target.sample, 'weights', 'weights');
      const ranked = valueOf(target.sampleRanked, 'weights', 'weights');
      const predicted = target.samplePredicted
        ? valueOf(target.samplePredicted, 'weights', 'weights')
        : undefined;
      for (const split of target.splits) {
        for (const task of tasksOfSplit(tasksT, split, ev.maxTasksPerSplit, 'bench quality')) {
          throwIfAborted(signal);
          await extrasOfTask(split, task, featT, target, raw, ranked, predicted);
        }
      }
    }
  } finally {
    classHead?.dispose();
    classHeadAll?.dispose();
  }

  async function extrasOfTask(
    split: Split,
    task: TaskSpec,
    featT: LabelledData,
    target: QualityTargetNodes,
    raw: ValueOf<'weights'>,
    ranked: ValueOf<'weights'>,
    predicted: ValueOf<'weights'> | undefined,
  ): Promise<void> {
    const td = materializeTask(featT, task);
    const samplesOf = (w: ValueOf<'weights'>) => {
      const t = w.perTask.find((x) => x.task.id === task.id);
      if (!t) throw new Error(`the Sampler of ${target.sample} drew nothing for task ${task.id}`);
      return t;
    };
    lap('other');
    const vecs = [...samplesOf(raw).vectors];
    const best = samplesOf(ranked);
    const order = best.vectors.map((_, i) => i);
    const extra = (name: string, inits: Float32Array[]) =>
      extras.push({ split, name, task, td, inits });
    extra('d2nwg_soup', [soup(best.vectors, order.slice(0, ev.soupTopK))]);
    // Greedy soup: only the samples that do not lower the training accuracy of the average.
    const greedy = await greedySoup(
      layout,
      best.vectors,
      { order, accuracy: [...(best.supportAccuracy ?? [])] },
      td.xTrain,
      td.yTrain,
    );
    greedySoupSizes.push(greedy.members.length);
    extra('d2nwg_greedy_soup', [greedy.vector]);
    lap('soups');
    if (ev.protoHead) {
      const support = taskSupportSet(featT, task, perClass, supportRng(cfg.seed, task.id)).x;
      extra(
        'd2nwg_protohead',
        await Promise.all(vecs.map((v) => prototypeHead(layout, v, support, k, perClass))),
      );
    }
    /** The samples with class-generated heads (d2nwg_class_head). */
    let classVecs: Float32Array[] = [];
    if (classHead) {
      const gen = classHead;
      const support = taskSupportSet(featT, task, perClass, supportRng(cfg.seed, task.id)).x;
      classVecs = await Promise.all(vecs.map((v) => gen.headFor(v, support, k, perClass)));
      extra('d2nwg_class_head', classVecs);
    }
    if (classHeadAll) {
      const gen = classHeadAll;
      const all = taskSupportSet(featT, task, allTrain, supportRng(cfg.seed, task.id)).x;
      extra(
        'd2nwg_class_head_all',
        await Promise.all(vecs.map((v) => gen.headFor(v, all, k, allTrain))),
      );
    }
    lap('heads');
    if (ev.discriminant) {
      // The generated bodies as feature extractors: an LDA head on all training samples.
      extra(
        'd2nwg_lda_head',
        await Promise.all(
          vecs.map((v) => discriminantHead(layout, v, td.xTrain, td.yTrain, ev.ldaShrinkage)),
        ),
      );
    }
    lap('lda_heads');
    if (predicted) {
      const p = samplesOf(predicted);
      if (p.predictedAccuracy && p.testAccuracy) {
        const rho = spearman(p.predictedAccuracy, p.testAccuracy);
        if (Number.isFinite(rho)) predictorRho.push(rho);
      }
    }

    // The noise copies the Evaluate nodes fine-tuned: the same definition and stream.
    const src: InitSources = { layout, zoo: zooRows, samples: vecs, where: 'bench quality' };
    const matched = noiseMatchedCopies(src, task, initRng(cfg.seed, task.id), zooNorms);
    const fnMatched = await noiseFnMatchedCopies(
      src,
      task,
      td,
      initRng(cfg.seed, task.id),
      zooNorms,
    );
    lap('noise_copies');
    const g = seenIndex.get(task.id);
    const own =
      split === 'seen' && g !== undefined ? groups.flatMap((x, i) => (x === g ? [i] : [])) : [];
    const ensemble = async (name: string, list: Float32Array[]) => {
      const e = await evaluateEnsemble(layout, list, td.xTest, td.yTest);
      collector.add(split, name, 0, e.accuracy, list.length, task.id);
    };
    if (ev.ensembles) {
      if (own.length > 0)
        await ensemble(
          'zoo_ensemble',
          own.map((i) => zooVectors.slice(i * dim, (i + 1) * dim)),
        );
      await ensemble('d2nwg_ensemble', vecs);
      if (classVecs.length) await ensemble('d2nwg_class_head_ensemble', classVecs);
      await ensemble(
        'noise_fn_ensemble',
        fnMatched.map((m) => m.vector),
      );
    }
    lap('ensembles');
    for (const m of fnMatched) {
      memoFn.norm.push(m.distance);
      memoFn.target.push(m.targetAgreement);
      memoFn.agree.push(m.agreement);
    }
    // Seen tasks' checkpoints: test-set agreement with their nearest other checkpoint.
    for (const i of own) {
      const v = vectorAt(i);
      const nn = nearestZoo(v, zooVectors, nZoo, dim, zooNorms, (j) => j === i);
      if (nn.index < 0) continue;
      zooAgree.push(
        agreement(
          await predictClasses(layout, Float32Array.from(v), td.xTest),
          await predictClasses(layout, Float32Array.from(vectorAt(nn.index)), td.xTest),
        ),
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
      const agree = agreement(
        await predictClasses(layout, v, td.xTest),
        await predictClasses(layout, Float32Array.from(vectorAt(nn.index)), td.xTest),
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
      memoMatched.source.push(l2Distance(m.vector, vectorAt(m.sourceIndex)));
      const nn = nearestZoo(m.vector, zooVectors, nZoo, dim, zooNorms);
      memoMatched.zoo.push(nn.l2);
      memoMatched.agree.push(
        agreement(
          await predictClasses(layout, m.vector, td.xTest),
          await predictClasses(layout, Float32Array.from(vectorAt(nn.index)), td.xTest),
        ),
      );
    }
    lap('agreement_diagnostics');
    await yieldToEventLoop();
  }

  // The methods without a node, fine-tuned like an Evaluate node's (same shuffling per task).
  const trainedJobs: FinetuneJob[] = [];
  const measuredJobs: FinetuneJob[] = [];
  const counts = extras.map((x) => {
    const trained = Math.min(ev.finetuneSamples, x.inits.length);
    x.inits.forEach((init, i) =>
      (i < trained ? trainedJobs : measuredJobs).push({
        init,
        task: x.td,
        rng: finetuneRng(cfg.seed, x.task.id),
      }),
    );
    return trained;
  });
  lap('other');
  const ft = { layout, lr: ev.lr, batchSize: ev.batchSize, control: { signal } };
  const trainedCurves = await finetuneCurves({ ...ft, jobs: trainedJobs, maxEpoch });
  const measuredCurves = measuredJobs.length
    ? await finetuneCurves({ ...ft, jobs: measuredJobs, maxEpoch: 0 })
    : [];
  let at = 0;
  let atMeasured = 0;
  extras.forEach((x, xi) => {
    const trained = trainedCurves.slice(at, at + counts[xi]);
    const rest = measuredCurves.slice(atMeasured, atMeasured + x.inits.length - counts[xi]);
    at += counts[xi];
    atMeasured += x.inits.length - counts[xi];
    for (const e of ev.finetuneEpochs) {
      const cs = e === 0 ? [...trained, ...rest] : trained;
      collector.add(
        x.split,
        x.name,
        e,
        meanStd(cs.map((c) => c.accuracy[e])).mean,
        cs.length,
        x.task.id,
      );
    }
    for (const c of trained) recordCurve(x.split, x.name, c);
  });
  lap('finetuning');
  const extrasSeconds = since(tEval);

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

  // Stage timings from the node-run records; g's training is timed inside its nodes.
  const samplerIds = qp.targets.flatMap((t) => [t.sample, t.sampleRanked, t.samplePredicted]);
  const predictorSeconds = [n.vae, ...samplerIds].reduce(
    (s, id) => s + (metricOf(id, 'predictorSeconds') ?? 0),
    0,
  );
  // The zoo builder loads its data and fits its features itself (checked equal to the Features
  // node's): that time is the features stage's, as before the benchmark ran through the executor.
  const zooTimings = zoo.manifest.timings ?? {};
  const zooDataSeconds = (zooTimings.data ?? 0) + (zooTimings.features ?? 0);
  const gTrained = cfg.eval.predictorRank || cfg.vae.predictorWeight > 0;
  const timings: QualityReport['timings_s'] = {
    features: n.data.reduce((s, id) => s + dur(id), 0) + zooDataSeconds,
    zoo: Math.max(0, dur(n.zoo) - zooDataSeconds),
    vae: dur(n.vae) - (metricOf(n.vae, 'predictorSeconds') ?? 0),
    encoder: dur(n.encoder),
    diffusion: dur(n.diffusion),
    sampling:
      samplerIds.reduce((s, id) => s + dur(id), 0) -
      (predictorSeconds - (metricOf(n.vae, 'predictorSeconds') ?? 0)),
    eval: qp.targets.flatMap((t) => t.evals).reduce((s, id) => s + dur(id), 0) + extrasSeconds,
    total: since(t0),
    ...(gTrained ? { predictor: predictorSeconds } : {}),
    extras: parts,
  };
  log(
    `[report] extras and diagnostics in ${extrasSeconds.toFixed(1)} s: ${Object.entries(parts)
      .map(([k, v]) => `${k} ${v.toFixed(1)}`)
      .join(', ')}`,
  );
  const results = collector.rows();
  const perTask = collector.perTask();
  const mainPredicted = qp.targets[0]?.samplePredicted;
  const valMae = metricOf(mainPredicted, 'predictorValMae') ?? metricOf(n.vae, 'predictorValMae');
  const valRho =
    metricOf(mainPredicted, 'predictorValSpearman') ?? metricOf(n.vae, 'predictorValSpearman');
  const vaeRecon = metricOf(n.vae, 'recon');
  const vaePredictorTerm = metricOf(n.vae, 'predictorTerm');
  const report: QualityReport & Record<string, unknown> = {
    protocol: 'd2nwg-quality/1',
    preset: cfg.preset,
    config: cfg,
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
    // Seconds per pipeline node (the records behind timings_s).
    node_timings_s: Object.fromEntries(
      [...result.nodes.values()].map((r) => [r.nodeId, r.durationS ?? 0]),
    ),
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
      ...(classHeadStats
        ? {
            class_head_seconds: classHeadStats.seconds,
            class_head_loss_first: classHeadStats.lossFirst,
            class_head_loss_last: classHeadStats.lossLast,
          }
        : {}),
      ...(valMae !== undefined && valRho !== undefined
        ? { predictor_val_mae: valMae, predictor_val_spearman: valRho }
        : {}),
      ...(predictorRho.length
        ? { predictor_sample_spearman_mean: meanStd(predictorRho).mean }
        : {}),
      vae_final_recon: vaeRecon ?? null,
      ...(vaePredictorTerm !== undefined ? { vae_final_predictor_term: vaePredictorTerm } : {}),
      encoder_loss_first: metricOf(n.encoder, 'lossFirst') ?? null,
      encoder_loss_last: metricOf(n.encoder, 'loss') ?? null,
      diffusion_loss_last: metricOf(n.diffusion, 'loss') ?? null,
      weights_per_model: dim,
      latent_dim: vae.latentDim,
      pipeline_nodes: qp.pipeline.nodes.length,
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
  report.checks = acceptanceChecks(report.memorisation, timings.total, cfg.preset, report.results);
  return report;
}

/**
 * Check config.unseenDataset's source before anything trains: refused when its samples differ in
 * shape from the zoo dataset's (both shapes named) or it cannot give K-class tasks of the
 * configured size. (The Unseen-dataset tasks node draws the tasks.)
 */
async function checkTargetSource(cfg: QualityConfig): Promise<void> {
  const ud = cfg.unseenDataset;
  if (!ud) return;
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
    drawTargetTasks(
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
  } catch (err) {
    if (err instanceof InputError) {
      throw new InputError(`${err.message} (in ${data.source})`, 'unseenDataset');
    }
    throw err;
  }
}
