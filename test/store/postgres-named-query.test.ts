import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { runNamedQuery } from '../../src/store/postgres-named-query.ts';
import { testDatabaseUrl } from '../helpers/database.ts';

/**
 * The hot named statements' runner (postgres-named-query.ts) against a real server: the same rows, counts
 * and errors as pg's client.query, with the result described once per connection and statement.
 */
describe('runNamedQuery', () => {
  let client: pg.Client | null = null;
  let descriptions = 0;
  before(async () => {
    const url = await testDatabaseUrl();
    if (url === null) return;
    client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query('create table t (id bigserial primary key, name text unique, at timestamptz, flag boolean, n integer, note text)');
    await client.query(`insert into t (name, at, flag, n, note) values ('a', '2026-01-02T03:04:05.678Z', true, 1, null), ('b', null, false, 2, 'x')`);
    // Every RowDescription the server sends this connection.
    (client as unknown as { connection: pg.Connection }).connection.on('rowDescription', () => (descriptions += 1));
  });
  after(() => client?.end());

  const described = async <T>(run: () => Promise<T>): Promise<[T, number]> => {
    const before = descriptions;
    const value = await run();
    return [value, descriptions - before];
  };

  test('rows as client.query gives them; only the first run on the connection asks for the description', async (t) => {
    if (client === null) return t.skip('PostgreSQL only (TEST_DATABASE_URL)');
    const pgClient = client;
    const text = 'select * from t where name = $1 or n = $2 order by id';
    const runs: Array<[string, number]> = [['a', 0], ['zzz', 2], ['a', 2], ['nobody', -1], ['b', 1]];
    const counts: number[] = [];
    for (const [i, values] of runs.entries()) {
      const [named, count] = await described(() => runNamedQuery(pgClient, 'named_select', text, values));
      const plain = await pgClient.query(text, values);
      assert.deepEqual(named.rows, plain.rows, `run ${i + 1}`);
      assert.equal(named.rowCount, plain.rowCount);
      assert.equal(named.command, 'SELECT');
      counts.push(count);
    }
    assert.deepEqual(counts, [1, 0, 0, 0, 0]);
  });

  test('a failing run rejects with the server\'s error, and the next runs still answer', async (t) => {
    if (client === null) return t.skip('PostgreSQL only (TEST_DATABASE_URL)');
    const text = 'insert into t (name, at, n) values ($1, $2, $3) returning name, at, n';
    const at = new Date('2026-05-06T07:08:09.010Z');
    const first = await runNamedQuery(client, 'named_insert', text, ['c', at, 3]);
    assert.deepEqual(first.rows, [{ name: 'c', at, n: 3 }], 'a Date and a number are sent as pg sends them');
    await assert.rejects(runNamedQuery(client, 'named_insert', text, ['c', at, 4]), (error: { code?: string }) => error.code === '23505');
    const [next, count] = await described(() => runNamedQuery(client!, 'named_insert', text, ['d', null, 5]));
    assert.deepEqual(next.rows, [{ name: 'd', at: null, n: 5 }]);
    assert.equal(count, 0, 'still described from the first run');
    assert.equal((await client.query('select count(*)::int as n from t')).rows[0].n, 4);
  });

  test('a parameter pg cannot convert fails that run alone: the statement and the connection stay usable', async (t) => {
    if (client === null) return t.skip('PostgreSQL only (TEST_DATABASE_URL)');
    const text = 'select name from t where n = $1';
    await runNamedQuery(client, 'named_by_n', text, [1]);
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    await assert.rejects(runNamedQuery(client, 'named_by_n', text, [circular]), TypeError);
    assert.deepEqual((await runNamedQuery(client, 'named_by_n', text, [2])).rows, [{ name: 'b' }]);
  });
});
