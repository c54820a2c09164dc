/**
 * What travels through the queue, and how. A zoo batch job is plain JSON that carries everything a
 * worker on another machine needs: the resolved architecture, the inits, each run's task (classes
 * and sample indices) and shuffling seed, and a content hash naming the dataset's member inputs,
 * which sit in Redis once per dataset (not once per job). Results are binary blobs stored under
 * the hash of their job: a job delivered twice trains to the same checkpoints and is stored once.
 *
 * Job kinds are the BullMQ job names; a worker dispatches on them (worker.ts), so another kind of
 * work (a sweep's pipeline run) joins by adding a name, a schema and a handler.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ResolvedArchitectureSchema } from '../../../shared/schemas/zoo.ts';
import { materializeTask } from '../data/tasks.ts';
import type { LabelledData } from '../data/types.ts';
import { InputError } from '../errors.ts';
import { architectureToJson, layoutOf, type Layout } from '../nn/architecture.ts';
import type { ZooTrainingPlan } from '../zoo/executor.ts';
import type { MemberBatchJob, MemberResult } from '../zoo/train-member.ts';

/** BullMQ job names. */
export const JOB_KINDS = {
  /** A model batch of zoo runs. */
  zooBatch: 'zoo-batch',
  /** One point of a sweep: a pipeline run (src/main/sweeps/queue.ts). */
  sweepPoint: 'sweep-point',
  /** Does nothing; measures the queue itself (bench). */
  noop: 'noop',
} as const;

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

// ---- binary blobs --------------------------------------------------------------------------

type NumArray = Float32Array | Int32Array | Float64Array;
const ARRAY_TYPES = { f32: Float32Array, i32: Int32Array, f64: Float64Array } as const;
type ArrayType = keyof typeof ARRAY_TYPES;
const MAGIC = 'D2Q1';

function typeOf(a: NumArray): ArrayType {
  return a instanceof Float32Array ? 'f32' : a instanceof Int32Array ? 'i32' : 'f64';
}

const pad8 = (n: number): number => (n + 7) & ~7;

/** A JSON header and typed arrays in one buffer (little-endian, each array 8-byte aligned). */
export function packBlob(header: Record<string, unknown>, arrays: readonly NumArray[]): Buffer {
  const head = Buffer.from(
    JSON.stringify({ ...header, arrays: arrays.map((a) => [typeOf(a), a.length]) }),
    'utf8',
  );
  const start = pad8(8 + head.length);
  let size = start;
  for (const a of arrays) size += pad8(a.byteLength);
  const out = Buffer.alloc(size);
  out.write(MAGIC, 0, 'latin1');
  out.writeUInt32LE(head.length, 4);
  head.copy(out, 8);
  let off = start;
  for (const a of arrays) {
    Buffer.from(a.buffer, a.byteOffset, a.byteLength).copy(out, off);
    off += pad8(a.byteLength);
  }
  return out;
}

/** Undo packBlob; a truncated or foreign buffer is an Error naming `what`. */
export function unpackBlob(buf: Buffer, what: string): { header: unknown; arrays: NumArray[] } {
  const bad = (why: string): Error => new Error(`${what} in Redis is not readable: ${why}`);
  if (buf.length < 8 || buf.toString('latin1', 0, 4) !== MAGIC) throw bad('wrong format');
  const len = buf.readUInt32LE(4);
  if (8 + len > buf.length) throw bad('truncated header');
  let header: { arrays?: unknown };
  try {
    header = JSON.parse(buf.toString('utf8', 8, 8 + len)) as { arrays?: unknown };
  } catch {
    throw bad('corrupt header');
  }
  const specs = z
    .array(z.tuple([z.enum(['f32', 'i32', 'f64']), z.number().int().min(0)]))
    .safeParse(header.arrays);
  if (!specs.success) throw bad('corrupt header');
  let off = pad8(8 + len);
  const arrays = specs.data.map(([type, n]) => {
    const Ctor = ARRAY_TYPES[type];
    const bytes = n * Ctor.BYTES_PER_ELEMENT;
    if (off + bytes > buf.length) throw bad('truncated data');
    // Copy into a fresh, aligned buffer (a Buffer from the socket may sit at any offset).
    const copy = new Uint8Array(bytes);
    copy.set(buf.subarray(off, off + bytes));
    off += pad8(bytes);
    return new Ctor(copy.buffer);
  });
  return { header, arrays };
}

// ---- datasets ------------------------------------------------------------------------------

const DatasetHeaderSchema = z.object({
  kind: z.literal('dataset'),
  sampleShape: z.array(z.number().int().min(1)).min(1),
  classNames: z.array(z.string()),
});

/** The member inputs as one blob, and its content hash (the key the jobs name). */
export function packDataset(inputs: LabelledData): { hash: string; blob: Buffer } {
  const blob = packBlob(
    { kind: 'dataset', sampleShape: [...inputs.sampleShape], classNames: [...inputs.classNames] },
    [inputs.x, inputs.labels],
  );
  return { hash: sha256Hex(blob), blob };
}

export function unpackDataset(blob: Buffer, hash: string): LabelledData {
  const what = `dataset ${hash.slice(0, 12)}`;
  if (sha256Hex(blob) !== hash) throw new Error(`${what} in Redis does not match its hash`);
  const { header, arrays } = unpackBlob(blob, what);
  const h = DatasetHeaderSchema.safeParse(header);
  const [x, labels] = arrays;
  if (!h.success || !(x instanceof Float32Array) || !(labels instanceof Int32Array)) {
    throw new Error(`${what} in Redis is not readable: not a dataset`);
  }
  return {
    x,
    labels,
    sampleShape: h.data.sampleShape,
    classNames: h.data.classNames,
    source: `queue ${what}`,
  };
}

// ---- zoo batch jobs ------------------------------------------------------------------------

const int = z.number().int();
const HASH = z.string().regex(/^[0-9a-f]{64}$/);

/** A zoo batch job as it sits in the queue. */
export const ZooBatchJobSchema = z.strictObject({
  v: z.literal(1),
  arch: ResolvedArchitectureSchema,
  /** Content hash of the dataset's member inputs (keys.data). */
  data: HASH,
  /** Inits used by the members, float32 little-endian, base64. */
  inits: z.array(z.string()).min(1),
  members: z
    .array(
      z.strictObject({
        run: int.min(0),
        taskId: z.string().min(1),
        classes: z.array(int.min(0)).min(2),
        trainIndex: z.array(int),
        testIndex: z.array(int),
        /** Index into inits. */
        init: int.min(0),
        shuffleSeed: int,
      }),
    )
    .min(1),
  epochs: int.min(1),
  batchSize: int.min(1),
  lr: z.number().positive(),
  keepLast: int.min(1),
});
export type ZooBatchJobData = z.infer<typeof ZooBatchJobSchema>;

const f32ToB64 = (a: Float32Array): string =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');

function b64ToF32(s: string, size: number, what: string): Float32Array {
  const b = Buffer.from(s, 'base64');
  if (b.length !== size * 4) {
    throw new InputError(`init has ${b.length / 4} values, the layout needs ${size}`, what);
  }
  const copy = new Uint8Array(b.length);
  copy.set(b);
  return new Float32Array(copy.buffer);
}

/** Batch `b` of a plan as a queue job, and its id (the hash of its JSON). */
export function zooBatchJobData(
  plan: ZooTrainingPlan,
  b: number,
  dataHash: string,
): { id: string; data: ZooBatchJobData } {
  const runs = plan.batches[b];
  const seedIndices = [...new Set(runs.map((r) => r.seedIndex))];
  const data: ZooBatchJobData = {
    v: 1,
    arch: architectureToJson(plan.layout.arch),
    data: dataHash,
    inits: seedIndices.map((s) => f32ToB64(plan.inits[s])),
    members: runs.map((r) => ({
      run: r.run,
      taskId: r.task.id,
      classes: [...r.task.classes],
      trainIndex: Array.from(r.task.trainIndex),
      testIndex: Array.from(r.task.testIndex),
      init: seedIndices.indexOf(r.seedIndex),
      shuffleSeed: r.shuffleSeed,
    })),
    epochs: plan.epochs,
    batchSize: plan.batchSize,
    lr: plan.lr,
    keepLast: plan.keepLast,
  };
  return { id: jobHash(data), data };
}

/** The id of a job: sha256 of its JSON, as BullMQ stores it (key order kept). */
export function jobHash(data: unknown): string {
  return sha256Hex(JSON.stringify(data));
}

/** Parse a job from the queue; anything malformed is an InputError naming the job. */
export function parseZooBatchJob(raw: unknown, jobId: string): ZooBatchJobData {
  const r = ZooBatchJobSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new InputError(
      `malformed zoo batch job: ${issue.path.join('.') || '(root)'}: ${issue.message}`,
      `job ${jobId}`,
    );
  }
  return r.data;
}

/** Turn a queued job and its dataset into the batch job trainMemberBatch runs. */
export function materializeZooBatch(job: ZooBatchJobData, inputs: LabelledData): MemberBatchJob {
  const layout: Layout = layoutOf(job.arch);
  const inits = job.inits.map((s, i) => b64ToF32(s, layout.size, `init ${i}`));
  return {
    layout,
    members: job.members.map((m) => {
      const init = inits[m.init];
      if (!init) throw new InputError(`init ${m.init} is not in the job`, `task ${m.taskId}`);
      const td = materializeTask(inputs, {
        id: m.taskId,
        classes: m.classes,
        trainIndex: Int32Array.from(m.trainIndex),
        testIndex: Int32Array.from(m.testIndex),
        split: 'seen',
      });
      return {
        run: m.run,
        taskId: m.taskId,
        init: init.slice(),
        xTrain: td.xTrain,
        yTrain: td.yTrain,
        xTest: td.xTest,
        yTest: td.yTest,
        shuffleSeed: m.shuffleSeed,
      };
    }),
    epochs: job.epochs,
    batchSize: job.batchSize,
    lr: job.lr,
    keepLast: job.keepLast,
  };
}

// ---- results -------------------------------------------------------------------------------

const ResultHeaderSchema = z.object({
  kind: z.literal('zoo-batch-result'),
  runs: z.array(z.object({ run: int.min(0), epochs: z.array(int.min(1)) })),
});

/** A batch's results as one blob: checkpoint metrics (float64) and weights (float32). */
export function packResults(results: readonly MemberResult[]): Buffer {
  const cps = results.flatMap((r) => r.checkpoints);
  const metrics = new Float64Array(cps.length * 2);
  const size = cps[0]?.params.length ?? 0;
  const params = new Float32Array(cps.length * size);
  cps.forEach((c, i) => {
    metrics[2 * i] = c.trainAcc;
    metrics[2 * i + 1] = c.testAcc;
    params.set(c.params, i * size);
  });
  return packBlob(
    {
      kind: 'zoo-batch-result',
      runs: results.map((r) => ({ run: r.run, epochs: r.checkpoints.map((c) => c.epoch) })),
    },
    [metrics, params],
  );
}

export function unpackResults(blob: Buffer, jobId: string): MemberResult[] {
  const what = `result of job ${jobId.slice(0, 12)}`;
  const { header, arrays } = unpackBlob(blob, what);
  const h = ResultHeaderSchema.safeParse(header);
  const [metrics, params] = arrays;
  const count = h.success ? h.data.runs.reduce((s, r) => s + r.epochs.length, 0) : -1;
  if (
    !h.success ||
    !(metrics instanceof Float64Array) ||
    !(params instanceof Float32Array) ||
    metrics.length !== 2 * count ||
    (count > 0 && params.length % count !== 0)
  ) {
    throw new Error(`${what} in Redis is not readable: not a zoo batch result`);
  }
  const size = count > 0 ? params.length / count : 0;
  let i = 0;
  return h.data.runs.map((r) => ({
    run: r.run,
    checkpoints: r.epochs.map((epoch) => {
      const c = {
        epoch,
        trainAcc: metrics[2 * i],
        testAcc: metrics[2 * i + 1],
        params: params.slice(i * size, (i + 1) * size),
      };
      i++;
      return c;
    }),
  }));
}
