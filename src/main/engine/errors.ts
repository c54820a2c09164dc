/**
 * Error types shared by every front door. The CLI maps InputError to exit code 2, everything else
 * to 1; the app shows `message` on the node where it happened. Messages name the file or the
 * stage and say what is wrong, so a user can act on them without a stack trace.
 */

import type { z } from 'zod';
import { formatIssuePath } from '../../shared/issues.ts';

/** Bad input from the user: a corrupt file, wrong shapes, an impossible config. Exit code 2. */
export class InputError extends Error {
  override readonly name = 'InputError';
  constructor(
    message: string,
    /** The file, node or config field at fault, when there is one. */
    readonly where?: string,
  ) {
    super(where ? `${where}: ${message}` : message);
  }
}

/**
 * Parse a stage's config with its schema; the first problem becomes an InputError at
 * "`label` field.path" (e.g. "vae config epochs: Too small…").
 */
export function parseConfig<S extends z.ZodType>(
  schema: S,
  value: unknown,
  label: string,
): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new InputError(issue.message, `${label} ${formatIssuePath(issue.path) || '(root)'}`);
  }
  return r.data;
}

/** Numerical failure during training: NaN or Inf. Names the stage and the step. */
export class NumericError extends Error {
  override readonly name = 'NumericError';
  constructor(
    readonly stage: string,
    readonly step: number,
    detail: string,
  ) {
    super(`${stage}: non-finite value at step ${step}: ${detail}`);
  }
}

/** Work stopped because the caller aborted it (Ctrl-C, the Cancel button). */
export class CancelledError extends Error {
  override readonly name = 'CancelledError';
  constructor(message = 'cancelled') {
    super(message);
  }
}

/** Throw CancelledError if the signal is aborted; call it between batches and epochs. */
export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new CancelledError();
}

/** Throw NumericError if any value of `values` is NaN or ±Inf. */
export function assertFinite(
  values: ArrayLike<number>,
  stage: string,
  step: number,
  what: string,
): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) {
      throw new NumericError(stage, step, `${what}[${i}] = ${v}`);
    }
  }
}

/**
 * The device cannot hold what was asked of it: a tensor larger than the GPU's largest buffer or
 * storage binding. Says the sizes and what to change (a smaller batch, or another backend).
 */
export class DeviceLimitError extends Error {
  override readonly name = 'DeviceLimitError';
  constructor(
    message: string,
    /** Bytes requested. */
    readonly requested: number,
    /** The limit it exceeds, in bytes. */
    readonly limit: number,
  ) {
    super(message);
  }
}
