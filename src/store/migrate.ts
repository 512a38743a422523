import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import type { Store } from './database.ts';
import type { Database } from './schema.ts';
import { initialMigration } from './migrations/001-initial.ts';
import { oauthProvidersMigration } from './migrations/002-oauth-providers.ts';
import { oauthTokenStateMigration } from './migrations/003-oauth-token-state.ts';
import { auditEventsMigration } from './migrations/004-audit-events.ts';
import { userStatesByApplicationMigration } from './migrations/005-user-states-by-application.ts';

/** Migrations in order; names sort, and a name once released never changes. */
function migrationsFor(store: Store): Record<string, Migration> {
  return {
    '001-initial': initialMigration(store.engine),
    '002-oauth-providers': oauthProvidersMigration(store.engine),
    '003-oauth-token-state': oauthTokenStateMigration(store.engine),
    '004-audit-events': auditEventsMigration(store.engine),
    '005-user-states-by-application': userStatesByApplicationMigration(),
  };
}

/**
 * Brings the schema up to date; returns the names of the migrations it applied.
 *
 * On PostgreSQL, Kysely's migrator takes a session-level advisory lock (pg_advisory_lock) and applies
 * all pending migrations in one transaction, so instances starting together migrate one after the other
 * and the later ones find nothing left to do. The run holds one connection with the statement timeout
 * off: waiting for that lock, or building an index on a large table, may take longer than any request
 * should. On SQLite the database write lock does the same job.
 */
export async function migrateToLatest(store: Store): Promise<string[]> {
  if (store.engine === 'sqlite') return migrate(store, store.db);
  return store.db.connection().execute(async (connection) => {
    await sql`set statement_timeout = 0`.execute(connection);
    try {
      return await migrate(store, connection);
    } finally {
      await sql`reset statement_timeout`.execute(connection);
    }
  });
}

async function migrate(store: Store, db: Kysely<Database>): Promise<string[]> {
  const provider: MigrationProvider = { getMigrations: async () => migrationsFor(store) };
  const { error, results } = await new Migrator({ db, provider }).migrateToLatest();
  if (error) throw error;
  const failed = results?.find((r) => r.status === 'Error');
  if (failed) throw new Error(`migration ${failed.migrationName} failed`);
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
