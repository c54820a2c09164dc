/**
 * One path policy for every file path that enters through the API (web mode and Electron IPC
 * alike): export folders, dataset sources, zoo imports. A path is resolved against the data dir,
 * symlinks are followed with realpath (for a path that does not exist yet, the realpath of its
 * deepest existing ancestor), and the result must lie under the data dir or under a root the
 * user allowed (`d2nwg serve --allow-read DIR`, a folder picked in a desktop file dialog).
 * Comparing path text alone let `data/link/x` (link → outside) and `/abs` through.
 *
 * The CLI is the user on their own machine: it passes the unrestricted policy. The policy crosses
 * to the engine host worker as plain data (PathPolicySpec), so nodes check at run time too.
 */
import { readdir, realpath } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { InputError } from '../engine/errors.ts';

/** A path the policy refuses. Never says whether an outside path exists. */
export class PathDeniedError extends Error {
  override readonly name = 'PathDenied';
}

/** The policy as plain data, for structured clone into worker threads. */
export type PathPolicySpec =
  | {
      readonly kind: 'unrestricted';
      /** Relative paths are resolved against this folder. */
      readonly dataDir: string;
    }
  | {
      readonly kind: 'confined';
      /** Readable and writable (strictly inside: the data dir itself is not an export folder). */
      readonly dataDir: string;
      /** Extra folders that may be read (`--allow-read`). */
      readonly readRoots: readonly string[];
      /** Extra folders that may be read and written (desktop file dialogs). */
      readonly writeRoots: readonly string[];
    }
  | {
      /** No file may be read or written (a sweep point run on a queue worker). */
      readonly kind: 'none';
      readonly dataDir: string;
      /** Why, ending the error every path gets. */
      readonly reason: string;
      /** Folders that may still be read (a queue worker's cache of the files a job carried). */
      readonly readRoots?: readonly string[];
    };

/** What file access through the API may touch. */
export interface PathPolicy {
  /** The policy as data, to hand to the engine host. */
  readonly spec: PathPolicySpec;
  /**
   * Resolve `path` (relative: inside the data dir) for reading, symlinks followed. Returns the
   * real absolute path; throws PathDeniedError naming `what`, the path and the rule.
   */
  checkRead(path: string, what: string): Promise<string>;
  /** The same for a file or folder about to be written (it need not exist yet). */
  checkWrite(path: string, what: string): Promise<string>;
  /**
   * Allow reading (and with 'write', writing) under `root`: a folder the user picked in a
   * desktop file dialog. A no-op for the unrestricted policy.
   */
  allow(root: string, access: 'read' | 'write'): void;
}

/**
 * realpath of `p`, or for a path that does not exist (yet), the realpath of its deepest existing
 * ancestor joined with the rest.
 */
export async function realpathDeep(p: string): Promise<string> {
  const rest: string[] = [];
  let cur = p;
  for (;;) {
    try {
      const real = await realpath(cur);
      return rest.length ? join(real, ...rest.reverse()) : real;
    } catch {
      const parent = dirname(cur);
      if (parent === cur) return p;
      rest.push(basename(cur));
      cur = parent;
    }
  }
}

/** True when `p` is `root` or lies under it (by path segments: `..x` inside root is inside). */
export function isWithin(root: string, p: string, strictly = false): boolean {
  const rel = relative(root, p);
  if (rel === '') return !strictly;
  return rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

/** The policy the CLI uses: every path is allowed; relative ones resolve inside the data dir. */
export function unrestrictedPolicy(dataDir: string): PathPolicy {
  const spec: PathPolicySpec = { kind: 'unrestricted', dataDir: resolve(dataDir) };
  const at = async (p: string) => resolve(spec.dataDir, p);
  return { spec, checkRead: at, checkWrite: at, allow: () => undefined };
}

/**
 * A policy that refuses every path with an InputError ending in `reason`: where files cannot be
 * had (a queue worker on another machine), a node that needs one fails with a clear message.
 */
export function noFilesPolicy(
  dataDir: string,
  reason: string,
  readRoots: readonly string[] = [],
): PathPolicy {
  const roots = readRoots.map((r) => resolve(r));
  const spec: PathPolicySpec = {
    kind: 'none',
    dataDir: resolve(dataDir),
    reason,
    ...(roots.length > 0 ? { readRoots: roots } : {}),
  };
  const refuse = (p: string, what: string): Promise<string> =>
    Promise.reject(new InputError(`${what} \`${p}\`: ${reason}`));
  const checkRead = async (p: string, what: string): Promise<string> => {
    if (isAbsolute(p)) {
      const real = await realpathDeep(p);
      for (const r of roots) if (isWithin(await realpathDeep(r), real)) return real;
    }
    return refuse(p, what);
  };
  return { spec, checkRead, checkWrite: refuse, allow: () => undefined };
}

/** Paths under the data dir and the allowed roots only. */
export function confinedPolicy(args: {
  readonly dataDir: string;
  readonly readRoots?: readonly string[];
  readonly writeRoots?: readonly string[];
}): PathPolicy {
  const dataDir = resolve(args.dataDir);
  const readRoots = (args.readRoots ?? []).map((r) => resolve(r));
  const writeRoots = (args.writeRoots ?? []).map((r) => resolve(r));
  const rules = () =>
    [
      `data dir ${dataDir}`,
      ...readRoots.map((r) => `--allow-read ${r}`),
      ...writeRoots.map((r) => `allowed folder ${r}`),
    ].join(', ');
  const check = async (p: string, what: string, write: boolean) => {
    const real = await realpathDeep(resolve(dataDir, p));
    const data = await realpathDeep(dataDir);
    if (isWithin(data, real, write)) return real;
    const roots = write ? writeRoots : [...readRoots, ...writeRoots];
    for (const r of roots) if (isWithin(await realpathDeep(r), real)) return real;
    if (write && isWithin(data, real)) {
      throw new PathDeniedError(
        `${what} \`${p}\` is the data dir itself; choose a folder inside it (e.g. exports/name)`,
      );
    }
    const allowed = write
      ? [`data dir ${dataDir}`, ...writeRoots.map((r) => `allowed folder ${r}`)].join(', ')
      : rules();
    throw new PathDeniedError(
      `${what} \`${p}\` is outside the allowed folders (${allowed}); symlinks are followed`,
    );
  };
  const policy: PathPolicy = {
    get spec(): PathPolicySpec {
      return { kind: 'confined', dataDir, readRoots: [...readRoots], writeRoots: [...writeRoots] };
    },
    checkRead: (p, what) => check(p, what, false),
    checkWrite: (p, what) => check(p, what, true),
    allow(root, access) {
      const abs = resolve(root);
      const list = access === 'write' ? writeRoots : readRoots;
      if (!list.includes(abs)) list.push(abs);
    },
  };
  return policy;
}

/**
 * Check every entry directly inside the folder `dir` (already checked): loaders read the files a
 * manifest names there (zoo.json, shards, IDX files), and one may be a symlink leading out. A
 * folder that cannot be listed is left to the loader to report.
 */
export async function checkFolderEntries(
  policy: PathPolicy,
  dir: string,
  what: string,
): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  for (const name of names) await policy.checkRead(join(dir, name), what);
}

/** Rebuild a policy from its spec (in the engine host worker). */
export function policyFromSpec(spec: PathPolicySpec): PathPolicy {
  switch (spec.kind) {
    case 'unrestricted':
      return unrestrictedPolicy(spec.dataDir);
    case 'none':
      return noFilesPolicy(spec.dataDir, spec.reason, spec.readRoots);
    case 'confined':
      return confinedPolicy(spec);
  }
}
