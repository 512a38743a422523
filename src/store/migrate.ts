import { Migrator, type Migration, type MigrationProvider } from 'kysely';
import type { Store } from './database.ts';
import { initialMigration } from './migrations/001-initial.ts';

/** Migrations in order; names sort, and a name once released never changes. */
function migrationsFor(store: Store): Record<string, Migration> {
  return {
    '001-initial': initialMigration(store.engine),
  };
}

/**
 * Brings the schema up to date. On PostgreSQL, Kysely's migrator holds a session-level advisory lock
 * (pg_advisory_lock) for the run, so instances starting together migrate one after the other and the
 * later ones find nothing left to do. On SQLite the write lock does the same.
 */
export async function migrateToLatest(store: Store): Promise<string[]> {
  const provider: MigrationProvider = { getMigrations: async () => migrationsFor(store) };
  const migrator = new Migrator({ db: store.db, provider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error;
  const failed = results?.find((r) => r.status === 'Error');
  if (failed) throw new Error(`migration ${failed.migrationName} failed`);
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
