/**
 * The one vocabulary of run and node states and artifact shapes. The executor, the engine host,
 * the store, the API contract and the renderer all import these; where two layers genuinely see
 * different things (a stored lifecycle versus what the canvas colours), both are named here and
 * the conversion lives in one place (api/store-adapter.ts).
 */
import { z } from 'zod';
import type { JsonValue } from './events.ts';
import { strictObject } from './issues.ts';

/** How a run ended: the executor's result and the last event's status. */
export const RUN_OUTCOMES = ['done', 'failed', 'cancelled'] as const;
export type RunOutcome = (typeof RUN_OUTCOMES)[number];

/**
 * Lifecycle of a run as stored and listed: queued, running, then an outcome; `interrupted` is set
 * at the next open of the store when the process that ran it died.
 */
export const RUN_STATUSES = ['queued', 'running', ...RUN_OUTCOMES, 'interrupted'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const RunStatusSchema = z.enum(RUN_STATUSES);

/** What happened to one node in a finished run (`cached`: its outputs were reused). */
export const NODE_OUTCOMES = ['done', 'cached', 'failed', 'skipped', 'cancelled'] as const;
export type NodeOutcome = (typeof NODE_OUTCOMES)[number];

/** A node in the executor's result: an outcome, or `pending` when the run never reached it. */
export type NodeResultStatus = NodeOutcome | 'pending';

/**
 * Lifecycle of one node inside a run as stored; `skipped` = downstream of a failure,
 * `interrupted` = the owning process died. A cache hit is `done` with the row's `cached` flag.
 */
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

/**
 * A node's state as the UI shows it (run details over IPC, the canvas): a failure is `error`, a
 * cache hit is `cached`, and a node that did not get to finish is `skipped`.
 */
export const NODE_STATES = ['queued', 'running', 'cached', 'done', 'error', 'skipped'] as const;
export type NodeState = (typeof NODE_STATES)[number];

/** A file a node wrote, as it announces it (the store records it). */
export interface WrittenArtifact {
  /** What it is: 'weights-safetensors', 'weights-tfjs', 'weights-npy', 'manifest', 'zoo'… */
  readonly kind: string;
  /** Absolute path of the file or folder. */
  readonly path: string;
  /** Size in bytes, when a single file. */
  readonly bytes?: number;
  /** Hex sha256 of the file, when a single file. */
  readonly sha256?: string;
  /** Tensor shape, when the artifact is one tensor. */
  readonly shape?: readonly number[];
  /** What a reader needs besides the bytes (architecture, layout, dataset, metrics…). */
  readonly meta?: { readonly [key: string]: JsonValue };
}

/** An artifact the store holds, as the API lists it (weights, zoo shard, …). */
export interface StoredArtifact {
  readonly id: string;
  readonly nodeId: string;
  readonly kind: string;
  /** Absolute path of its blob file. */
  readonly path: string;
  readonly bytes: number;
}

/* What a user writes about a run: its name, tags and notes (the runs table, the CLI). */

/** Longest run name. */
export const RUN_NAME_MAX = 120;
/** Longest tag, and most tags on one run. */
export const RUN_TAG_MAX = 40;
export const RUN_TAGS_MAX = 20;
/** Longest note. */
export const RUN_NOTES_MAX = 4000;

/** Control characters (tab, newline…) would break one-line cells and the CLI's tables. */
function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** A run's name: trimmed, 1–120 characters on one line. */
export const RunNameSchema = z
  .string()
  .trim()
  .min(1, 'a run name cannot be empty')
  .max(RUN_NAME_MAX, `a run name is at most ${RUN_NAME_MAX} characters`)
  .refine((s) => !hasControl(s), 'a run name must be one line without control characters');

/** A tag: letters, digits and `_ - . : / +`, no spaces, 1–40 characters. */
export const RunTagSchema = z
  .string()
  .trim()
  .min(1, 'a tag cannot be empty')
  .max(RUN_TAG_MAX, `a tag is at most ${RUN_TAG_MAX} characters`)
  .regex(/^[\p{L}\p{N}_.:/+-]+$/u, 'a tag may only hold letters, digits and _ - . : / +');

/** Tags as typed (the CLI's --tags, the table's tag input): split on commas and blanks. */
export function splitTags(text: string): string[] {
  return text.split(/[,\s]+/).filter((t) => t !== '');
}

/** A run's tags: distinct (kept in the order given), at most 20. */
export const RunTagsSchema = z
  .array(RunTagSchema)
  .max(RUN_TAGS_MAX, `a run takes at most ${RUN_TAGS_MAX} tags`)
  .transform((tags) => [...new Set(tags)]);

/** Free-form notes, at most 4,000 characters (newlines allowed). */
export const RunNotesSchema = z
  .string()
  .max(RUN_NOTES_MAX, `notes are at most ${RUN_NOTES_MAX} characters`);

/** The fields of a change to what a user wrote about a run; each optional. */
export const runAnnotationShape = {
  name: RunNameSchema.optional(),
  tags: RunTagsSchema.optional(),
  notes: RunNotesSchema.optional(),
};

/** A change must touch something: refine message and predicate shared by every schema of it. */
export const hasAnnotation = [
  (a: { name?: unknown; tags?: unknown; notes?: unknown }) =>
    a.name !== undefined || a.tags !== undefined || a.notes !== undefined,
  {
    message: 'give at least one of name, tags, notes',
    // Only said when nothing else is wrong: an unknown key (a typo of one) says more.
    when: (payload: { issues: readonly unknown[] }) => payload.issues.length === 0,
  },
] as const;

/** A change to what a user wrote about a run; fields left out keep their value. */
export const RunAnnotationSchema = strictObject(runAnnotationShape).refine(...hasAnnotation);
export type RunAnnotation = z.input<typeof RunAnnotationSchema>;
