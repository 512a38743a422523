import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, TEST_MASTER_KEY, bearer, buildTestApp, json, testConfig, type TestApp } from '../helpers/app.ts';
import { startServer } from '../helpers/server-process.ts';
import { buildServer } from '../../src/server.ts';
import { loadConfig } from '../../src/config.ts';
import { openStore } from '../../src/store/database.ts';
import { migrateToLatest } from '../../src/store/migrate.ts';
import { MissingMasterKeysError, SEALED_COLUMNS, findMissingKeyIds, sealedKeyIdsInUse } from '../../src/store/sealed-columns.ts';
import { keyFingerprint } from '../../src/crypto/secret-box.ts';

const STORED_KEY_ID = keyFingerprint(Buffer.from(TEST_MASTER_KEY, 'base64'));
const OTHER_KEY = Buffer.alloc(32, 9).toString('base64');

/**
 * A server given master keys that cannot open the store's secrets refuses to start, naming the key ids
 * it lacks, instead of starting "ready" and failing on every secret it touches.
 */
describe('start-up check of the master keys against the store', () => {
  let t: TestApp;
  let env: Record<string, string>;
  before(async () => {
    t = await buildTestApp();
    const created = await t.inject({
      method: 'POST',
      url: '/api/4.0/external_oauth_applications',
      headers: bearer(t.adminToken),
      payload: { name: 'sealed', client_id: 'sealed', client_secret: 'key-check-secret-0123456789' },
    });
    assert.equal(created.statusCode, 200, created.body);
    env = { EOA_DATA_DIR: t.config.dataDir, ...(t.config.databaseUrl ? { DATABASE_URL: t.config.databaseUrl } : {}) };
    await t.close();
  });

  test('the key ids in use are found per sealed column, and the missing ones counted', async () => {
    const store = openStore(t.config);
    try {
      assert.deepEqual(await sealedKeyIdsInUse(store), [{ column: 'external_oauth_applications.client_secret_sealed', keyId: STORED_KEY_ID }]);
      // Rows under two more key ids, one of them a prefix of the other: each range holds only its own.
      const row = (n: number, keyId: string) => ({ name: `k${n}`, client_id: `k${n}`, client_secret_sealed: `v1.${keyId}.payload${n}`, created_at: '2030-01-01T00:00:00Z', updated_at: '2030-01-01T00:00:00Z' });
      await store.db.insertInto('external_oauth_applications').values([row(1, 'old'), row(2, 'old'), row(3, 'old-2')]).execute();
      assert.deepEqual(
        (await sealedKeyIdsInUse(store)).map((u) => u.keyId),
        [STORED_KEY_ID, 'old', 'old-2'].sort(),
      );
      assert.deepEqual(await findMissingKeyIds(store, [STORED_KEY_ID, 'old-2']), {
        keyIds: ['old'],
        description: 'old (2 in external_oauth_applications.client_secret_sealed)',
      });
      await store.db.deleteFrom('external_oauth_applications').where('client_id', 'in', ['k1', 'k2', 'k3']).execute();
    } finally {
      await store.close();
    }
  });

  test('the real server refuses to start with a key that is not the store\'s, in one line naming the missing key id', async () => {
    // The same key given under a label: its id is the label, not the fingerprint the store was sealed with.
    await assert.rejects(
      startServer({ dataDir: t.config.dataDir, env: { ...env, EOA_MASTER_KEY: `new:${OTHER_KEY}` } }),
      (error: Error) => {
        // startServer's message: "server exited with 4 before listening:" and then what the process printed.
        const output = error.message.slice(error.message.indexOf('\n') + 1);
        assert.match(error.message, /exited with 4 before listening/);
        assert.match(output, new RegExp(`^refusing to start: .*${STORED_KEY_ID} \\(1 in external_oauth_applications\\.client_secret_sealed\\).*configured: new\\.`));
        assert.equal(output.trim().split('\n').length, 1, output);
        return true;
      },
    );
  });

  test('in process too, on either engine: buildServer fails with the missing key ids', async () => {
    const config = loadConfig({ ...env, EOA_MASTER_KEY: `other:${OTHER_KEY},new:${TEST_MASTER_KEY}` });
    await assert.rejects(buildServer(config), (error: unknown) => error instanceof MissingMasterKeysError && error.keyIds.join() === STORED_KEY_ID);
  });

  test('EOA_ALLOW_MISSING_KEYS=true starts degraded: serving, and /readyz says which key ids are missing', async () => {
    const degraded = await buildTestApp({}, loadConfig({ ...env, EOA_MASTER_KEY: OTHER_KEY, EOA_ALLOW_MISSING_KEYS: 'true', EOA_BOOTSTRAP_CLIENT_ID: ADMIN.client_id, EOA_BOOTSTRAP_CLIENT_SECRET: ADMIN.client_secret }));
    try {
      const ready = await degraded.inject({ method: 'GET', url: '/readyz' });
      assert.equal(ready.statusCode, 200);
      assert.deepEqual(json(ready), { status: 'degraded', missing_key_ids: [STORED_KEY_ID] });
    } finally {
      await degraded.close();
    }
  });

  test('every *_sealed column of the schema is in SEALED_COLUMNS (a new sealed column must be added there)', async () => {
    const config = await testConfig();
    const store = openStore(config);
    try {
      await migrateToLatest(store);
      const sealed = (await store.db.introspection.getTables())
        .flatMap((table) => table.columns.filter((c) => c.name.endsWith('_sealed')).map((c) => `${table.name}.${c.name}`))
        .sort();
      assert.deepEqual(SEALED_COLUMNS.map((c) => `${c.table}.${c.column}`).sort(), sealed);
    } finally {
      await store.close();
    }
  });
});
