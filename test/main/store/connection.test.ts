import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Connection } from '../../../src/main/store/connection.ts';

let raw: Database.Database | undefined;
afterEach(() => {
  raw?.close();
  raw = undefined;
});

function connection(): { conn: Connection; prepared: string[] } {
  raw = new Database(':memory:');
  raw.exec('CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER)');
  const prepared: string[] = [];
  const db = raw;
  const prepare = db.prepare.bind(db);
  db.prepare = (sql: string) => {
    prepared.push(sql);
    return prepare(sql);
  };
  return { conn: new Connection(db), prepared };
}

const Row = z.object({ id: z.string(), n: z.number().int() });

describe('Connection', () => {
  it('prepares each SQL text once, however often it runs', () => {
    const { conn, prepared } = connection();
    for (let i = 0; i < 5; i++) conn.run('INSERT INTO t (id, n) VALUES (?, ?)', `r${i}`, i);
    for (let i = 0; i < 5; i++) {
      expect(conn.get(Row, 't', 'SELECT * FROM t WHERE id = ?', `r${i}`)).toEqual({
        id: `r${i}`,
        n: i,
      });
    }
    expect(prepared).toEqual([
      'INSERT INTO t (id, n) VALUES (?, ?)',
      'SELECT * FROM t WHERE id = ?',
    ]);
  });

  it('parses every row, naming the table and column of a malformed one', () => {
    const { conn } = connection();
    conn.run("INSERT INTO t (id, n) VALUES ('a', 1), ('b', 'two')");
    expect(() => conn.all(Row, 't', 'SELECT * FROM t ORDER BY id')).toThrow(
      /malformed row in 't': n/,
    );
    expect(conn.get(Row, 't', 'SELECT * FROM t WHERE id = ?', 'missing')).toBeUndefined();
  });

  it('rolls a transaction back when it throws', () => {
    const { conn } = connection();
    expect(() =>
      conn.tx(() => {
        conn.run("INSERT INTO t (id, n) VALUES ('x', 1)");
        throw new Error('stop');
      }),
    ).toThrow('stop');
    expect(conn.all(Row, 't', 'SELECT * FROM t')).toEqual([]);
  });
});
