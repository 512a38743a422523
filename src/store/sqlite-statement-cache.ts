import type { Database as BetterSqlite, Statement } from 'better-sqlite3';
import type { SqliteDatabase } from 'kysely';

/**
 * Kysely's SQLite driver prepares every query afresh, and preparing is the largest single cost of a small
 * query on better-sqlite3. The service runs a handful of distinct statements over and over, so the driver
 * is handed this view of the connection, which keeps prepared statements by their SQL text (least recently
 * used dropped beyond `max`). Kysely holds the one connection for a query or a stream at a time, so a
 * cached statement is never used by two queries at once.
 */
export function withStatementCache(connection: BetterSqlite, max = 500): SqliteDatabase {
  const statements = new Map<string, Statement>();
  return {
    close: () => connection.close(),
    prepare(sql: string) {
      let statement = statements.get(sql);
      if (statement) {
        statements.delete(sql);
      } else {
        statement = connection.prepare(sql);
        if (statements.size >= max) statements.delete(statements.keys().next().value!);
      }
      statements.set(sql, statement);
      return statement;
    },
  };
}
