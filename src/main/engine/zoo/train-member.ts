/**
 * Training zoo runs (one task, one init seed each) as model batches and keeping each run's last
 * checkpoints. The same functions run inside a worker thread (member-worker.ts) or in-process
 * (workers: 0); a run gets the same weights whichever batch it lands in (nn/batch.ts).
 */
import { Rng } from '../rng.ts';
import type { RunControl } from '../progress.ts';
import type { Layout } from '../nn/architecture.ts';
import { trainBatch } from '../nn/batch.ts';

/** One run of a batch job: plain data so it crosses postMessage. */
export interface MemberSpec {
  /** Position of the run in the zoo (task-major, then seed), for messages. */
  readonly run: number;
  /** Task id, for error messages. */
  readonly taskId: string;
  /** Initial weights (the seed index's shared init). */
  readonly init: Float32Array;
  readonly xTrain: Float32Array;
  readonly yTrain: Int32Array;
  readonly xTest: Float32Array;
  readonly yTest: Int32Array;
  /** Seed of the run's minibatch shuffling. */
  readonly shuffleSeed: number;
}

/** Everything a worker needs to train a batch of runs of one architecture. */
export interface MemberBatchJob {
  readonly layout: Layout;
  readonly members: readonly MemberSpec[];
  readonly epochs: number;
  readonly batchSize: number;
  readonly lr: number;
  /** Keep the checkpoints of the last `keepLast` epochs. */
  readonly keepLast: number;
}

/** A single run as a job (a batch of one). */
export interface MemberJob extends MemberSpec {
  readonly layout: Layout;
  readonly epochs: number;
  readonly batchSize: number;
  readonly lr: number;
  readonly keepLast: number;
}

/** One kept checkpoint of a run. */
export interface MemberCheckpoint {
  readonly epoch: number;
  readonly trainAcc: number;
  readonly testAcc: number;
  readonly params: Float32Array;
}

/** Per-epoch progress posted by a batch: the epoch, and the batch's runs with their metrics. */
export interface MemberEpochMessage {
  /** Runs of the batch, in batch order. */
  readonly runs: readonly number[];
  readonly epoch: number;
  readonly epochs: number;
  /** Mean training loss and test accuracy over the batch's runs. */
  readonly trainLoss: number;
  readonly testAcc: number;
}

/** The result of one run: its kept checkpoints, oldest first. */
export interface MemberResult {
  readonly run: number;
  readonly checkpoints: MemberCheckpoint[];
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Train a batch of runs; `onEpoch` sees every epoch, results keep only the last `keepLast`. */
export async function trainMemberBatch(
  job: MemberBatchJob,
  onEpoch?: (m: MemberEpochMessage) => void,
  control?: RunControl,
): Promise<MemberResult[]> {
  const keepFrom = job.epochs - Math.min(job.keepLast, job.epochs) + 1;
  const results: MemberResult[] = job.members.map((m) => ({ run: m.run, checkpoints: [] }));
  const runs = job.members.map((m) => m.run);
  await trainBatch({
    layout: job.layout,
    members: job.members.map((m) => ({
      init: m.init,
      xTrain: m.xTrain,
      yTrain: m.yTrain,
      xTest: m.xTest,
      yTest: m.yTest,
      rng: new Rng(m.shuffleSeed),
      name: `zoo task ${m.taskId}, run ${m.run}`,
    })),
    epochs: job.epochs,
    batchSize: job.batchSize,
    lr: job.lr,
    stage: 'classifier (zoo)',
    control: { signal: control?.signal },
    onEpoch: async (epoch, records, params) => {
      onEpoch?.({
        runs,
        epoch,
        epochs: job.epochs,
        trainLoss: mean(records.map((r) => r.trainLoss)),
        testAcc: mean(records.map((r) => r.testAcc ?? NaN)),
      });
      if (epoch < keepFrom) return;
      const p = await params();
      records.forEach((rec, i) => {
        results[i].checkpoints.push({
          epoch,
          trainAcc: rec.trainAcc,
          testAcc: rec.testAcc ?? NaN,
          params: p[i],
        });
      });
    },
  });
  return results;
}

/** Train one run (a batch of one); `onEpoch` sees every epoch. */
export async function trainMember(
  job: MemberJob,
  onEpoch?: (m: MemberEpochMessage) => void,
  control?: RunControl,
): Promise<MemberResult> {
  const { layout, epochs, batchSize, lr, keepLast, ...spec } = job;
  const [res] = await trainMemberBatch(
    { layout, epochs, batchSize, lr, keepLast, members: [spec] },
    onEpoch,
    control,
  );
  return res;
}
