import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { openStore } from '../../src/store/database.ts';
import { makeDataDir } from '../helpers/app.ts';
import { POSTGRES_ONLY, adminQuery, databaseName, testDatabaseUrl } from '../helpers/database.ts';

/** EOA_DB_POOL_MAX and EOA_DB_STATEMENT_TIMEOUT_MS reach the connections. */
describe('PostgreSQL pool settings', () => {
  test('no more connections than EOA_DB_POOL_MAX, however many queries wait', { skip: POSTGRES_ONLY }, async () => {
    const url = (await testDatabaseUrl())!;
    const store = openStore({ databaseUrl: url, dataDir: makeDataDir(), database: { poolMax: 2, statementTimeoutMs: 0 } });
    try {
      const queries = Array.from({ length: 6 }, () => sql`select pg_sleep(0.3)`.execute(store.db));
      let most = 0;
      let settled = false;
      const all = Promise.all(queries).finally(() => (settled = true));
      while (!settled) {
        const rows = await adminQuery<{ n: string }>('select count(*) as n from pg_stat_activity where datname = $1', [databaseName(url)]);
        most = Math.max(most, Number(rows[0].n));
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await all;
      assert.ok(most >= 1, 'the queries were seen running');
      assert.ok(most <= 2, `${most} connections were open`);
    } finally {
      await store.close();
    }
  });

  test('a statement running past EOA_DB_STATEMENT_TIMEOUT_MS is cancelled, and the connection serves on', { skip: POSTGRES_ONLY }, async () => {
    const store = openStore({ databaseUrl: await testDatabaseUrl(), dataDir: makeDataDir(), database: { poolMax: 1, statementTimeoutMs: 200 } });
    try {
      await assert.rejects(sql`select pg_sleep(5)`.execute(store.db), (error: { code?: string }) => error.code === '57014');
      const { rows } = await sql<{ ok: number }>`select 1 as ok`.execute(store.db);
      assert.equal(rows[0].ok, 1);
    } finally {
      await store.close();
    }
  });
});
