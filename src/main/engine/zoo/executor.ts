/**
 * Where a zoo's training batches run. The build plans the batches (which runs train together, from
 * which init, on which task's samples); an executor trains them and hands back each batch's
 * results. Two executors: worker threads in this process (the default, nothing to set up) and a
 * BullMQ queue over Redis, whose workers may sit on any machine (engine/queue). The choice is a
 * setting (`--queue redis://HOST:PORT`, D2NWG_QUEUE), never a code change; a run gets the same
 * weights whichever executor trains it.
 */
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { LabelledData, TaskSpec } from '../data/types.ts';
import { materializeTask } from '../data/tasks.ts';
import { CancelledError, throwIfAborted } from '../errors.ts';
import type { Layout } from '../nn/architecture.ts';
import { WorkerPool } from '../workers/pool.ts';
import {
  trainMemberBatch,
  type MemberBatchJob,
  type MemberEpochMessage,
  type MemberResult,
} from './train-member.ts';

/** One run of a planned batch: a task trained from one init seed. */
export interface PlannedRun {
  /** Position of the run in the zoo (task-major, then seed). */
  readonly run: number;
  readonly task: TaskSpec;
  /** Index into ZooTrainingPlan.inits. */
  readonly seedIndex: number;
  /** Seed of the run's minibatch shuffling. */
  readonly shuffleSeed: number;
}

/** Everything needed to train a zoo's runs, batch by batch. */
export interface ZooTrainingPlan {
  readonly layout: Layout;
  /** What members see: features (or images for a CNN) of every sample of the dataset. */
  readonly inputs: LabelledData;
  /** The shared init of each seed index. */
  readonly inits: readonly Float32Array[];
  readonly epochs: number;
  readonly batchSize: number;
  readonly lr: number;
  readonly keepLast: number;
  /** Runs grouped into model batches (same sample counts), in the order they should start. */
  readonly batches: readonly (readonly PlannedRun[])[];
  /** Worker threads for the in-process executor (0 = this thread). */
  readonly workers: number;
  /** Threads already started for the in-process executor (warmMemberPool); the caller closes it. */
  readonly pool?: WorkerPool;
}

/** How an executor reports back. */
export interface ZooBatchHooks {
  /** Per-epoch progress of a batch. */
  readonly onEpoch: (m: MemberEpochMessage) => void;
  /** A batch finished; called once per batch, in any order. */
  readonly finish: (results: readonly MemberResult[]) => void;
  /** Cancels the training: queued batches are dropped, running ones stopped. */
  readonly signal?: AbortSignal;
}

/**
 * Trains the batches of a plan. Resolves when every batch has been finished; rejects on the first
 * failure (with the failing batch's error) after stopping the rest, or with CancelledError.
 */
export interface ZooExecutor {
  /** For logs and timings: 'threads', 'queue redis://…'. */
  readonly name: string;
  train(plan: ZooTrainingPlan, hooks: ZooBatchHooks): Promise<void>;
}

/** The batch job of batch `b`, its task samples copied out of the plan's inputs. */
export function batchJob(plan: ZooTrainingPlan, b: number): MemberBatchJob {
  return {
    layout: plan.layout,
    members: plan.batches[b].map((r) => {
      const td = materializeTask(plan.inputs, r.task);
      return {
        run: r.run,
        taskId: r.task.id,
        init: plan.inits[r.seedIndex].slice(),
        xTrain: td.xTrain,
        yTrain: td.yTrain,
        xTest: td.xTest,
        yTest: td.yTest,
        shuffleSeed: r.shuffleSeed,
      };
    }),
    epochs: plan.epochs,
    batchSize: plan.batchSize,
    lr: plan.lr,
    keepLast: plan.keepLast,
  };
}

/** The worker-thread entry that trains batch jobs. */
export const MEMBER_WORKER_FILE = new URL('./member-worker.ts', import.meta.url);

/** True when the worker entry ships next to this module (it runs from the sources, via tsx). */
export function haveMemberWorker(): boolean {
  return (
    MEMBER_WORKER_FILE.protocol === 'file:' && fs.existsSync(fileURLToPath(MEMBER_WORKER_FILE))
  );
}

/**
 * Buffers safe to move to a worker: whole (not a view into something larger, such as a cached
 * dataset) and listed once.
 */
export function ownedBuffers(arrays: readonly (Float32Array | Int32Array)[]): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const a of arrays) {
    const b = a.buffer;
    if (b instanceof ArrayBuffer && a.byteOffset === 0 && a.byteLength === b.byteLength) out.add(b);
  }
  return [...out];
}

/** Run one batch job on a pool thread, moving its inputs there. */
export function runBatchOnPool(
  pool: WorkerPool,
  job: MemberBatchJob,
  onEpoch: (m: MemberEpochMessage) => void,
  signal?: AbortSignal,
): Promise<MemberResult[]> {
  const transfer = ownedBuffers(
    job.members.flatMap((m) => [m.init, m.xTrain, m.yTrain, m.xTest, m.yTest]),
  );
  return pool.run<MemberBatchJob, MemberResult[]>(job, {
    signal,
    transfer,
    onMessage: (m) => onEpoch(m as MemberEpochMessage),
  });
}

/**
 * Worker threads in this process: `plan.workers` threads, one batch per thread in flight so the
 * inputs of thousands of runs never sit in memory at once (0 workers, or a bundle without the
 * worker entry: in this thread). The first failure cancels the rest.
 */
/**
 * Worker threads for the thread executor started ahead of training (see WorkerPool.warm), or
 * null where none would run (0 workers, no worker entry). The caller closes it.
 */
export function warmMemberPool(workers: number): WorkerPool | null {
  if (workers <= 0 || !haveMemberWorker()) return null;
  const pool = new WorkerPool(MEMBER_WORKER_FILE, workers);
  pool.warm();
  return pool;
}

export const threadExecutor: ZooExecutor = {
  name: 'threads',
  async train(plan, { onEpoch, finish, signal }) {
    const count = plan.batches.length;
    if (plan.workers === 0 || !haveMemberWorker()) {
      for (let b = 0; b < count; b++) {
        throwIfAborted(signal);
        finish(await trainMemberBatch(batchJob(plan, b), onEpoch, { signal }));
      }
      return;
    }
    const size = Math.max(1, Math.min(plan.workers, count));
    // A pool the caller started early (its workers warming up while data and features loaded)
    // is used and left to the caller to close.
    const own = plan.pool === undefined;
    const pool = plan.pool ?? new WorkerPool(MEMBER_WORKER_FILE, size);
    const stop = new AbortController();
    const onOuterAbort = (): void => stop.abort();
    signal?.addEventListener('abort', onOuterAbort, { once: true });
    let failure: unknown = null;
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < count && failure === null && !stop.signal.aborted) {
        const job = batchJob(plan, next++);
        try {
          finish(await runBatchOnPool(pool, job, onEpoch, stop.signal));
        } catch (err) {
          if (failure === null && !(err instanceof CancelledError && !signal?.aborted)) {
            failure = err;
          }
          stop.abort();
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: size }, () => lane()));
    } finally {
      signal?.removeEventListener('abort', onOuterAbort);
      if (own) await pool.close();
    }
    throwIfAborted(signal);
    if (failure !== null) throw failure;
  },
};

/** Default queue name; every worker and build on one Redis with the same name shares jobs. */
export const DEFAULT_QUEUE_NAME = 'd2nwg';

/** Settings that pick the executor. */
export interface ExecutorSetting {
  /** redis://HOST:PORT of a BullMQ queue; absent: worker threads in this process. */
  readonly queue?: string;
  /** Queue name on that Redis (default 'd2nwg'). */
  readonly queueName?: string;
}

let configured: ExecutorSetting | undefined;

/**
 * Set the process-wide executor setting (the CLI's `--queue`); undefined goes back to the
 * environment (D2NWG_QUEUE, D2NWG_QUEUE_NAME), then to worker threads.
 */
export function configureZooExecutor(setting: ExecutorSetting | undefined): void {
  configured = setting;
}

/** The setting in force: configureZooExecutor's, else the environment's. */
export function executorSetting(): ExecutorSetting {
  if (configured) return configured;
  const queue = process.env.D2NWG_QUEUE?.trim();
  const queueName = process.env.D2NWG_QUEUE_NAME?.trim();
  return {
    ...(queue ? { queue } : {}),
    ...(queueName ? { queueName } : {}),
  };
}

/** The setting with command-line flags on top (each flag replaces its environment variable). */
export function executorSettingWith(flags: ExecutorSetting): ExecutorSetting {
  const base = executorSetting();
  const queue = flags.queue ?? base.queue;
  const queueName = flags.queueName ?? base.queueName;
  return { ...(queue ? { queue } : {}), ...(queueName ? { queueName } : {}) };
}

/**
 * The executor a setting names. The queue module (and its Redis client) is only loaded when a
 * queue is set, so in-process builds never touch it.
 */
export async function zooExecutorFor(
  setting: ExecutorSetting = executorSetting(),
): Promise<ZooExecutor> {
  if (!setting.queue) return threadExecutor;
  const { queueZooExecutor } = await import('../queue/executor.ts');
  return queueZooExecutor({ url: setting.queue, queueName: setting.queueName });
}
