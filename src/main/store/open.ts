/**
 * Opening the database safely. Before anything can write, the file is probed: a file that is not
 * SQLite, a SQLite file that is not ours, or a schema newer than this build is refused with a
 * message the user can act on, and the file is left byte-for-byte as it was.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { InputError } from '../engine/errors.ts';
import { errnoCode } from '../engine/formats/file-errors.ts';
import { SCHEMA_VERSION, migrate } from './migrations.ts';
import { NameRowSchema, parseRow } from './schemas.ts';
import { processAlive } from './liveness.ts';
import { Store } from './store.ts';

/** Why a database file was refused. */
export type StoreRefusal = 'not-sqlite' | 'foreign-sqlite' | 'newer-schema' | 'not-a-file';

/** The database file cannot be used; nothing was written to it. CLI exit code 2. */
export class StoreOpenError extends InputError {
  constructor(
    readonly reason: StoreRefusal,
    message: string,
  ) {
    super(message);
  }
}

export interface OpenStoreOptions {
  /** Folder for artifact blobs (`<dataDir>/blobs/…`); default: the database file's folder. */
  readonly dataDir?: string;
  /** How long a write waits for another process's lock before failing, ms (default 5000). */
  readonly busyTimeoutMs?: number;
  /** Liveness test for the owners of `running` runs; tests replace it. Default: process.kill(pid, 0). */
  readonly isProcessAlive?: (pid: number) => boolean;
}

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

/** Default database path: `$XDG_DATA_HOME/d2nwg-studio/studio.db`, else `~/.local/share/…`. */
export function defaultDbPath(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_DATA_HOME;
  const base =
    xdg && path.isAbsolute(xdg) ? xdg : path.join(env.HOME || os.homedir(), '.local', 'share');
  return path.join(base, 'd2nwg-studio', 'studio.db');
}

function notSqlite(file: string): StoreOpenError {
  return new StoreOpenError('not-sqlite', `${file} is not a D2NWG Studio database (not SQLite)`);
}

function isNotADb(err: unknown): boolean {
  const code = errnoCode(err);
  return code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT';
}

interface Probe {
  readonly version: number;
  readonly foreignTables: readonly string[];
}

function inspect(db: Database.Database, file: string): Probe {
  try {
    const version = Number(db.pragma('user_version', { simple: true }));
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
      .all()
      .map((r) => parseRow(NameRowSchema, r, 'sqlite_master').name);
    return { version, foreignTables: version === 0 ? tables : [] };
  } catch (err) {
    if (isNotADb(err)) throw notSqlite(file);
    throw err;
  }
}

/** Refuse what this build must not write into; nothing has been written when this throws. */
function refuse(file: string, p: Probe): void {
  if (p.version > SCHEMA_VERSION) {
    throw new StoreOpenError(
      'newer-schema',
      `${file} was created by a newer D2NWG Studio (schema ${p.version} > ${SCHEMA_VERSION}); upgrade the app`,
    );
  }
  if (p.foreignTables.length > 0) {
    throw new StoreOpenError(
      'foreign-sqlite',
      `${file} is a SQLite database but not a D2NWG Studio one (it has tables ${p.foreignTables
        .slice(0, 5)
        .join(', ')})`,
    );
  }
}

/**
 * Read-only look at an existing file, so that even closing the connection cannot touch it.
 * Returns null when SQLite cannot open it read-only (e.g. a WAL file without its -shm); the same
 * checks then run on the read-write connection before anything is written.
 */
function probeReadOnly(file: string): Probe | null {
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (err) {
    if (isNotADb(err)) throw notSqlite(file);
    return null;
  }
  try {
    return inspect(db, file);
  } finally {
    db.close();
  }
}

/**
 * Open (creating if needed) the experiment store at `file`, migrate it to this build's schema,
 * and mark runs whose process died as `interrupted`.
 */
export function openStore(file: string, opts: OpenStoreOptions = {}): Store {
  const abs = path.resolve(file);
  let stat: fs.Stats | null = null;
  try {
    stat = fs.statSync(abs);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
  if (stat && !stat.isFile()) {
    throw new StoreOpenError('not-a-file', `${abs} is not a D2NWG Studio database (not a file)`);
  }
  if (stat && stat.size > 0) {
    const head = Buffer.alloc(SQLITE_MAGIC.length);
    const fd = fs.openSync(abs, 'r');
    try {
      fs.readSync(fd, head, 0, head.length, 0);
    } finally {
      fs.closeSync(fd);
    }
    if (stat.size < 100 || !head.equals(SQLITE_MAGIC)) throw notSqlite(abs);
    const p = probeReadOnly(abs);
    if (p) refuse(abs, p);
  } else {
    fs.mkdirSync(path.dirname(abs), { recursive: true });
  }

  const busy = opts.busyTimeoutMs ?? 5000;
  const db = new Database(abs, { timeout: busy });
  try {
    // Checked again on this connection, before the first write: another process may have
    // migrated since the probe, or the probe could not run.
    const p = inspect(db, abs);
    refuse(abs, p);
    const version = p.version;
    db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(busy))}`);
    migrate(db, version);
    const dataDir = path.resolve(opts.dataDir ?? path.dirname(abs));
    return new Store(db, abs, dataDir, opts.isProcessAlive ?? processAlive);
  } catch (err) {
    db.close();
    if (isNotADb(err)) throw notSqlite(abs);
    throw err;
  }
}
