/**
 * The store's one better-sqlite3 connection: a prepared-statement cache (each SQL text is
 * prepared once per connection, not on every call), immediate transactions, and reads that go
 * through a zod schema so no raw row reaches a caller.
 */
import type Database from 'better-sqlite3';
import type { z } from 'zod';
import { InputError } from '../engine/errors.ts';
import { parseRow } from './schemas.ts';

/** What a statement parameter may be. */
export type SqlValue = string | number | bigint | Buffer | null;

type Statement = Database.Statement<SqlValue[]>;

export class Connection {
  private readonly statements = new Map<string, Statement>();

  constructor(private readonly db: Database.Database) {}

  /** The prepared statement for `sql`, prepared on first use. */
  statement(sql: string): Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare<SqlValue[]>(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  /** Run a writing statement; returns the number of rows it changed. */
  run(sql: string, ...params: SqlValue[]): number {
    return this.statement(sql).run(...params).changes;
  }

  /** The first row, parsed by `schema` (`table` names it in errors), or undefined. */
  get<S extends z.ZodType>(
    schema: S,
    table: string,
    sql: string,
    ...params: SqlValue[]
  ): z.output<S> | undefined {
    const row = this.statement(sql).get(...params);
    return row === undefined ? undefined : parseRow(schema, row, table);
  }

  /** Every row, each parsed by `schema`. */
  all<S extends z.ZodType>(
    schema: S,
    table: string,
    sql: string,
    ...params: SqlValue[]
  ): z.output<S>[] {
    return this.statement(sql)
      .all(...params)
      .map((row) => parseRow(schema, row, table));
  }

  /**
   * Run `fn` as one transaction, BEGIN IMMEDIATE: a second process waits on busy_timeout for the
   * write lock instead of failing half-way.
   */
  tx<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  /** A PRAGMA's rows. */
  pragma(source: string): unknown {
    return this.db.pragma(source);
  }

  /** A PRAGMA's single value. */
  pragmaValue(source: string): unknown {
    return this.db.pragma(source, { simple: true });
  }

  /** Close the connection (checkpoints the WAL); idempotent. */
  close(): void {
    this.statements.clear();
    if (this.db.open) this.db.close();
  }
}

/** A timestamp as callers give it: a Date, epoch milliseconds, or now when omitted. */
export type When = Date | number | undefined;

/** ISO text of a timestamp. */
export function iso(at: When): string {
  if (at === undefined) return new Date().toISOString();
  return (typeof at === 'number' ? new Date(at) : at).toISOString();
}

/** JSON text of a value for a JSON column; refuses what JSON cannot hold. */
export function toJson(value: unknown, what: string): string {
  const text = JSON.stringify(value ?? null);
  if (text === undefined) throw new InputError(`${what} is not JSON-serialisable`);
  return text;
}

/** Escape `\`, `%` and `_` for a LIKE pattern with ESCAPE '\'. */
export function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}
