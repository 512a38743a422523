import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import { openStore, type Store } from '../../src/store/database.ts';
import { migrateToLatest } from '../../src/store/migrate.ts';
import { ADMIN_ROLE_ID, USER_ROLE_ID, usersRepository } from '../../src/store/users-repository.ts';
import { testDatabaseUrl } from '../helpers/database.ts';
import { makeDataDir } from '../helpers/app.ts';

/** Counts the statements run through the Kysely instance it is plugged into. */
class StatementCounter implements KyselyPlugin {
  count = 0;
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    this.count += 1;
    return args.node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}

describe('users repository', () => {
  let store: Store;
  before(async () => {
    store = openStore({ dataDir: makeDataDir(), databaseUrl: await testDatabaseUrl(), database: { poolMax: 2, statementTimeoutMs: 15_000 } });
    await migrateToLatest(store);
  });
  after(() => store.close());

  // GET /user and every console page read their user by id; on PostgreSQL each statement is a round trip.
  test('findById reads a user and its roles in one statement, with none, one or both roles', async () => {
    const setup = usersRepository(store.db);
    const cases = [[], [USER_ROLE_ID], [ADMIN_ROLE_ID, USER_ROLE_ID]];
    for (const roleIds of cases) {
      const created = await setup.insert({ first_name: 'Ada', email: `ada-${roleIds.length}@example.com` }, roleIds);
      const counter = new StatementCounter();
      const found = await usersRepository(store.db.withPlugin(counter)).findById(created.id);
      assert.equal(counter.count, 1, 'one statement');
      assert.deepEqual(found, created);
      assert.deepEqual(found?.role_ids, roleIds);
    }
    const counter = new StatementCounter();
    assert.equal(await usersRepository(store.db.withPlugin(counter)).findById('999999'), null);
    assert.equal(counter.count, 1);
  });
});
