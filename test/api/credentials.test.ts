import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { PassThrough } from 'node:stream';
import { ADMIN, bearer, buildTestApp, json, loginToken, testConfig, TEST_SCRYPT_COST, type TestApp } from '../helpers/app.ts';
import { assertResponse } from '../helpers/contract.ts';
import { sql } from 'kysely';
import { decoyHash, verifySecret } from '../../src/crypto/password.ts';
import { buildServer } from '../../src/server.ts';

/** Every row of every table of the app's database, as JSON text, found through the engine's own catalogue. */
async function everyRow(t: TestApp): Promise<{ tables: number; text: string }> {
  const db = t.app.store.db;
  const names = t.app.store.engine === 'postgres'
    ? await sql<{ name: string }>`select tablename as name from pg_tables where schemaname = 'public'`.execute(db)
    : await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(db);
  const lines: string[] = [];
  for (const { name } of names.rows) {
    const { rows } = await sql<Record<string, unknown>>`select * from ${sql.table(name)}`.execute(db);
    lines.push(...rows.map((row) => JSON.stringify(row)));
  }
  return { tables: names.rows.length, text: lines.join('\n') };
}

describe('API credentials (credentials_api3)', () => {
  let t: TestApp;
  let admin: Record<string, string>;
  let userId: string;
  before(async () => {
    t = await buildTestApp();
    admin = bearer(t.adminToken);
    userId = json(await t.inject({ method: 'POST', url: '/api/4.0/users', headers: admin, payload: { first_name: 'Keyholder' } })).id;
  });
  after(() => t.close());

  const base = () => `/api/4.0/users/${userId}/credentials_api3`;
  const createCreds = async (payload?: object) => {
    const response = await t.inject({ method: 'POST', url: base(), headers: admin, ...(payload ? { payload } : {}) });
    assert.equal(response.statusCode, 200, response.body);
    return json(response);
  };

  test('create: 200 with the client_secret, the only time it is given out', async () => {
    const response = await t.inject({ method: 'POST', url: base(), headers: admin, payload: { purpose: 'ci pipeline' } });
    assert.equal(response.statusCode, 200);
    assertResponse('create_user_credentials_api3', response);
    const created = json(response);
    assert.equal(created.type, 'api3');
    assert.equal(created.purpose, 'ci pipeline');
    assert.equal(created.is_disabled, false);
    assert.match(created.client_id, /^[A-Za-z0-9_-]{20}$/);
    assert.match(created.client_secret, /^[A-Za-z0-9_-]{32}$/);
    assert.match(created.url, new RegExp(`/api/4\\.0/users/${userId}/credentials_api3/${created.id}$`));

    const reads = [
      await t.inject({ method: 'GET', url: `${base()}/${created.id}`, headers: admin }),
      await t.inject({ method: 'GET', url: base(), headers: admin }),
      await t.inject({ method: 'GET', url: `/api/4.0/users/${userId}`, headers: admin }),
      await t.inject({ method: 'GET', url: '/api/4.0/users', headers: admin }),
      await t.inject({ method: 'PATCH', url: `${base()}/${created.id}`, headers: admin, payload: { purpose: 'ci' } }),
    ];
    for (const read of reads) {
      assert.equal(read.statusCode, 200);
      assert.ok(!read.body.includes(created.client_secret), 'the secret never appears again');
      assert.ok(!read.body.includes('client_secret'));
    }
    assertResponse('user_credentials_api3', reads[0]);
    assertResponse('all_user_credentials_api3s', reads[1]);
    assertResponse('update_user_credentials_api3', reads[4]);
  });

  test('create without a body (as the SDK sends it) or with an empty JSON body', async () => {
    const none = await createCreds();
    assert.equal(none.purpose, null);
    const empty = await t.inject({ method: 'POST', url: base(), headers: { ...admin, 'content-type': 'application/json' } });
    assert.equal(empty.statusCode, 200);
    const braces = await createCreds({});
    assert.ok(braces.client_secret);
  });

  test('the secret is stored only as a scrypt hash: in no row of any table, and on SQLite nowhere in the file', async () => {
    const created = await createCreds({ purpose: 'hash check' });
    const row = await t.app.store.db.selectFrom('credentials_api3').selectAll().where('id', '=', created.id).executeTakeFirstOrThrow();
    assert.match(row.secret_hash, /^scrypt\$\d+\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    // A test app hashes at the cheaper test cost it was built with (the production cost: the next test).
    assert.ok(row.secret_hash.startsWith(`scrypt$${TEST_SCRYPT_COST.N}$`), row.secret_hash.slice(0, 20));
    assert.equal(await verifySecret(created.client_secret, row.secret_hash), true);
    assert.equal(await verifySecret(`${created.client_secret}x`, row.secret_hash), false);

    const admins = await t.app.store.db.selectFrom('credentials_api3').select('secret_hash').where('client_id', '=', ADMIN.client_id).executeTakeFirstOrThrow();
    assert.match(admins.secret_hash, /^scrypt\$/, 'the bootstrap secret too');

    // Every table the engine lists, read whole: what a dump or a backup of either engine holds.
    const rows = await everyRow(t);
    assert.ok(rows.tables >= 5, `tables read: ${rows.tables}`);
    assert.ok(rows.text.includes(created.client_id), 'sanity: the client_id is in the rows');
    for (const secret of [created.client_secret, ADMIN.client_secret]) assert.ok(!rows.text.includes(secret), `${t.app.store.engine}: a secret in a row`);

    // SQLite's file and WAL also keep bytes no row shows (old versions of a page, freed pages).
    const file = t.app.store.sqliteFile;
    if (file) {
      const bytes = Buffer.concat([file, `${file}-wal`].filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f)));
      assert.ok(bytes.includes(Buffer.from(created.client_id)), 'sanity: the client_id is in the file');
      for (const secret of [created.client_secret, ADMIN.client_secret]) assert.ok(!bytes.includes(Buffer.from(secret)));
    }
  });

  test('a server built as main.ts builds it (no scryptCost) hashes at N=16384, r=8, p=1, and so does its decoy', async () => {
    const config = await testConfig();
    const app = await buildServer(config, { logStream: new PassThrough() });
    try {
      await app.services.users.bootstrapAdmin(config.bootstrap);
      const admin = await app.store.db.selectFrom('credentials_api3').select('secret_hash').where('client_id', '=', ADMIN.client_id).executeTakeFirstOrThrow();
      assert.match(admin.secret_hash, /^scrypt\$16384\$8\$1\$/);
      assert.ok(await loginToken(app, ADMIN.client_id, ADMIN.client_secret));
      // An unknown client_id is checked against a decoy of the same cost, so both take the same time.
      assert.match(await decoyHash(), /^scrypt\$16384\$8\$1\$/);
      assert.match(await decoyHash(TEST_SCRYPT_COST), new RegExp(`^scrypt\\$${TEST_SCRYPT_COST.N}\\$8\\$1\\$`));
    } finally {
      await app.close();
    }
  });

  test('the new credentials log in as their user', async () => {
    const created = await createCreds();
    const token = await loginToken(t.app, created.client_id, created.client_secret);
    const me = json(await t.inject({ method: 'GET', url: '/api/4.0/user', headers: bearer(token) }));
    assert.equal(me.id, userId);
  });

  test('list: every credential of the user, in creation order', async () => {
    const response = await t.inject({ method: 'GET', url: base(), headers: admin });
    const ids = json(response).map((c: { id: string }) => c.id);
    assert.ok(ids.length >= 4);
    assert.deepEqual(ids, [...ids].sort((a: string, b: string) => Number(a) - Number(b)));
    const admins = json(await t.inject({ method: 'GET', url: '/api/4.0/users/1/credentials_api3', headers: admin }));
    assert.deepEqual(
      admins.map((c: { client_id: string }) => c.client_id),
      [ADMIN.client_id],
    );
  });

  test('disabling credentials: live tokens 401, login 404; enabling them again restores login, not old tokens', async () => {
    const created = await createCreds();
    const token = await loginToken(t.app, created.client_id, created.client_secret);
    const patch = await t.inject({ method: 'PATCH', url: `${base()}/${created.id}`, headers: admin, payload: { is_disabled: true } });
    assert.equal(patch.statusCode, 200);
    assert.equal(json(patch).is_disabled, true);
    assert.equal((await t.inject({ method: 'GET', url: '/api/4.0/user', headers: bearer(token) })).statusCode, 401);
    await assert.rejects(loginToken(t.app, created.client_id, created.client_secret), /login failed: 404/);

    await t.inject({ method: 'PATCH', url: `${base()}/${created.id}`, headers: admin, payload: { is_disabled: false } });
    assert.ok(await loginToken(t.app, created.client_id, created.client_secret));
    assert.equal((await t.inject({ method: 'GET', url: '/api/4.0/user', headers: bearer(token) })).statusCode, 401);
  });

  test('delete: 204 without Content-Type; live tokens 401, login 404, then 404 on every route', async () => {
    const created = await createCreds();
    const token = await loginToken(t.app, created.client_id, created.client_secret);
    const other = await createCreds();
    const otherToken = await loginToken(t.app, other.client_id, other.client_secret);

    const response = await t.inject({ method: 'DELETE', url: `${base()}/${created.id}`, headers: admin });
    assert.equal(response.statusCode, 204);
    assertResponse('delete_user_credentials_api3', response);
    const me = await t.inject({ method: 'GET', url: '/api/4.0/user', headers: bearer(token) });
    assert.equal(me.statusCode, 401);
    assertResponse('me', me);
    await assert.rejects(loginToken(t.app, created.client_id, created.client_secret), /login failed: 404/);
    // Tokens from the user's other credentials live on.
    assert.equal((await t.inject({ method: 'GET', url: '/api/4.0/user', headers: bearer(otherToken) })).statusCode, 200);

    for (const [method, operationId] of [
      ['GET', 'user_credentials_api3'],
      ['PATCH', 'update_user_credentials_api3'],
      ['DELETE', 'delete_user_credentials_api3'],
    ] as const) {
      const gone = await t.inject({ method, url: `${base()}/${created.id}`, headers: admin, ...(method === 'PATCH' ? { payload: { purpose: 'x' } } : {}) });
      assert.equal(gone.statusCode, 404, method);
      assertResponse(operationId, gone);
    }
  });

  test("credentials are reached only through their own user's path", async () => {
    const adminCreds = json(await t.inject({ method: 'GET', url: '/api/4.0/users/1/credentials_api3', headers: admin }))[0];
    for (const method of ['GET', 'DELETE'] as const) {
      const response = await t.inject({ method, url: `${base()}/${adminCreds.id}`, headers: admin });
      assert.equal(response.statusCode, 404);
    }
    assert.ok(await loginToken(t.app, ADMIN.client_id, ADMIN.client_secret));
  });

  test('unknown user: 404 on list and create', async () => {
    for (const method of ['GET', 'POST'] as const) {
      const response = await t.inject({ method, url: '/api/4.0/users/424242/credentials_api3', headers: admin });
      assert.equal(response.statusCode, 404);
      assertResponse(method === 'GET' ? 'all_user_credentials_api3s' : 'create_user_credentials_api3', response);
    }
  });

  test('bad fields: 422 listing every one', async () => {
    const created = await createCreds();
    for (const [method, url, operationId] of [
      ['POST', base(), 'create_user_credentials_api3'],
      ['PATCH', `${base()}/${created.id}`, 'update_user_credentials_api3'],
    ] as const) {
      const response = await t.inject({ method, url, headers: admin, payload: { purpose: 'x'.repeat(256), is_disabled: 'yes' } });
      assert.equal(response.statusCode, 422, method);
      assertResponse(operationId, response);
      assert.deepEqual(json(response).errors.map((e: { field: string }) => e.field).sort(), ['is_disabled', 'purpose']);
    }
  });
});
