import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import SqliteDatabase from 'better-sqlite3';
import { TEST_MASTER_KEY, bearer, buildTestApp, json, testConfig, type TestApp } from './helpers/app.ts';
import { SecretBox, parseMasterKeys } from '../src/crypto/secret-box.ts';
import { clientSecretAad } from '../src/services/external-oauth-applications.ts';
import { userStateTokenAad } from '../src/services/user-states.ts';

/**
 * Every secret and token goes through the API with a marker no other bytes could contain; then the
 * SQLite file, its WAL and its shared-memory index are searched byte for byte. Always on SQLite: these
 * are the files an attacker with the disk (or a backup) would hold.
 */
const marker = `PLAINTEXT-${randomBytes(6).toString('hex')}`;
const secret = (what: string) => `${marker}-${what}`;

let t: TestApp;
let closed = false;
let file: string;
const plaintexts: string[] = [];
const names: string[] = [];

before(async () => {
  t = await buildTestApp({}, { ...(await testConfig()), databaseUrl: null });
  file = t.app.store.sqliteFile!;
  const admin = bearer(t.adminToken);
  const user = await t.newUser();
  const appIds: string[] = [];

  for (let i = 0; i < 3; i += 1) {
    const body = { name: `at-rest app ${i} (${marker})`, client_id: `at-rest-${i}`, client_secret: secret(`client-secret-${i}`) };
    const response = await t.inject({ method: 'POST', url: '/api/4.0/external_oauth_applications', headers: admin, payload: body });
    assert.equal(response.statusCode, 200);
    appIds.push(json(response).id);
    plaintexts.push(body.client_secret);
    names.push(body.name);
  }
  // A rotated secret: neither the old nor the new one may be on disk.
  const rotated = secret('rotated-client-secret');
  const patch = await t.inject({ method: 'PATCH', url: '/api/4.0/external_oauth_applications/at-rest-0', headers: admin, payload: { client_secret: rotated } });
  assert.equal(patch.statusCode, 200);
  plaintexts.push(rotated);

  for (const [i, appId] of appIds.entries()) {
    for (const round of [1, 2]) {
      const body = {
        user_id: user.id,
        oauth_application_id: appId,
        access_token: secret(`access-${i}-${round}`),
        access_token_expires_at: '2030-01-01T00:00:00Z',
        refresh_token: secret(`refresh-${i}-${round}`),
        refresh_token_expires_at: '2031-01-01T00:00:00Z',
      };
      const response = await t.inject({ method: 'POST', url: '/api/4.0/external_oauth_applications/user_state', headers: bearer(user.token), payload: body });
      assert.equal(response.statusCode, 200);
      plaintexts.push(body.access_token, body.refresh_token);
    }
  }
});
after(async () => {
  if (!closed) await t.close();
});

function storeFiles(): Buffer[] {
  return [file, `${file}-wal`, `${file}-shm`].filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f));
}

function assertNoPlaintext(when: string) {
  const bytes = storeFiles();
  // The search works: the application names are stored in the clear, and it finds them.
  for (const name of names) assert.ok(bytes.some((b) => b.includes(name)), `${when}: the search did not find the stored name ${name}`);
  for (const value of plaintexts) {
    assert.ok(!bytes.some((b) => b.includes(value)), `${when}: ${value} is on disk in plaintext`);
  }
  // Nor any prefix of a secret (the names carry the marker too, but followed by ')').
  const secretPrefix = `${marker}-`;
  assert.ok(!bytes.some((b) => b.includes(secretPrefix)), `${when}: a secret prefix is on disk`);
}

test('while the server runs, neither the database file nor its -wal and -shm hold a secret or token', () => {
  assert.ok(fs.existsSync(`${file}-wal`), 'the store runs in WAL mode');
  assertNoPlaintext('live');
});

test('the sealed values on disk open with the master key and their own row only', () => {
  const box = new SecretBox(parseMasterKeys(TEST_MASTER_KEY));
  const db = new SqliteDatabase(file, { readonly: true, fileMustExist: true });
  try {
    const apps = db.prepare('select client_id, client_secret_sealed from external_oauth_applications order by id').all() as Array<{ client_id: string; client_secret_sealed: string }>;
    assert.equal(apps.length, 3);
    const opened = apps.map((a) => {
      assert.match(a.client_secret_sealed, new RegExp(`^v1\\.${box.activeKeyId}\\.[A-Za-z0-9_-]+$`));
      return box.open(a.client_secret_sealed, clientSecretAad(a.client_id));
    });
    assert.deepEqual(opened, [secret('rotated-client-secret'), secret('client-secret-1'), secret('client-secret-2')]);
    assert.throws(() => box.open(apps[0].client_secret_sealed, clientSecretAad(apps[1].client_id)), /does not authenticate/);

    const states = db
      .prepare('select user_id, oauth_application_id, access_token_sealed, refresh_token_sealed from oauth_application_user_states order by oauth_application_id')
      .all() as Array<{ user_id: number; oauth_application_id: number; access_token_sealed: string; refresh_token_sealed: string }>;
    assert.equal(states.length, 3);
    states.forEach((s, i) => {
      const [userId, appId] = [String(s.user_id), String(s.oauth_application_id)];
      // The second round replaced the first.
      assert.equal(box.open(s.access_token_sealed, userStateTokenAad(userId, appId, 'access_token')), secret(`access-${i}-2`));
      assert.equal(box.open(s.refresh_token_sealed, userStateTokenAad(userId, appId, 'refresh_token')), secret(`refresh-${i}-2`));
      assert.throws(() => box.open(s.access_token_sealed, userStateTokenAad(userId, appId, 'refresh_token')), /does not authenticate/);
    });
  } finally {
    db.close();
  }
});

test('after shutdown (WAL checkpointed into the file) there is still no plaintext', async () => {
  await t.close();
  closed = true;
  assertNoPlaintext('after close');
});
