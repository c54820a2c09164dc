/**
 * Training one zoo run (one task, one init seed) and keeping its last checkpoints. The same
 * function runs inside a worker thread (member-worker.ts) or in-process (workers: 0), so both give
 * identical weights.
 */
import { Rng } from '../rng.ts';
import type { RunControl } from '../progress.ts';
import type { Layout } from '../nn/architecture.ts';
import { trainClassifier } from '../nn/train.ts';

/** Everything a worker needs to train one run; plain data so it crosses postMessage. */
export interface MemberJob {
  /** Position of the run in the zoo (task-major, then seed), for messages. */
  readonly run: number;
  /** Task id, for error messages. */
  readonly taskId: string;
  readonly layout: Layout;
  /** Initial weights (the seed index's shared init). */
  readonly init: Float32Array;
  readonly xTrain: Float32Array;
  readonly yTrain: Int32Array;
  readonly xTest: Float32Array;
  readonly yTest: Int32Array;
  readonly epochs: number;
  readonly batchSize: number;
  readonly lr: number;
  /** Seed of the run's minibatch shuffling. */
  readonly shuffleSeed: number;
  /** Keep the checkpoints of the last `keepLast` epochs. */
  readonly keepLast: number;
}

/** One kept checkpoint of a run. */
export interface MemberCheckpoint {
  readonly epoch: number;
  readonly trainAcc: number;
  readonly testAcc: number;
  readonly params: Float32Array;
}

/** Per-epoch progress posted by a run. */
export interface MemberEpochMessage {
  readonly run: number;
  readonly epoch: number;
  readonly epochs: number;
  readonly trainLoss: number;
  readonly testAcc: number;
}

/** The result of one run: its kept checkpoints, oldest first. */
export interface MemberResult {
  readonly run: number;
  readonly checkpoints: MemberCheckpoint[];
}

/** Train one run; `onEpoch` sees every epoch, the result keeps only the last `keepLast`. */
export async function trainMember(
  job: MemberJob,
  onEpoch?: (m: MemberEpochMessage) => void,
  control?: RunControl,
): Promise<MemberResult> {
  const keepFrom = job.epochs - Math.min(job.keepLast, job.epochs) + 1;
  const checkpoints: MemberCheckpoint[] = [];
  await trainClassifier({
    layout: job.layout,
    init: job.init,
    xTrain: job.xTrain,
    yTrain: job.yTrain,
    xTest: job.xTest,
    yTest: job.yTest,
    epochs: job.epochs,
    batchSize: job.batchSize,
    lr: job.lr,
    rng: new Rng(job.shuffleSeed),
    stage: `classifier (zoo task ${job.taskId})`,
    control: { signal: control?.signal },
    onEpoch: (rec) => {
      const testAcc = rec.testAcc ?? NaN;
      onEpoch?.({
        run: job.run,
        epoch: rec.epoch,
        epochs: job.epochs,
        trainLoss: rec.trainLoss,
        testAcc,
      });
      if (rec.epoch >= keepFrom) {
        checkpoints.push({
          epoch: rec.epoch,
          trainAcc: rec.trainAcc,
          testAcc,
          params: rec.params,
        });
      }
    },
  });
  return { run: job.run, checkpoints };
}
