/**
 * A sweep's points on a Redis queue: each point is a `sweep-point` job that carries everything a
 * worker on another machine needs (the point's pipeline JSON, its run id and seed; the embedded
 * dataset is on every install). The worker runs the pipeline headless in an engine host thread,
 * streams its events back as job progress (the CLI's lines, the canvas) and stores the run's
 * events, with the time of each, as the job's result under the hash of the job: a job delivered
 * twice is stored once. The coordinating process records those events as the point's run, so the
 * store holds what an in-process sweep records. Points run with no file access: a node that
 * needs a file (a user dataset, an export folder) fails with a message saying so.
 */
import { tmpdir } from 'node:os';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Job } from 'bullmq';
import { z } from 'zod';
import type { RunEvent, RunEventType } from '../../shared/events.ts';
import { parsePipeline } from '../../shared/pipeline.ts';
import { RUN_OUTCOMES, type RunOutcome } from '../../shared/runs.ts';
import { errorMessage } from '../../shared/errors.ts';
import { CancelledError, InputError } from '../engine/errors.ts';
import { keys } from '../engine/queue/connection.ts';
import { errorFromFailedReason } from '../engine/queue/executor.ts';
import { JOB_KINDS, jobHash } from '../engine/queue/jobs.ts';
import {
  jobOptions,
  openProducer,
  producerSettings,
  stopJobs,
  watchJobs,
  withTimeout,
  type Producer,
  type QueueExecutorOptions,
} from '../engine/queue/producer.ts';
import type { JobContext, QueueJobKind } from '../engine/queue/worker.ts';
import { EngineHost } from '../host/engine-host.ts';
import { noFilesPolicy } from '../paths/policy.ts';
import type { SweepExecutor, SweepPointHooks, SweepPointRun } from './executor.ts';

/** Why a queued point cannot touch files (the end of a node's error). */
export const NO_FILES_ON_QUEUE =
  'a sweep point run on a queue worker cannot use files (the job carries only the pipeline and its seeds; the embedded dataset is on every install); run this sweep without --queue';

const SweepPointJobSchema = z.strictObject({
  v: z.literal(1),
  runId: z.string().min(1),
  /** The point's pipeline, as the coordinator expanded it. */
  pipeline: z.unknown(),
  seed: z.number().int().min(0),
});
export type SweepPointJobData = z.infer<typeof SweepPointJobSchema>;

const EVENT_TYPES = [
  'runStart',
  'nodeStart',
  'nodeProgress',
  'nodeCached',
  'nodeFinish',
  'nodeError',
  'nodeSkipped',
  'runCancelled',
  'runDone',
  'artifact',
  'log',
] as const satisfies readonly RunEventType[];

/** A run event as it comes back from a worker: its type is known and its run is this one. */
function eventOf(raw: unknown, runId: string): RunEvent | null {
  const e = z.looseObject({ type: z.enum(EVENT_TYPES), runId: z.literal(runId) }).safeParse(raw);
  return e.success ? (e.data as RunEvent) : null;
}

const SweepPointResultSchema = z.strictObject({
  kind: z.literal('sweep-point-result'),
  status: z.enum(RUN_OUTCOMES),
  events: z.array(z.strictObject({ at: z.number(), event: z.unknown() })),
});
type SweepPointResult = z.infer<typeof SweepPointResultSchema>;

/** A point's run as a queue job, and its id (the hash of its JSON). */
export function sweepPointJobData(run: SweepPointRun): { id: string; data: SweepPointJobData } {
  const data: SweepPointJobData = {
    v: 1,
    runId: run.runId,
    pipeline: run.pipeline,
    seed: run.seed,
  };
  return { id: jobHash(data), data };
}

// ---- the worker's side -------------------------------------------------------------------------

/**
 * The `sweep-point` job kind of `d2nwg worker`: up to `concurrency` pipelines at once, each in its
 * own engine host thread (the worker's event loop stays free to renew its job locks).
 */
export function sweepPointKind(opts: { readonly concurrency: number }): QueueJobKind {
  let host: EngineHost | null = null;
  let dataDir: string | null = null;
  return {
    async run(job: Job, ctx: JobContext) {
      const id = jobHash(job.data);
      const raw = SweepPointJobSchema.safeParse(job.data);
      if (!raw.success) {
        const issue = raw.error.issues[0];
        // The producer's message names the job.
        throw new InputError(
          `malformed sweep point job: ${issue.path.join('.') || '(root)'}: ${issue.message}`,
        );
      }
      const parsed = parsePipeline(raw.data.pipeline);
      if (!parsed.ok) {
        throw new InputError(`the pipeline is not valid: ${parsed.problems.join('; ')}`);
      }
      const { runId, seed } = raw.data;
      return ctx.storeOnce(async () => {
        ctx.log(
          `sweep point ${runId} started (job ${id.slice(0, 12)}, attempt ${job.attemptsMade + 1})`,
        );
        dataDir ??= fs.mkdtempSync(path.join(tmpdir(), 'd2nwg-sweep-'));
        // The points' own zoo builds train here, not on the queue this worker serves.
        const env = { ...process.env };
        delete env.D2NWG_QUEUE;
        host ??= new EngineHost({ maxConcurrent: opts.concurrency, env });
        const events: { at: number; event: RunEvent }[] = [];
        const cancel = (): void => void host?.cancel(runId);
        ctx.signal?.addEventListener('abort', cancel, { once: true });
        const t0 = performance.now();
        let status: RunOutcome;
        try {
          status = await host.submit(
            {
              runId,
              pipeline: parsed.pipeline,
              seed,
              dataDir,
              paths: noFilesPolicy(dataDir, NO_FILES_ON_QUEUE).spec,
            },
            (event) => {
              events.push({ at: Date.now(), event });
              void job.updateProgress({ event }).catch(() => undefined);
            },
          );
        } finally {
          ctx.signal?.removeEventListener('abort', cancel);
        }
        if (status === 'cancelled') throw new CancelledError();
        ctx.log(
          `sweep point ${runId} ${status} in ${((performance.now() - t0) / 1000).toFixed(1)} s (job ${id.slice(0, 12)})`,
        );
        const result: SweepPointResult = { kind: 'sweep-point-result', status, events };
        return JSON.stringify(result);
      });
    },
    async close() {
      await host?.dispose();
      if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

// ---- the coordinator's side -------------------------------------------------------------------

interface Session {
  readonly producer: Producer;
  /** Job id → the point waiting for it. */
  readonly pending: Map<string, Waiter>;
  readonly watch: { stop(): void };
  /** Record a stored result as the point's run. */
  readonly collect: (id: string) => Promise<void>;
}

interface Waiter {
  readonly run: SweepPointRun;
  readonly hooks: SweepPointHooks;
  readonly settle: (outcome: RunOutcome) => void;
}

/**
 * Points as jobs for the `d2nwg worker` processes of a Redis queue, all of them at once. Connects
 * first: an unreachable Redis is an error here, before the caller records anything.
 */
export async function queueSweepExecutor(opts: QueueExecutorOptions): Promise<SweepExecutor> {
  const settings = producerSettings(opts);
  const { target, attempts } = settings;

  /** A point that could not run: its run records the error and fails. */
  const fail = (pending: Map<string, Waiter>, id: string, err: unknown): void => {
    const w = pending.get(id);
    if (!w) return;
    pending.delete(id);
    const { runId } = w.run;
    const log: RunEvent = { type: 'log', runId, level: 'error', message: errorMessage(err) };
    const done: RunEvent = { type: 'runDone', runId, status: 'failed', durationS: 0 };
    for (const e of [log, done]) {
      w.hooks.onEvent(e);
      w.hooks.record(e, Date.now());
    }
    w.settle('failed');
  };

  const open = async (): Promise<Session> => {
    const producer = await openProducer(target);
    const { conn, queue, events } = producer;
    const pending = new Map<string, Waiter>();
    const collecting = new Set<string>();
    const collect = async (id: string): Promise<void> => {
      const w = pending.get(id);
      if (!w || collecting.has(id)) return;
      collecting.add(id);
      try {
        const text = await conn.get(keys.result(id));
        if (text === null)
          throw new Error(`the result of sweep point job ${id.slice(0, 12)} is missing from Redis`);
        const result = SweepPointResultSchema.safeParse(JSON.parse(text));
        if (!result.success)
          throw new Error(
            `the result of sweep point job ${id.slice(0, 12)} in Redis is not readable`,
          );
        pending.delete(id);
        for (const { at, event } of result.data.events) {
          const e = eventOf(event, w.run.runId);
          if (e) w.hooks.record(e, at);
        }
        w.settle(result.data.status);
      } catch (err) {
        fail(pending, id, err);
      } finally {
        collecting.delete(id);
      }
    };
    events.on('completed', ({ jobId }) => void collect(jobId));
    events.on('failed', ({ jobId, failedReason }) =>
      fail(pending, jobId, errorFromFailedReason(failedReason, jobId, attempts, 'sweep point job')),
    );
    events.on('progress', ({ jobId, data }) => {
      const w = pending.get(jobId);
      const e =
        w && typeof data === 'object'
          ? eventOf((data as { event?: unknown }).event, w.run.runId)
          : null;
      if (w && e) w.hooks.onEvent(e);
    });
    const watch = watchJobs({
      conn,
      queue,
      target,
      graceMs: settings.graceMs,
      checkMs: settings.checkMs,
      pending: () => [...pending.keys()],
      job: 'sweep point job',
      consequence: 'the point failed (d2nwg sweep --resume runs it again)',
      onResult: (id) => void collect(id),
      onLost: (id, err) => fail(pending, id, err),
      onDown: (err) => {
        for (const id of [...pending.keys()]) fail(pending, id, err);
      },
    });
    return { producer, pending, watch, collect };
  };

  const { producer, pending, watch, collect } = await open();
  return {
    name: settings.name,
    parallel: Number.POSITIVE_INFINITY,
    runPoint(run, hooks) {
      const { conn, queue } = producer;
      const { id, data } = sweepPointJobData(run);
      return new Promise<RunOutcome>((resolve) => {
        const onAbort = (): void => {
          if (!pending.has(id)) return;
          pending.delete(id);
          void withTimeout(stopJobs(queue, conn, target, [id]), 5000);
          for (const e of [
            { type: 'runCancelled', runId: run.runId },
            { type: 'runDone', runId: run.runId, status: 'cancelled', durationS: 0 },
          ] satisfies RunEvent[]) {
            hooks.onEvent(e);
            hooks.record(e, Date.now());
          }
          resolve('cancelled');
        };
        pending.set(id, {
          run,
          hooks,
          settle: (outcome) => {
            hooks.signal.removeEventListener('abort', onAbort);
            resolve(outcome);
          },
        });
        if (hooks.signal.aborted) {
          onAbort();
          return;
        }
        hooks.signal.addEventListener('abort', onAbort, { once: true });
        void (async () => {
          // A result already stored (the same run's job, delivered before) is not queued again.
          if ((await conn.exists(keys.result(id))) === 1) await collect(id);
          else {
            await queue.add(
              JOB_KINDS.sweepPoint,
              data,
              jobOptions(id, attempts, settings.backoffMs),
            );
          }
        })().catch((err: unknown) => fail(pending, id, err));
      });
    },
    async close() {
      watch.stop();
      await producer.close();
    },
  };
}
