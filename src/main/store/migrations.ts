/**
 * The schema, as an append-only list of migrations. `PRAGMA user_version` holds the number of
 * migrations applied; a build refuses a database whose number is higher than its own list, so an
 * old app never writes into a schema it does not understand. Never edit a shipped migration:
 * append a new one.
 */
import type Database from 'better-sqlite3';

export interface Migration {
  /** 1-based; equals its index + 1 in MIGRATIONS. */
  readonly version: number;
  /** One line for the migrations log table. */
  readonly description: string;
  /** DDL/DML run inside the migration's transaction. */
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'initial schema: pipelines, runs, node_runs, metrics, artifacts',
    sql: `
      CREATE TABLE schema_migrations (
        version     INTEGER PRIMARY KEY,
        description TEXT NOT NULL,
        applied     TEXT NOT NULL
      );

      CREATE TABLE pipelines (
        id      TEXT PRIMARY KEY,
        name    TEXT NOT NULL,
        current TEXT NOT NULL,
        version INTEGER NOT NULL,
        created TEXT NOT NULL,
        updated TEXT NOT NULL
      );

      CREATE TABLE pipeline_versions (
        pipeline_id TEXT NOT NULL REFERENCES pipelines(id) ON DELETE CASCADE,
        version     INTEGER NOT NULL,
        name        TEXT NOT NULL,
        json        TEXT NOT NULL,
        saved       TEXT NOT NULL,
        PRIMARY KEY (pipeline_id, version)
      );

      CREATE TABLE runs (
        id          TEXT PRIMARY KEY,
        pipeline_id TEXT REFERENCES pipelines(id) ON DELETE SET NULL,
        name        TEXT NOT NULL,
        status      TEXT NOT NULL CHECK (status IN
                      ('queued','running','done','failed','cancelled','interrupted')),
        config      TEXT NOT NULL,
        seed        INTEGER,
        backend     TEXT,
        versions    TEXT NOT NULL DEFAULT '{}',
        created     TEXT NOT NULL,
        started     TEXT,
        finished    TEXT,
        duration_s  REAL,
        error       TEXT,
        pid         INTEGER
      );
      CREATE INDEX runs_by_status ON runs(status);
      CREATE INDEX runs_by_pipeline ON runs(pipeline_id);
      CREATE INDEX runs_by_created ON runs(created);

      CREATE TABLE node_runs (
        run_id   TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        node_id  TEXT NOT NULL,
        type     TEXT NOT NULL,
        status   TEXT NOT NULL CHECK (status IN
                   ('queued','running','done','failed','cancelled','skipped','interrupted')),
        started  TEXT,
        finished TEXT,
        cached   INTEGER NOT NULL DEFAULT 0 CHECK (cached IN (0, 1)),
        error    TEXT,
        summary  TEXT,
        PRIMARY KEY (run_id, node_id)
      );

      CREATE TABLE metrics (
        run_id  TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        node_id TEXT NOT NULL,
        key     TEXT NOT NULL,
        step    INTEGER NOT NULL,
        value   REAL,
        PRIMARY KEY (run_id, node_id, key, step)
      );
      CREATE INDEX metrics_by_key ON metrics(key, run_id, step);

      CREATE TABLE artifacts (
        id      TEXT PRIMARY KEY,
        run_id  TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        node_id TEXT NOT NULL,
        kind    TEXT NOT NULL,
        name    TEXT NOT NULL DEFAULT '',
        path    TEXT NOT NULL,
        sha256  TEXT NOT NULL,
        bytes   INTEGER NOT NULL,
        shape   TEXT,
        meta    TEXT,
        created TEXT NOT NULL
      );
      CREATE INDEX artifacts_by_run ON artifacts(run_id, node_id);
      CREATE INDEX artifacts_by_sha ON artifacts(sha256);
    `,
  },
  {
    version: 2,
    description: 'sweeps: groups of runs over points of a config grid or draw',
    sql: `
      CREATE TABLE sweeps (
        id          TEXT PRIMARY KEY,
        pipeline_id TEXT REFERENCES pipelines(id) ON DELETE SET NULL,
        name        TEXT NOT NULL,
        spec        TEXT NOT NULL,
        pipeline    TEXT NOT NULL,
        seed        INTEGER NOT NULL,
        points      INTEGER NOT NULL,
        status      TEXT NOT NULL CHECK (status IN
                      ('queued','running','done','failed','cancelled','interrupted')),
        created     TEXT NOT NULL,
        finished    TEXT,
        pid         INTEGER
      );
      CREATE INDEX sweeps_by_created ON sweeps(created);

      ALTER TABLE runs ADD COLUMN sweep_id TEXT REFERENCES sweeps(id) ON DELETE SET NULL;
      ALTER TABLE runs ADD COLUMN sweep_point INTEGER;
      CREATE INDEX runs_by_sweep ON runs(sweep_id, sweep_point);
    `,
  },
  {
    version: 3,
    description: 'runs: tags and notes (the runs table); name stays, now user-editable',
    sql: `
      ALTER TABLE runs ADD COLUMN tags  TEXT NOT NULL DEFAULT '[]';
      ALTER TABLE runs ADD COLUMN notes TEXT NOT NULL DEFAULT '';
    `,
  },
];

/** The schema version this build writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Bring `db` from `from` up to SCHEMA_VERSION, one transaction per migration so that a crash
 * mid-upgrade leaves the database at the last complete version.
 */
export function migrate(db: Database.Database, from: number): void {
  for (const m of MIGRATIONS) {
    if (m.version <= from) continue;
    db.transaction(() => {
      // Another process may have applied it since `from` was read; the write lock settles it.
      if (Number(db.pragma('user_version', { simple: true })) >= m.version) return;
      db.exec(m.sql);
      db.prepare(
        'INSERT INTO schema_migrations (version, description, applied) VALUES (?, ?, ?)',
      ).run(m.version, m.description, new Date().toISOString());
      db.pragma(`user_version = ${m.version}`);
    }).immediate();
  }
}
