import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { sql } from 'kysely';
import { openStore, type Store } from '../../src/store/database.ts';
import { migrateToLatest } from '../../src/store/migrate.ts';
import { TEST_MASTER_KEY, makeDataDir } from '../helpers/app.ts';
import { POSTGRES_ONLY, testDatabaseUrl } from '../helpers/database.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** Every migration, in order: a new one is added here. */
const ALL_MIGRATIONS = ['001-initial', '002-oauth-providers', '003-oauth-token-state', '004-audit-events', '005-user-states-by-application'];
const TABLES = ['users', 'roles', 'user_roles', 'credentials_api3', 'sessions', 'external_oauth_applications', 'oauth_application_user_states', 'oauth_pending_authorizations', 'audit_events'];

async function freshStore(database: Partial<{ poolMax: number; statementTimeoutMs: number }> = {}, databaseUrl?: string | null): Promise<Store> {
  const url = databaseUrl === undefined ? await testDatabaseUrl() : databaseUrl;
  return openStore({ databaseUrl: url, dataDir: makeDataDir(), database: { poolMax: 4, statementTimeoutMs: 15_000, ...database } });
}

/** Runs the real CLI (`npm run cli -- …` without npm) and collects what it printed. */
function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe(`migrations (${process.env.TEST_DATABASE_URL ? 'PostgreSQL' : 'SQLite'})`, () => {
  test('a fresh store gets every table; a second run has nothing to do', async () => {
    const store = await freshStore();
    try {
      assert.deepEqual(await migrateToLatest(store), ALL_MIGRATIONS);
      assert.deepEqual(await migrateToLatest(store), []);
      for (const table of TABLES) {
        await sql`select count(*) from ${sql.table(table)}`.execute(store.db);
      }
      const roles = await store.db.selectFrom('roles').select(['id', 'name']).orderBy('id').execute();
      assert.deepEqual(roles.map((r) => [String(r.id), r.name]), [['1', 'Admin'], ['2', 'User']]);
    } finally {
      await store.close();
    }
  });

  test("an application's user states page in user order from an index, without sorting them all", async () => {
    const store = await freshStore();
    try {
      await migrateToLatest(store);
      // The status list's and the application revocation's shape: one application, in user order, a page.
      const page = sql`select user_id from oauth_application_user_states where oauth_application_id = 1 order by user_id limit 100`;
      if (store.engine === 'sqlite') {
        const plan = await sql<{ detail: string }>`explain query plan ${page}`.execute(store.db);
        const steps = plan.rows.map((r) => r.detail).join('; ');
        assert.match(steps, /USING (COVERING )?INDEX oauth_application_user_states_app_user_idx/, steps);
        assert.doesNotMatch(steps, /TEMP B-TREE/, steps);
      } else {
        // On an empty table the planner would scan it; forbid that to see which index it would take.
        const plan = await store.db.connection().execute(async (connection) => {
          await sql`set enable_seqscan = off`.execute(connection);
          try {
            return await sql<{ 'QUERY PLAN': string }>`explain ${page}`.execute(connection);
          } finally {
            await sql`reset enable_seqscan`.execute(connection);
          }
        });
        const steps = plan.rows.map((r) => r['QUERY PLAN']).join('\n');
        assert.match(steps, /oauth_application_user_states_app_user_idx/, steps);
        assert.doesNotMatch(steps, /\bSort\b/, steps);
      }
    } finally {
      await store.close();
    }
  });

  test('`migrate` on the command line applies, then reports the schema up to date', async () => {
    const databaseUrl = await testDatabaseUrl();
    const env = { EOA_DATA_DIR: makeDataDir(), EOA_MASTER_KEY: TEST_MASTER_KEY, ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) };
    const first = await cli(['migrate'], env);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout, `applied: ${ALL_MIGRATIONS.join(', ')}\n`);
    const second = await cli(['migrate'], env);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout, 'schema is up to date\n');
  });

  test('PostgreSQL without EOA_MASTER_KEY refuses to start, saying why, before touching the database', async () => {
    // Port 9 (discard) on loopback: nothing must try to connect for this answer.
    const result = await cli(['serve'], { EOA_DATA_DIR: makeDataDir(), DATABASE_URL: 'postgres://nobody@127.0.0.1:9/none' });
    assert.equal(result.code, 3, 'exit code 3: invalid configuration (serve --help)');
    assert.match(result.stderr, /EOA_MASTER_KEY is required with DATABASE_URL/);
    assert.equal(result.stdout, '');
  });
});

describe('migrations on PostgreSQL: one instance at a time', () => {
  test('two stores migrating one fresh database at once: one applies, the other finds it done', { skip: POSTGRES_ONLY }, async () => {
    const url = await testDatabaseUrl();
    const [a, b] = [await freshStore({}, url), await freshStore({}, url)];
    try {
      const results = await Promise.all([migrateToLatest(a), migrateToLatest(b)]);
      assert.deepEqual(results.map((r) => r.join()).sort(), ['', ALL_MIGRATIONS.join()]);
      const applied = await a.db.selectFrom('kysely_migration' as never).select(sql<string>`name`.as('name')).execute();
      assert.deepEqual(applied.map((r) => r.name), ALL_MIGRATIONS);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test('a migration waits for the lock another instance holds, longer than any statement may run', { skip: POSTGRES_ONLY }, async () => {
    const url = (await testDatabaseUrl())!;
    // Kysely's migration lock id (kysely/dist/esm/dialect/postgres/postgres-adapter.js).
    const LOCK_ID = '3853314791062309107';
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    const store = await freshStore({ poolMax: 1, statementTimeoutMs: 200 }, url);
    try {
      await holder.query('select pg_advisory_lock($1)', [LOCK_ID]);
      let settled = false;
      const migration = migrateToLatest(store).finally(() => (settled = true));
      // Well past the 200 ms statement timeout: the waiting migration must neither fail nor go ahead.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      assert.equal(settled, false, 'the migration did not wait for the lock');
      const tables = await holder.query("select 1 from pg_tables where tablename = 'users'");
      assert.equal(tables.rowCount, 0, 'the schema was changed while another instance held the lock');
      await holder.query('select pg_advisory_unlock($1)', [LOCK_ID]);
      assert.deepEqual(await migration, ALL_MIGRATIONS);
      // The connection is back in the pool with the configured statement timeout.
      const { rows } = await sql<{ statement_timeout: string }>`show statement_timeout`.execute(store.db);
      assert.equal(rows[0].statement_timeout, '200ms');
    } finally {
      await holder.end();
      await store.close();
    }
  });
});
