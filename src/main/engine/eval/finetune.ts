/**
 * Test accuracy of an initialisation as fine-tuning proceeds: the measurement every method of the
 * quality benchmark shares (same optimiser, learning rate, batch size and shuffling for all), so
 * differences come from the init alone.
 */
import type { TaskData } from '../data/types.ts';
import type { Layout } from '../nn/architecture.ts';
import { lossAndAccuracy, trainClassifier } from '../nn/train.ts';
import type { RunControl } from '../progress.ts';
import type { Rng } from '../rng.ts';

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

/** Evaluate `init`, then fine-tune it for maxEpoch epochs recording the test metrics per epoch. */
export async function finetuneCurve(args: FinetuneArgs): Promise<FinetuneCurve> {
  const { layout, init, task } = args;
  const e0 = await lossAndAccuracy(layout, init, task.xTest, task.yTest);
  const accuracy = [e0.accuracy];
  const loss = [e0.loss];
  const trainLoss = [NaN];
  if (args.maxEpoch > 0) {
    const { history } = await trainClassifier({
      layout,
      init,
      xTrain: task.xTrain,
      yTrain: task.yTrain,
      xTest: task.xTest,
      yTest: task.yTest,
      epochs: args.maxEpoch,
      batchSize: args.batchSize,
      lr: args.lr,
      rng: args.rng,
      control: args.control,
      stage: 'fine-tuning',
    });
    for (const h of history) {
      accuracy.push(h.testAcc ?? NaN);
      loss.push(h.testLoss ?? NaN);
      trainLoss.push(h.trainLoss);
    }
  }
  return { accuracy, loss, trainLoss };
}
