import { randomBytes } from 'node:crypto';

/** A fresh id like `run_3f9c0a1b2c4d`: short enough to type, unique enough for one machine. */
export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}
