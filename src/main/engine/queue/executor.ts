/**
 * The queue executor: a zoo's batches become BullMQ jobs on a Redis that `d2nwg worker` processes
 * on any machine serve. The dataset's member inputs go to Redis once, under their hash; each job
 * is named by the hash of its content, so a batch whose result is already stored is not queued
 * again. Progress comes back as the workers' per-epoch messages; cancelling removes waiting jobs
 * and tells the workers to stop active ones.
 *
 * Faults: a worker that dies mid-job loses its lock and BullMQ hands the job to another worker; a
 * job that fails every attempt fails the build with the worker's error; a Redis that stays away
 * longer than the grace period, or comes back without this build's jobs, fails the build with a
 * message saying so. In every failure no zoo is assembled: the build either has every result or
 * throws.
 */
import { z } from 'zod';
import { CancelledError } from '../errors.ts';
import { errorFromWorker } from '../workers/pool.ts';
import type { ZooBatchHooks, ZooExecutor, ZooTrainingPlan } from '../zoo/executor.ts';
import type { MemberEpochMessage } from '../zoo/train-member.ts';
import { BLOB_TTL_SECONDS, keys } from './connection.ts';
import {
  jobOptions,
  producerSettings,
  type ProducerSettings,
  type QueueExecutorOptions,
  openProducer,
  stopJobs,
  watchJobs,
  withTimeout,
  type Producer,
} from './producer.ts';
import { JOB_KINDS, packDataset, unpackResults, zooBatchJobData } from './jobs.ts';

export type { QueueExecutorOptions } from './producer.ts';

/** Jobs added per round trip. */
const ADD_CHUNK = 200;

const ProgressSchema = z.object({
  runs: z.array(z.number().int()),
  epoch: z.number().int(),
  epochs: z.number().int(),
  trainLoss: z.number().nullable(),
  testAcc: z.number().nullable(),
});

/**
 * Rebuild the worker's error (class kept for exit codes) from BullMQ's failedReason; `job` names
 * the job in the message ('zoo batch job').
 */
export function errorFromFailedReason(
  reason: string,
  jobId: string,
  attempts: number,
  job = 'zoo batch job',
): Error {
  const m =
    /^(InputError|NumericError|CancelledError|DeviceLimitError|[A-Z][A-Za-z]*Error): ([\s\S]*)$/.exec(
      reason,
    );
  const name = m ? m[1] : 'Error';
  const message = `${job} ${jobId.slice(0, 12)} failed on a queue worker (${attempts} attempt${attempts === 1 ? '' : 's'}): ${m ? m[2] : reason}`;
  return errorFromWorker({ name, message });
}

/** An executor that trains zoo batches on the `d2nwg worker` processes of a Redis queue. */
export function queueZooExecutor(opts: QueueExecutorOptions): ZooExecutor {
  const settings = producerSettings(opts);
  return {
    name: settings.name,
    train: (plan, hooks) => trainOnQueue(settings, plan, hooks),
  };
}

async function trainOnQueue(
  settings: ProducerSettings,
  plan: ZooTrainingPlan,
  hooks: ZooBatchHooks,
): Promise<void> {
  const { target, attempts, graceMs, checkMs, backoffMs } = settings;
  const { signal, onEpoch, finish } = hooks;
  if (signal?.aborted) throw new CancelledError();
  let producer: Producer | null = null;
  const watches: { stop(): void }[] = [];
  try {
    producer = await openProducer(target);
    const { conn, queue: q, events: ev } = producer;
    const { hash, blob } = packDataset(plan.inputs);
    await conn.set(keys.data(hash), blob, 'EX', BLOB_TTL_SECONDS);

    // job id → batch indices (two identical batches share a job and its result).
    const pending = new Map<string, number[]>();
    const jobs: { id: string; name: string; data: unknown }[] = [];
    plan.batches.forEach((_, b) => {
      const { id, data } = zooBatchJobData(plan, b, hash);
      const list = pending.get(id);
      if (list) list.push(b);
      else {
        pending.set(id, [b]);
        jobs.push({ id, name: JOB_KINDS.zooBatch, data });
      }
    });

    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (err: unknown): void => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        if (err === null) resolve();
        else reject(err);
      };
      const collecting = new Set<string>();
      const collect = async (id: string): Promise<void> => {
        if (settled || collecting.has(id) || !pending.has(id)) return;
        collecting.add(id);
        try {
          const buf = await conn.getBuffer(keys.result(id));
          if (!buf)
            throw new Error(`the result of zoo batch job ${id.slice(0, 12)} is missing from Redis`);
          const results = unpackResults(buf, id);
          const batches = pending.get(id) ?? [];
          pending.delete(id);
          for (const b of batches) {
            const runs = new Set(plan.batches[b].map((r) => r.run));
            finish(results.filter((r) => runs.has(r.run)));
          }
          if (pending.size === 0) settle(null);
        } catch (err) {
          settle(err);
        } finally {
          collecting.delete(id);
        }
      };
      const onAbort = (): void => settle(new CancelledError());
      signal?.addEventListener('abort', onAbort, { once: true });

      ev.on('completed', ({ jobId }) => void collect(jobId));
      ev.on('failed', ({ jobId, failedReason }) => {
        if (pending.has(jobId)) settle(errorFromFailedReason(failedReason, jobId, attempts));
      });
      ev.on('progress', ({ jobId, data }) => {
        if (settled || !pending.has(jobId)) return;
        const p = ProgressSchema.safeParse(data);
        if (!p.success) return;
        const m: MemberEpochMessage = {
          ...p.data,
          trainLoss: p.data.trainLoss ?? NaN,
          testAcc: p.data.testAcc ?? NaN,
        };
        onEpoch(m);
      });

      watches.push(
        watchJobs({
          conn,
          queue: q,
          target,
          graceMs,
          checkMs,
          pending: () => [...pending.keys()],
          job: 'zoo batch job',
          consequence: 'the build stopped and wrote nothing',
          onResult: (id) => void collect(id),
          onLost: (_id, err) => settle(err),
          onDown: settle,
        }),
      );

      void (async () => {
        try {
          // Results already stored (an earlier build of the same batches) are not queued again.
          const ids = jobs.map((j) => j.id);
          const pipe = conn.pipeline();
          for (const id of ids) pipe.exists(keys.result(id));
          const have = ((await pipe.exec()) ?? []).map((r) => r[1] === 1);
          const todo = jobs.filter((_, i) => !have[i]);
          ids.forEach((id, i) => {
            if (have[i]) void collect(id);
          });
          for (let i = 0; i < todo.length && !settled; i += ADD_CHUNK) {
            await q.addBulk(
              todo.slice(i, i + ADD_CHUNK).map((j) => ({
                name: j.name,
                data: j.data,
                opts: jobOptions(j.id, attempts, backoffMs),
              })),
            );
          }
        } catch (err) {
          settle(err);
        }
      })();
    }).catch(async (err: unknown) => {
      // Stop what is left, unless Redis itself is gone (the commands would only hang).
      const left = [...pending.keys()];
      if (left.length > 0 && conn.status === 'ready') {
        await withTimeout(stopJobs(q, conn, target, left), 5000);
      }
      throw err;
    });
  } finally {
    for (const w of watches) w.stop();
    await producer?.close();
  }
}
