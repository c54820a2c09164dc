import { parseArgs, type ParseArgsConfig } from 'node:util';
import { InputError } from '../engine/errors.ts';
import { errorMessage } from '../../shared/errors.ts';

/** node:util parseArgs with errors turned into InputError (exit code 2) naming the command. */
export function parseCliArgs<T extends NonNullable<ParseArgsConfig['options']>>(
  command: string,
  argv: string[],
  options: T,
  allowPositionals = true,
) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (err) {
    throw new InputError(errorMessage(err), `d2nwg ${command}`);
  }
}

/** Parse an integer flag, refusing junk with a message that names the flag. */
export function intFlag(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InputError(`--${flag} must be an integer, got '${value}'`);
  return n;
}
