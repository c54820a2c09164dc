/**
 * A sweep's points on a Redis queue: each point is a `sweep-point` job that carries everything a
 * worker on another machine needs (the point's pipeline JSON, its run id and seed; the embedded
 * dataset is on every install). The worker runs the pipeline headless in an engine host thread,
 * streams its events back as job progress (the CLI's lines, the canvas) and stores the run's
 * events, with the time of each, as the job's result under the hash of the job: a job delivered
 * twice is stored once. The coordinating process records those events as the point's run, so the
 * store holds what an in-process sweep records. A point's user dataset files (the csv, npy and
 * idx files of its dataset.source nodes) travel by content: the coordinator puts each file's bytes
 * in Redis once under its sha256 and the job names them; the worker fetches them, checks the hash,
 * keeps them in a private cache folder and points the pipeline there. Nothing else touches files
 * on a worker: a folder source or an export fails with a message saying so.
 */
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Job } from 'bullmq';
import { z } from 'zod';
import type { RunEvent, RunEventType } from '../../shared/events.ts';
import { parsePipeline, type Pipeline } from '../../shared/pipeline.ts';
import { DatasetSourceSchema } from '../../shared/schemas/dataset.ts';
import { RUN_OUTCOMES, type RunOutcome } from '../../shared/runs.ts';
import { errorMessage } from '../../shared/errors.ts';
import { CancelledError, InputError } from '../engine/errors.ts';
import { BLOB_TTL_SECONDS, keys } from '../engine/queue/connection.ts';
import { mapSourcePaths } from '../engine/data/sources.ts';
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

/** Why a queued point cannot touch a file (the end of a node's error). */
export const NO_FILES_ON_QUEUE =
  'a sweep point run on a queue worker reads only the dataset files its job carries (the csv, npy and idx files of dataset.source; the embedded dataset is on every install), and writes none; run this sweep without a queue';

/** How a carried file is named in a job's pipeline: `queue-file:<sha256>/<name>`. */
const CARRIED_RE = /^queue-file:([0-9a-f]{64})\/([A-Za-z0-9._-]{1,200})$/;
const FILE_NAME_RE = /^(?!\.\.?$)[A-Za-z0-9._-]{1,200}$/;

/** Largest file a point carries: D2NWG_QUEUE_FILE_MAX_BYTES, else 64 MiB. */
export function carriedFileMax(): number {
  const v = process.env.D2NWG_QUEUE_FILE_MAX_BYTES;
  if (v === undefined || v.trim() === '') return 64 * 1024 * 1024;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new InputError(`D2NWG_QUEUE_FILE_MAX_BYTES must be a positive integer, got '${v}'`);
  }
  return n;
}

const CarriedFileSchema = z.strictObject({
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  name: z.string().regex(FILE_NAME_RE),
  size: z.number().int().min(0),
});
type CarriedFile = z.infer<typeof CarriedFileSchema>;

const SweepPointJobSchema = z.strictObject({
  v: z.literal(1),
  runId: z.string().min(1),
  /** The point's pipeline, as the coordinator expanded it (carried files as `queue-file:…`). */
  pipeline: z.unknown(),
  seed: z.number().int().min(0),
  /** User files the pipeline reads, each in Redis under keys.file(sha256). */
  files: z.array(CarriedFileSchema).min(1).optional(),
});
export type SweepPointJobData = z.infer<typeof SweepPointJobSchema>;

/** The pipeline with every path of its dataset.source nodes through `map` (others as they are). */
function mapDatasetPaths(pipeline: Pipeline, map: (p: string) => string): Pipeline {
  // A malformed pipeline travels as it is; the worker's check names its problems.
  if (!Array.isArray(pipeline.nodes)) return pipeline;
  return {
    ...pipeline,
    nodes: pipeline.nodes.map((n) => {
      if (n.type !== 'dataset.source') return n;
      const src = DatasetSourceSchema.safeParse((n.config as { source?: unknown }).source);
      // Folders (imagefolder, full Fashion-MNIST) are not carried; the worker refuses them.
      if (!src.success || !['csv', 'npy', 'idx'].includes(src.data.kind)) return n;
      return { ...n, config: { ...(n.config as object), source: mapSourcePaths(src.data, map) } };
    }),
  };
}

/**
 * The coordinator's side of carried files: each dataset file the pipeline reads, checked by
 * `checkRead` (the caller's path policy), is put in Redis once under its sha256, and the pipeline
 * names it by hash. A file over the size limit is an error naming it.
 */
export function fileCarrier(
  conn: Pick<Producer['conn'], 'set' | 'expire'>,
  checkRead: (p: string, what: string) => Promise<string>,
) {
  /** `path:mtime:size` → the file as carried, so a sweep reads and uploads each file once. */
  const known = new Map<string, CarriedFile>();
  return async (pipeline: Pipeline): Promise<{ pipeline: Pipeline; files: CarriedFile[] }> => {
    const given: string[] = [];
    mapDatasetPaths(pipeline, (p) => (given.push(p), p));
    if (given.length === 0) return { pipeline, files: [] };
    const max = carriedFileMax();
    const ref = new Map<string, CarriedFile>();
    for (const p of given) {
      if (ref.has(p)) continue;
      const abs = await checkRead(p, 'dataset file');
      const st = await fs.promises.stat(abs).catch((err: unknown) => {
        const code = (err as NodeJS.ErrnoException).code;
        throw new InputError(
          `dataset file \`${p}\`: ${code === 'ENOENT' ? 'file not found' : errorMessage(err)}`,
        );
      });
      if (st.size > max) {
        throw new InputError(
          `dataset file \`${p}\` is ${st.size} bytes; a sweep point on a queue carries files of at most ${max} bytes (D2NWG_QUEUE_FILE_MAX_BYTES)`,
        );
      }
      const id = `${abs}:${st.mtimeMs}:${st.size}`;
      let f = known.get(id);
      if (!f) {
        const bytes = await fs.promises.readFile(abs);
        const sha256 = createHash('sha256').update(bytes).digest('hex');
        const name = path
          .basename(abs)
          .replace(/[^A-Za-z0-9._-]/g, '_')
          .slice(-200);
        f = { sha256, name: FILE_NAME_RE.test(name) ? name : 'file', size: bytes.length };
        await conn.set(keys.file(sha256), bytes, 'EX', BLOB_TTL_SECONDS, 'NX');
        known.set(id, f);
      }
      await conn.expire(keys.file(f.sha256), BLOB_TTL_SECONDS);
      ref.set(p, f);
    }
    const files = [...new Map([...ref.values()].map((f) => [f.sha256, f])).values()];
    return {
      pipeline: mapDatasetPaths(pipeline, (p) => {
        const f = ref.get(p);
        return f ? `queue-file:${f.sha256}/${f.name}` : p;
      }),
      files,
    };
  };
}

/**
 * The worker's side: the job's files in `cacheDir/<sha256>/<name>` (fetched once, hash checked),
 * and the pipeline pointing there.
 */
async function fetchCarried(
  data: SweepPointJobData,
  pipeline: Pipeline,
  cacheDir: string,
  getBlob: JobContext['getBlob'],
): Promise<Pipeline> {
  const local = new Map<string, string>();
  const max = carriedFileMax();
  for (const f of data.files ?? []) {
    const file = path.join(cacheDir, f.sha256, f.name);
    if (!fs.existsSync(file)) {
      if (f.size > max) {
        throw new InputError(
          `dataset file ${f.name} is ${f.size} bytes; this worker takes files of at most ${max} bytes (D2NWG_QUEUE_FILE_MAX_BYTES)`,
        );
      }
      const blob = await getBlob(keys.file(f.sha256));
      if (!blob) {
        throw new Error(
          `dataset file ${f.name} (sha256 ${f.sha256.slice(0, 12)}) is not in Redis (expired, flushed, or Redis restarted); run the sweep again`,
        );
      }
      const got = createHash('sha256').update(blob).digest('hex');
      if (got !== f.sha256) {
        throw new Error(
          `dataset file ${f.name} in Redis does not match its sha256 (${got.slice(0, 12)} ≠ ${f.sha256.slice(0, 12)})`,
        );
      }
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
      fs.writeFileSync(tmp, blob, { mode: 0o600 });
      fs.renameSync(tmp, file);
    }
    local.set(f.sha256, file);
  }
  return mapDatasetPaths(pipeline, (p) => {
    const m = CARRIED_RE.exec(p);
    if (!m) return p;
    const file = local.get(m[1]);
    if (!file) throw new InputError(`the pipeline names a file the job does not carry: ${p}`);
    return file;
  });
}

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
export function sweepPointJobData(
  run: SweepPointRun,
  files: readonly CarriedFile[] = [],
): { id: string; data: SweepPointJobData } {
  const data: SweepPointJobData = {
    v: 1,
    runId: run.runId,
    pipeline: run.pipeline,
    seed: run.seed,
    ...(files.length > 0 ? { files: [...files] } : {}),
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
  let cacheDir: string | null = null;
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
        let pipeline = parsed.pipeline;
        if (raw.data.files) {
          cacheDir ??= fs.mkdtempSync(path.join(tmpdir(), 'd2nwg-files-'));
          pipeline = await fetchCarried(raw.data, pipeline, cacheDir, ctx.getBlob);
        }
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
              pipeline,
              seed,
              dataDir,
              paths: noFilesPolicy(dataDir, NO_FILES_ON_QUEUE, cacheDir ? [cacheDir] : []).spec,
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
      for (const d of [dataDir, cacheDir]) if (d) fs.rmSync(d, { recursive: true, force: true });
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
export async function queueSweepExecutor(
  opts: QueueExecutorOptions,
  files: {
    /** Where the points' dataset files are read from (by default, every path, relative to the cwd). */
    readonly checkRead?: (p: string, what: string) => Promise<string>;
  } = {},
): Promise<SweepExecutor> {
  const settings = producerSettings(opts);
  const { target, attempts } = settings;

  /** A point that could not run: its run records the error. */
  const failRun = (run: SweepPointRun, hooks: SweepPointHooks, err: unknown): void => {
    const { runId } = run;
    const log: RunEvent = { type: 'log', runId, level: 'error', message: errorMessage(err) };
    const done: RunEvent = { type: 'runDone', runId, status: 'failed', durationS: 0 };
    for (const e of [log, done]) {
      hooks.onEvent(e);
      hooks.record(e, Date.now());
    }
  };
  const fail = (pending: Map<string, Waiter>, id: string, err: unknown): void => {
    const w = pending.get(id);
    if (!w) return;
    pending.delete(id);
    failRun(w.run, w.hooks, err);
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
  const carry = fileCarrier(
    producer.conn,
    files.checkRead ?? ((p) => Promise.resolve(path.resolve(p))),
  );
  return {
    name: settings.name,
    parallel: Number.POSITIVE_INFINITY,
    async runPoint(run, hooks) {
      const { conn, queue } = producer;
      let job: ReturnType<typeof sweepPointJobData>;
      try {
        const carried = await carry(run.pipeline);
        job = sweepPointJobData({ ...run, pipeline: carried.pipeline }, carried.files);
      } catch (err) {
        failRun(run, hooks, err);
        return 'failed';
      }
      const { id, data } = job;
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
