import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openStore, type Store } from '../../src/store/database.ts';
import { migrateToLatest } from '../../src/store/migrate.ts';
import { preparedQuery } from '../../src/store/prepared-query.ts';
import { testDatabaseUrl } from '../helpers/database.ts';
import { makeDataDir } from '../helpers/app.ts';

describe('preparedQuery', () => {
  let store: Store;
  before(async () => {
    store = openStore({ dataDir: makeDataDir(), databaseUrl: await testDatabaseUrl(), database: { poolMax: 2, statementTimeoutMs: 15_000 } });
    await migrateToLatest(store);
  });
  after(() => store.close());

  test('each call runs with its own parameters, whatever their order in the SQL', async () => {
    // Parameters given in the opposite order from where they land in the SQL.
    const byNameOrRole = preparedQuery((roleName: string, roleId: string) =>
      store.db.selectFrom('roles').select(['id', 'name']).where('id', '=', roleId).where('name', '=', roleName),
    );
    assert.deepEqual((await byNameOrRole(store.db, 'Admin', '1')).rows.map((r) => String(r.id)), ['1']);
    assert.deepEqual((await byNameOrRole(store.db, 'User', '2')).rows.map((r) => String(r.id)), ['2']);
    assert.deepEqual((await byNameOrRole(store.db, 'Admin', '2')).rows, []);
  });

  test('a value baked into the query as a parameter is refused, not silently reused', async () => {
    const fixed = preparedQuery((name: string) => store.db.selectFrom('roles').selectAll().where('name', '=', name).where('id', '=', '1'));
    await assert.rejects(() => fixed(store.db, 'Admin'), /parameter it was not given/);
  });
});
