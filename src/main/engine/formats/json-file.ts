/**
 * Reading JSON files that come from the user or from disk: every failure (unreadable, missing,
 * malformed, not matching its schema) is an InputError that names the file and never quotes its
 * content.
 */
import fsp from 'node:fs/promises';
import type { z } from 'zod';
import { errorMessage } from '../../../shared/errors.ts';
import { formatIssue } from '../../../shared/issues.ts';
import { InputError } from '../errors.ts';
import { errnoCode } from './file-errors.ts';

export interface ReadJsonOptions {
  /** What the file is, in "cannot read <what>: …" (e.g. 'pipeline file'); omitted by default. */
  readonly what?: string;
  /** The message when the file does not exist, instead of the system's. */
  readonly missing?: string;
  /** How malformed JSON is called in the message; default 'not valid JSON'. */
  readonly invalid?: string;
}

/**
 * JSON.parse's reason without the excerpt of the text that V8 quotes in some messages
 * (`Unexpected token 'o', "<the text>" is not valid JSON`): the file may hold anything, and its
 * content stays out of errors and logs.
 */
function syntaxReason(err: unknown): string {
  return errorMessage(err).replace(/, ".*" is not valid JSON$/s, '');
}

/** Parse JSON text read from `file`; malformed text is an InputError naming the file. */
export function parseJsonText(text: string, file: string, invalid = 'not valid JSON'): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new InputError(`${invalid}: ${syntaxReason(err)}`, file);
  }
}

/** Read and parse a JSON file; unreadable or malformed files are InputErrors naming it. */
export async function readJson(file: string, opts: ReadJsonOptions = {}): Promise<unknown> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    if (opts.missing !== undefined && errnoCode(err) === 'ENOENT') {
      throw new InputError(opts.missing, file);
    }
    const what = opts.what ? ` ${opts.what}` : '';
    throw new InputError(`cannot read${what}: ${errorMessage(err)}`, file);
  }
  return parseJsonText(text, file, opts.invalid);
}

/** Read a JSON file and validate it with `schema`; the first problem names the field. */
export async function readJsonFile<S extends z.ZodType>(
  file: string,
  schema: S,
  opts: ReadJsonOptions = {},
): Promise<z.output<S>> {
  const parsed = schema.safeParse(await readJson(file, opts));
  if (!parsed.success) {
    throw new InputError(`field ${formatIssue(parsed.error.issues[0])}`, file);
  }
  return parsed.data;
}
