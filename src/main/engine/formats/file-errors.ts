/** File-system failures in words, for messages the user can act on. */
import { errorMessage } from '../../../shared/errors.ts';

const REASONS: Readonly<Record<string, string>> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'the filesystem is read-only',
  ENOTDIR: 'a parent path is not a directory',
  EISDIR: 'a target is a directory',
};

/** The errno code of a thrown value (`'ENOSPC'`…), if it has one. */
export function errnoCode(err: unknown): string | undefined {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : undefined;
}

/** Why a file operation failed: the reason for a known errno code, else the error's message. */
export function fileErrorReason(err: unknown, code = errnoCode(err)): string {
  return (code !== undefined ? REASONS[code] : undefined) ?? errorMessage(err);
}
