/**
 * Test accuracy of an initialisation as fine-tuning proceeds: the measurement every method of the
 * quality benchmark shares (same optimiser, learning rate, batch size and shuffling for all), so
 * differences come from the init alone.
 */
import type { TaskData } from '../data/types.ts';
import { forwardMacs, type Layout } from '../nn/architecture.ts';
import { batchGroups, evaluateMembers, trainBatch } from '../nn/batch.ts';
import type { RunControl } from '../progress.ts';
import type { Rng } from '../rng.ts';
import { evalThreads, finetuneThreaded } from './threads.ts';

/** Test metrics after 0, 1, …, maxEpoch epochs of fine-tuning. */
export interface FinetuneCurve {
  /** accuracy[e] = test accuracy after e epochs (accuracy[0]: the init as is). */
  readonly accuracy: number[];
  /** loss[e] = test cross-entropy after e epochs. */
  readonly loss: number[];
  /** trainLoss[e] = mean training loss during epoch e (trainLoss[0] is NaN). */
  readonly trainLoss: number[];
}

export interface FinetuneArgs {
  readonly layout: Layout;
  /** The initialisation under test (not modified). */
  readonly init: Float32Array;
  /** The task: its training samples are fine-tuned on, its test samples measured. */
  readonly task: TaskData;
  /** Largest epoch count wanted (0: only evaluate the init). */
  readonly maxEpoch: number;
  readonly lr: number;
  readonly batchSize: number;
  /** Shuffling of the fine-tuning; pass the same fork for every method of a task. */
  readonly rng: Rng;
  readonly control?: RunControl;
}

/** One init to fine-tune on one task, with its own shuffling stream. */
export interface FinetuneJob {
  /** The initialisation under test (not modified). */
  readonly init: Float32Array;
  /** Its task: training samples are fine-tuned on, test samples measured. */
  readonly task: Pick<TaskData, 'xTrain' | 'yTrain' | 'xTest' | 'yTest'>;
  /** Shuffling of the fine-tuning; pass the same fork for every method of a task. */
  readonly rng: Rng;
}

export interface FinetuneManyArgs {
  readonly layout: Layout;
  readonly jobs: readonly FinetuneJob[];
  /** Largest epoch count wanted (0: only evaluate the inits). */
  readonly maxEpoch: number;
  readonly lr: number;
  readonly batchSize: number;
  readonly control?: RunControl;
}

/**
 * Fine-tuning curves of many inits at once: every job is a member of a model batch (jobs with the
 * same sample counts share batches), so each gets exactly the curve it would get alone.
 */
export async function finetuneCurves(args: FinetuneManyArgs): Promise<FinetuneCurve[]> {
  const { layout, jobs, maxEpoch } = args;
  // Forward passes of the work: every init measured at epoch 0 and after each epoch on its test
  // samples, and trained on its training samples (a backward pass ~2 forward ones).
  const samples = jobs.reduce(
    (n, j) => n + j.task.yTest.length * (maxEpoch + 1) + j.task.yTrain.length * maxEpoch * 3,
    0,
  );
  const threads = evalThreads(samples * forwardMacs(layout.arch), jobs.length);
  if (threads < 2) return finetuneCurvesHere(args);
  return finetuneThreaded<FinetuneCurve>(
    {
      layout,
      members: jobs.map((j) => ({
        init: j.init,
        xTrain: j.task.xTrain,
        yTrain: j.task.yTrain,
        xTest: j.task.xTest,
        yTest: j.task.yTest,
        rng: j.rng.state(),
      })),
      maxEpoch,
      lr: args.lr,
      batchSize: args.batchSize,
      control: args.control,
    },
    threads,
  );
}

/**
 * finetuneCurves on this thread (the evaluation workers run their chunks through it). Advances
 * each job's Rng; the threaded route leaves the callers' streams where they were.
 */
export async function finetuneCurvesHere(args: FinetuneManyArgs): Promise<FinetuneCurve[]> {
  const { layout, jobs } = args;
  const e0 = await evaluateMembers(
    layout,
    jobs.map((j) => ({ init: j.init, xTest: j.task.xTest, yTest: j.task.yTest })),
  );
  const curves: FinetuneCurve[] = e0.map((e) => ({
    accuracy: [e.accuracy],
    loss: [e.loss],
    trainLoss: [NaN],
  }));
  if (args.maxEpoch <= 0) return curves;
  const members = jobs.map((j) => ({
    init: j.init,
    xTrain: j.task.xTrain,
    yTrain: j.task.yTrain,
    xTest: j.task.xTest,
    yTest: j.task.yTest,
    rng: j.rng,
  }));
  for (const g of batchGroups(layout, members, args.batchSize)) {
    const { history } = await trainBatch({
      layout,
      members: g.map((i) => members[i]),
      epochs: args.maxEpoch,
      batchSize: args.batchSize,
      lr: args.lr,
      control: args.control,
      stage: 'fine-tuning',
    });
    g.forEach((i, j) => {
      for (const h of history[j]) {
        curves[i].accuracy.push(h.testAcc ?? NaN);
        curves[i].loss.push(h.testLoss ?? NaN);
        curves[i].trainLoss.push(h.trainLoss);
      }
    });
  }
  return curves;
}

/** Evaluate `init`, then fine-tune it for maxEpoch epochs recording the test metrics per epoch. */
export async function finetuneCurve(args: FinetuneArgs): Promise<FinetuneCurve> {
  const [curve] = await finetuneCurves({
    layout: args.layout,
    jobs: [{ init: args.init, task: args.task, rng: args.rng }],
    maxEpoch: args.maxEpoch,
    lr: args.lr,
    batchSize: args.batchSize,
    control: args.control,
  });
  return curve;
}
