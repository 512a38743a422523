import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { Kysely, SqliteDialect, sql } from 'kysely';
import type { Config } from '../config.ts';
import type { Database } from './schema.ts';
import { ResilientPostgresDialect } from './postgres-driver.ts';
import { attachSqliteConnection, attachSqliteReader, openSqliteReader, withStatementCache } from './sqlite-statement-cache.ts';
import { createWalSync, type WalSync } from './wal-sync.ts';
import { makeDataDirectory } from '../data-directory.ts';

export type Engine = 'sqlite' | 'postgres';

export interface Store {
  db: Kysely<Database>;
  engine: Engine;
  /** Where the SQLite file lives (null on PostgreSQL); backups and tests use it. */
  sqliteFile: string | null;
  /** SQLite only: the group commit's fsync, off the event loop (wal-sync.ts). */
  walSync?: WalSync;
  /** PostgreSQL only: the pool's connection counts, for metrics. */
  poolUsage?: () => { total: number; idle: number; waiting: number; max: number };
  close(): Promise<void>;
}

export const SQLITE_FILE_NAME = 'external-oauth-apps.sqlite';

interface StoreOptions {
  /** Told about connections lost outside a query (PostgreSQL); the pool replaces them by itself. */
  onConnectionError?: (error: Error) => void;
}

/** The one place that knows which engine is behind the store. */
export function openStore(config: Pick<Config, 'databaseUrl' | 'dataDir' | 'database'>, options: StoreOptions = {}): Store {
  return config.databaseUrl ? openPostgres(config.databaseUrl, config.database, options) : openSqlite(config.dataDir);
}

function openSqlite(dataDir: string): Store {
  makeDataDirectory(dataDir);
  const file = path.join(dataDir, SQLITE_FILE_NAME);
  ownerOnly(file);
  const connection = new SqliteDatabase(file);
  // WAL lets readers run beside the writer; synchronous=FULL makes every acknowledged commit survive
  // power loss; busy_timeout covers a second process (migrate, backup) holding the write lock briefly.
  connection.pragma('journal_mode = WAL');
  connection.pragma('synchronous = FULL');
  connection.pragma('foreign_keys = ON');
  connection.pragma('busy_timeout = 5000');
  const statements = withStatementCache(connection);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: statements }) });
  attachSqliteConnection(db, statements);
  const walSync = createWalSync(connection, file);
  const reader = openSqliteReader(() => {
    const readOnly = new SqliteDatabase(file);
    readOnly.pragma('query_only = ON');
    readOnly.pragma('busy_timeout = 5000');
    // Its reads are single-row lookups by key: 8 MB (better-sqlite3's default is 16) holds every interior
    // page of the indexes they use at a million rows; the leaves they touch are random at any cache size,
    // and the operating system's page cache (outside this process's RSS) keeps them close anyway.
    readOnly.pragma('cache_size = -8000');
    return readOnly;
  });
  attachSqliteReader(db, reader);
  return {
    db,
    engine: 'sqlite',
    sqliteFile: file,
    walSync,
    async close() {
      await walSync.close();
      reader.close();
      await db.destroy();
    },
  };
}

/**
 * The database file is created (or narrowed) to mode 0600 before SQLite opens it, like the data directory
 * and the master key: it holds hashes and sealed secrets. SQLite gives the `-wal` and `-shm` files it
 * creates, now or later, the mode of the database file, so they are 0600 too; ones left by an older
 * version are narrowed here as well.
 */
function ownerOnly(file: string): void {
  fs.closeSync(fs.openSync(file, 'a', 0o600));
  for (const name of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      fs.chmodSync(name, 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}

function openPostgres(url: string, settings: Config['database'], options: StoreOptions): Store {
  const pool = new pg.Pool({
    connectionString: url,
    max: settings.poolMax,
    // Per-connection guards: a runaway statement or a stuck transaction cannot hold a connection forever.
    statement_timeout: settings.statementTimeoutMs || undefined,
    idle_in_transaction_session_timeout: settings.statementTimeoutMs ? settings.statementTimeoutMs * 2 : undefined,
    connectionTimeoutMillis: 10_000,
    keepAlive: true,
  });
  // A connection that dies emits 'error' on its client, and an 'error' event nobody listens to crashes
  // the process. pg-pool listens only while a client is idle (it then drops it and re-emits on the pool,
  // reported here). A client checked out when it dies needs a listener of its own; the statement it was
  // running fails anyway, and the driver discards it (postgres-driver.ts).
  pool.on('error', (error) => options.onConnectionError?.(error));
  pool.on('connect', (client) => client.on('error', () => {}));
  const db = new Kysely<Database>({ dialect: new ResilientPostgresDialect(pool, settings.poolMax) });
  return {
    db,
    engine: 'postgres',
    sqliteFile: null,
    poolUsage: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, max: settings.poolMax }),
    async close() {
      await db.destroy();
    },
  };
}

/** Cheap round trip for readiness checks. */
export async function pingStore(store: Store): Promise<void> {
  await store.db.selectNoFrom(sql<number>`1`.as('one')).execute();
}
