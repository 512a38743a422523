import type { Database as BetterSqlite, Statement } from 'better-sqlite3';
import type { SqliteDatabase } from 'kysely';

/**
 * Kysely's SQLite driver prepares every query afresh, and preparing is the largest single cost of a small
 * query on better-sqlite3. The service runs a handful of distinct statements over and over, so the driver
 * is handed this view of the connection, which keeps prepared statements by their SQL text (least recently
 * used dropped beyond `max`). Kysely holds the one connection for a query or a stream at a time, and the
 * group commit runs its raw statements (`sqliteTransaction` below) only while it holds it, so a cached
 * statement is never used by two queries at once.
 */
export function withStatementCache(connection: BetterSqlite, max = 500): SqliteDatabase & SqliteStatements {
  const statements = new Map<string, Statement>();
  return {
    close: () => connection.close(),
    prepare(sql: string): Statement {
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

/** Prepared statements of one SQLite connection, by their SQL text. */
interface SqliteStatements {
  prepare(sql: string): Statement;
}

const connections = new WeakMap<object, SqliteStatements>();

/** Ties the store's one write connection (its statement cache) to the store's Kysely handle, for the group commit. */
export function attachSqliteConnection(db: object, statements: SqliteStatements): void {
  connections.set(db, statements);
}

/** The write connection behind a SQLite store's handle; null on PostgreSQL. */
export function sqliteConnection(db: object): SqliteStatements | null {
  return connections.get(db) ?? null;
}

const transactions = new WeakMap<object, SqliteStatements>();

/**
 * The group commit's transaction, run raw. While the batcher holds the write connection inside a
 * transaction (store/write-batcher.ts), no other query can use that connection, so a statement of the
 * batch may skip Kysely's per-query work (its connection mutex, the promises around each statement) and
 * run on the connection directly, synchronously, inside the same transaction. Enlisted after BEGIN and
 * dismissed before COMMIT: a handle that is not an open batch transaction is never run raw this way.
 */
export function enlistSqliteTransaction(tx: object, statements: SqliteStatements): void {
  transactions.set(tx, statements);
}

export function dismissSqliteTransaction(tx: object): void {
  transactions.delete(tx);
}

/** The raw statements of `tx` when it is the group commit's open transaction on SQLite; otherwise null. */
export function sqliteTransaction(tx: object): SqliteStatements | null {
  return transactions.get(tx) ?? null;
}

/**
 * Raw reads for the hottest paths (the filtered applications list, the token read) on SQLite: the SQL is
 * written once and prepared once, and a read is one synchronous call to better-sqlite3, skipping the query
 * builder's per-call work (compiling, the driver's connection mutex, result plumbing).
 *
 * They run on a second connection that only reads (`query_only`). In WAL mode it sees every committed
 * transaction and nothing uncommitted, and it does not wait while the group commit holds the main
 * connection in a transaction (store/write-batcher.ts), which a read through Kysely must.
 */
interface SqliteReader {
  all<R>(sql: string, ...parameters: unknown[]): R[];
  close(): void;
}

export function openSqliteReader(open: () => BetterSqlite): SqliteReader {
  let connection: BetterSqlite | null = null;
  const statements = new Map<string, Statement>();
  const statement = (sql: string) => {
    let prepared = statements.get(sql);
    if (!prepared) {
      // Opened and prepared on first use, after migrations have run on the main connection.
      connection ??= open();
      prepared = connection.prepare(sql);
      statements.set(sql, prepared);
    }
    return prepared;
  };
  return {
    all: <R>(sql: string, ...parameters: unknown[]) => statement(sql).all(...parameters) as R[],
    close() {
      connection?.close();
      connection = null;
      statements.clear();
    },
  };
}

const readers = new WeakMap<object, SqliteReader>();

/** Ties a reader to the store's Kysely handle, so repositories built on that handle find it. */
export function attachSqliteReader(db: object, reader: SqliteReader): void {
  readers.set(db, reader);
}

/** The raw reader of a SQLite store's handle; null on PostgreSQL, and for a transaction (it reads through its own connection). */
export function sqliteReader(db: object): SqliteReader | null {
  return readers.get(db) ?? null;
}
