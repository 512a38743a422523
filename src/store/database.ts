import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import type { Config } from '../config.ts';
import type { Database } from './schema.ts';

export type Engine = 'sqlite' | 'postgres';

export interface Store {
  db: Kysely<Database>;
  engine: Engine;
  /** Where the SQLite file lives (null on PostgreSQL); backups and tests use it. */
  sqliteFile: string | null;
  close(): Promise<void>;
}

export const SQLITE_FILE_NAME = 'external-oauth-apps.sqlite';

/** The one place that knows which engine is behind the store. */
export function openStore(config: Pick<Config, 'databaseUrl' | 'dataDir' | 'database'>): Store {
  return config.databaseUrl ? openPostgres(config.databaseUrl, config.database) : openSqlite(config.dataDir);
}

function openSqlite(dataDir: string): Store {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(dataDir, SQLITE_FILE_NAME);
  const connection = new SqliteDatabase(file);
  // WAL lets readers run beside the writer; synchronous=FULL makes every acknowledged commit survive
  // power loss; busy_timeout covers a second process (migrate, backup) holding the write lock briefly.
  connection.pragma('journal_mode = WAL');
  connection.pragma('synchronous = FULL');
  connection.pragma('foreign_keys = ON');
  connection.pragma('busy_timeout = 5000');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: connection }) });
  return {
    db,
    engine: 'sqlite',
    sqliteFile: file,
    async close() {
      await db.destroy();
    },
  };
}

function openPostgres(url: string, options: Config['database']): Store {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolMax,
    // Per-connection guards: a runaway statement or a stuck transaction cannot hold a connection forever.
    statement_timeout: options.statementTimeoutMs || undefined,
    idle_in_transaction_session_timeout: options.statementTimeoutMs ? options.statementTimeoutMs * 2 : undefined,
    connectionTimeoutMillis: 10_000,
    keepAlive: true,
  });
  // A connection that dies while idle in the pool emits 'error' on the pool; without a listener that
  // would crash the process. The pool drops it and the next query opens a new one.
  pool.on('error', () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    engine: 'postgres',
    sqliteFile: null,
    async close() {
      await db.destroy();
    },
  };
}

/** Cheap round trip for readiness checks. */
export async function pingStore(store: Store): Promise<void> {
  await sql`select 1`.execute(store.db);
}
