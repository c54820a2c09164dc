/**
 * zod schemas for every row the store reads back. SQLite is typeless at the edges (a column can
 * hold anything another build or a hand edit put there), so rows are parsed before they reach
 * callers, and a bad row fails loudly with the table and the field named.
 */
import { z } from 'zod';
import { formatIssues } from '../../shared/issues.ts';
import { NodeRunStatusSchema, RunStatusSchema } from '../../shared/runs.ts';
import { SweepStatusSchema } from '../../shared/sweeps.ts';

type CamelCase<S extends string> = S extends `${infer Head}_${infer Tail}`
  ? `${Head}${Capitalize<CamelCase<Tail>>}`
  : S;

/** A row with its snake_case column names turned into camelCase keys. */
export type CamelKeys<T> = {
  readonly [K in keyof T as K extends string ? CamelCase<K> : never]: T[K];
};

function camelKeys<T extends Record<string, unknown>>(row: T): CamelKeys<T> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) {
    out[key.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase())] = value;
  }
  return out as CamelKeys<T>;
}

/**
 * A row schema: validates the columns as SQLite returns them (issues name the column), then
 * hands callers the same fields under camelCase keys. This is the only row mapping there is.
 */
function rowSchema<S extends z.ZodRawShape>(shape: S) {
  return z.object(shape).transform((row) => camelKeys(row));
}

/** A JSON column: parsed text, then the given schema. */
function jsonColumn<T extends z.ZodType>(inner: T) {
  return z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'column does not hold valid JSON' });
        return z.NEVER;
      }
    })
    .pipe(inner);
}

function nullableJsonColumn<T extends z.ZodType>(inner: T) {
  return z.union([z.null(), jsonColumn(inner)]);
}

const JsonObject = z.record(z.string(), z.unknown());
const Shape = z.array(z.number().int().nonnegative());

const pipelineColumns = {
  id: z.string().min(1),
  name: z.string(),
  /** Number of saves so far (the latest history version). */
  version: z.number().int().positive(),
  created: z.string(),
  updated: z.string(),
};

/** A saved pipeline; select `current AS pipeline` (the latest saved pipeline JSON). */
export const PipelineRowSchema = rowSchema({
  ...pipelineColumns,
  pipeline: jsonColumn(z.unknown()),
});
export type PipelineRecord = z.output<typeof PipelineRowSchema>;

export const PipelineSummaryRowSchema = rowSchema(pipelineColumns);
export type PipelineSummary = z.output<typeof PipelineSummaryRowSchema>;

/** One saved version; select `json AS pipeline`. */
export const PipelineVersionRowSchema = rowSchema({
  pipeline_id: z.string(),
  version: z.number().int().positive(),
  name: z.string(),
  pipeline: jsonColumn(z.unknown()),
  saved: z.string(),
});
export type PipelineVersion = z.output<typeof PipelineVersionRowSchema>;

export const RunRowSchema = rowSchema({
  id: z.string().min(1),
  /** The saved pipeline this run came from, if any. */
  pipeline_id: z.string().nullable(),
  name: z.string(),
  status: RunStatusSchema,
  /** Snapshot of the pipeline/config the run executed, as given to createRun. */
  config: jsonColumn(z.unknown()),
  seed: z.number().int().nullable(),
  /** Tensor backend name, e.g. 'wasm'. */
  backend: z.string().nullable(),
  /** Versions of the app, tfjs, node types… for provenance. */
  versions: jsonColumn(JsonObject),
  created: z.string(),
  started: z.string().nullable(),
  finished: z.string().nullable(),
  duration_s: z.number().nullable(),
  error: z.string().nullable(),
  /** Process that ran it; used at open to tell a live run from a crashed one. */
  pid: z.number().int().nullable(),
  /** The sweep this run is a point of, if any. */
  sweep_id: z.string().nullable(),
  /** Its point's index in the sweep. */
  sweep_point: z.number().int().nonnegative().nullable(),
  /** The user's tags (a JSON array of distinct strings). */
  tags: jsonColumn(z.array(z.string())),
  /** The user's notes ('' when none). */
  notes: z.string(),
});
export type RunRecord = z.output<typeof RunRowSchema>;

export const NodeRunRowSchema = rowSchema({
  run_id: z.string(),
  node_id: z.string(),
  /** Node type id, e.g. 'zoo.train'. */
  type: z.string(),
  status: NodeRunStatusSchema,
  started: z.string().nullable(),
  finished: z.string().nullable(),
  /** The executor reused a cached output instead of running the node. */
  cached: z.union([z.literal(0), z.literal(1)]).transform((v) => v === 1),
  error: z.string().nullable(),
  /** Small JSON summary of the node's outputs (shapes, final loss…). */
  summary: nullableJsonColumn(z.unknown()),
});
export type NodeRunRecord = z.output<typeof NodeRunRowSchema>;

export const MetricRowSchema = rowSchema({
  run_id: z.string(),
  node_id: z.string(),
  key: z.string(),
  step: z.number().int(),
  // SQLite stores NaN as NULL; callers get NaN back so a diverged loss stays visible.
  value: z
    .number()
    .nullable()
    .transform((v) => (v === null ? Number.NaN : v)),
});
export type MetricPoint = z.output<typeof MetricRowSchema>;

export const ArtifactRowSchema = rowSchema({
  id: z.string().min(1),
  run_id: z.string(),
  node_id: z.string(),
  /** What the payload is; see the conventions at the top of store/index.ts ('weights', …). */
  kind: z.string().min(1),
  /** Free label inside the node, e.g. the output port or 'sample-3'. */
  name: z.string(),
  /** Relative to the store's data dir, POSIX separators. */
  path: z.string().min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().nonnegative(),
  shape: nullableJsonColumn(Shape),
  meta: nullableJsonColumn(JsonObject),
  created: z.string(),
});
export type ArtifactRecord = z.output<typeof ArtifactRowSchema>;

export const SweepRowSchema = rowSchema({
  id: z.string().min(1),
  pipeline_id: z.string().nullable(),
  name: z.string(),
  /** The sweep spec as given (parsed by SweepSpecSchema where it is used). */
  spec: jsonColumn(z.unknown()),
  /** The base pipeline the points are expanded from. */
  pipeline: jsonColumn(z.unknown()),
  /** Seed of every run of the sweep. */
  seed: z.number().int(),
  /** Number of points. */
  points: z.number().int().nonnegative(),
  status: SweepStatusSchema,
  created: z.string(),
  finished: z.string().nullable(),
  /** Process running it; used at open to tell a live sweep from an interrupted one. */
  pid: z.number().int().nullable(),
});
export type SweepRecord = z.output<typeof SweepRowSchema>;

/** A run of a sweep: its point and status. */
export const SweepRunRowSchema = rowSchema({
  id: z.string(),
  sweep_point: z.number().int().nonnegative(),
  status: RunStatusSchema,
});
export type SweepRunRecord = z.output<typeof SweepRunRowSchema>;

/** A node's recorded run time with the run's pipeline snapshot (for sweep estimates). */
export const NodeTimingRowSchema = rowSchema({
  node_id: z.string(),
  type: z.string(),
  seconds: z.number(),
  config: jsonColumn(z.unknown()),
});
export type NodeTimingRecord = z.output<typeof NodeTimingRowSchema>;

// Single-column and small query results.
export const IdRowSchema = z.object({ id: z.string() });
export const PathRowSchema = z.object({ path: z.string() });
export const CountRowSchema = z.object({ n: z.number().int().nonnegative() });
export const VersionRowSchema = z.object({ version: z.number().int().positive() });
export const RunStateRowSchema = rowSchema({
  id: z.string(),
  status: RunStatusSchema,
  started: z.string().nullable(),
  pid: z.number().int().nullable(),
});
export const NameRowSchema = z.object({ name: z.string() });
export const TagCountRowSchema = z.object({
  tag: z.string(),
  runs: z.number().int().positive(),
});
export const IntegrityRowSchema = z.object({ integrity_check: z.string() });

/** Parse one row, naming the table when it does not fit. */
export function parseRow<T extends z.ZodType>(schema: T, row: unknown, table: string): z.output<T> {
  const r = schema.safeParse(row);
  if (!r.success) {
    throw new Error(`store: malformed row in '${table}': ${formatIssues(r.error).join('; ')}`);
  }
  return r.data;
}
