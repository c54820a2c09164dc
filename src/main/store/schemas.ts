/**
 * zod schemas for every row the store reads back. SQLite is typeless at the edges (a column can
 * hold anything another build or a hand edit put there), so rows are parsed before they reach
 * callers, and a bad row fails loudly with the table and the field named.
 */
import { z } from 'zod';
import { formatIssues } from '../../shared/issues.ts';

/** Lifecycle of a run. `interrupted` is set at the next open when the owning process died. */
export const RUN_STATUSES = [
  'queued',
  'running',
  'done',
  'failed',
  'cancelled',
  'interrupted',
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const RunStatusSchema = z.enum(RUN_STATUSES);

/** Lifecycle of one node inside a run; `skipped` = downstream of a failure. */
export const NODE_RUN_STATUSES = [
  'queued',
  'running',
  'done',
  'failed',
  'cancelled',
  'skipped',
  'interrupted',
] as const;
export type NodeRunStatus = (typeof NODE_RUN_STATUSES)[number];
export const NodeRunStatusSchema = z.enum(NODE_RUN_STATUSES);

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

export const PipelineRowSchema = z.object({
  id: z.string().min(1),
  name: z.string(),
  current: jsonColumn(z.unknown()),
  version: z.number().int().positive(),
  created: z.string(),
  updated: z.string(),
});
export type PipelineRecord = z.output<typeof PipelineRowSchema>;

export const PipelineSummaryRowSchema = PipelineRowSchema.omit({ current: true });
export type PipelineSummary = z.output<typeof PipelineSummaryRowSchema>;

export const PipelineVersionRowSchema = z.object({
  pipeline_id: z.string(),
  version: z.number().int().positive(),
  name: z.string(),
  json: jsonColumn(z.unknown()),
  saved: z.string(),
});
export type PipelineVersionRow = z.output<typeof PipelineVersionRowSchema>;

export const RunRowSchema = z.object({
  id: z.string().min(1),
  pipeline_id: z.string().nullable(),
  name: z.string(),
  status: RunStatusSchema,
  config: jsonColumn(z.unknown()),
  seed: z.number().int().nullable(),
  backend: z.string().nullable(),
  versions: jsonColumn(JsonObject),
  created: z.string(),
  started: z.string().nullable(),
  finished: z.string().nullable(),
  duration_s: z.number().nullable(),
  error: z.string().nullable(),
  pid: z.number().int().nullable(),
});
export type RunRow = z.output<typeof RunRowSchema>;

export const NodeRunRowSchema = z.object({
  run_id: z.string(),
  node_id: z.string(),
  type: z.string(),
  status: NodeRunStatusSchema,
  started: z.string().nullable(),
  finished: z.string().nullable(),
  cached: z.union([z.literal(0), z.literal(1)]).transform((v) => v === 1),
  error: z.string().nullable(),
  summary: nullableJsonColumn(z.unknown()),
});
export type NodeRunRow = z.output<typeof NodeRunRowSchema>;

export const MetricRowSchema = z.object({
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
export type MetricRow = z.output<typeof MetricRowSchema>;

export const ArtifactRowSchema = z.object({
  id: z.string().min(1),
  run_id: z.string(),
  node_id: z.string(),
  kind: z.string().min(1),
  name: z.string(),
  path: z.string().min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().nonnegative(),
  shape: nullableJsonColumn(Shape),
  meta: nullableJsonColumn(JsonObject),
  created: z.string(),
});
export type ArtifactRow = z.output<typeof ArtifactRowSchema>;

/** Parse one row, naming the table when it does not fit. */
export function parseRow<T extends z.ZodType>(schema: T, row: unknown, table: string): z.output<T> {
  const r = schema.safeParse(row);
  if (!r.success) {
    throw new Error(`store: malformed row in '${table}': ${formatIssues(r.error).join('; ')}`);
  }
  return r.data;
}
