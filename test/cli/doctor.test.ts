import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TEST_MASTER_KEY, bearer, buildTestApp, json, makeDataDir, type TestApp } from '../helpers/app.ts';
import { openStore, type Store } from '../../src/store/database.ts';
import { KEY_FILE_NAME } from '../../src/crypto/master-key.ts';
import { keyFingerprint } from '../../src/crypto/secret-box.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const OTHER_KEY = Buffer.alloc(32, 9).toString('base64');
const SECRETS = ['doctor-client-secret-a', 'doctor-client-secret-b', 'doctor-access-1', 'doctor-refresh-1', 'doctor-access-2'];

/** The real CLI, as an operator runs it, against the store the test app wrote. */
function doctor(env: Record<string, string>) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', 'doctor'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: result.status, output: `${result.stdout}${result.stderr}` };
}

function assertNoSecret(output: string) {
  for (const value of SECRETS) assert.ok(!output.includes(value), `doctor printed a secret: ${value}`);
}

let t: TestApp;
let env: Record<string, string>;
let store: Store;
const apps: Array<{ id: string; client_id: string }> = [];
let userId: string;

before(async () => {
  t = await buildTestApp();
  const admin = bearer(t.adminToken);
  for (const [i, client_secret] of SECRETS.slice(0, 2).entries()) {
    const response = await t.inject({
      method: 'POST',
      url: '/api/4.0/external_oauth_applications',
      headers: admin,
      payload: { name: `doctor ${i}`, client_id: `doctor/${i} ?#%`, client_secret },
    });
    apps.push(json(response));
  }
  userId = (await t.newUser()).id;
  const states = [
    { user_id: userId, oauth_application_id: apps[0].id, access_token: SECRETS[2], refresh_token: SECRETS[3] },
    { user_id: userId, oauth_application_id: apps[1].id, access_token: SECRETS[4] },
  ];
  for (const s of states) {
    const response = await t.inject({
      method: 'POST',
      url: '/api/4.0/external_oauth_applications/user_state',
      headers: admin,
      payload: { ...s, access_token_expires_at: '2030-01-01T00:00:00Z' },
    });
    assert.equal(response.statusCode, 200);
  }
  env = {
    EOA_DATA_DIR: t.config.dataDir,
    EOA_MASTER_KEY: TEST_MASTER_KEY,
    ...(t.config.databaseUrl ? { DATABASE_URL: t.config.databaseUrl } : {}),
  };
  await t.close();
  store = openStore(t.config);
});
after(() => store.close());

describe('doctor', () => {
  test('a clean store: exit 0, every secret counted, none printed', () => {
    const { code, output } = doctor(env);
    assert.equal(code, 0, output);
    assert.match(output, /ok: all 5 stored secret\(s\) open/);
    assertNoSecret(output);
  });

  test('a wrong key: exit 1, and a summary by column and key id, not a line per secret', () => {
    const { code, output } = doctor({ ...env, EOA_MASTER_KEY: OTHER_KEY });
    assert.equal(code, 1, output);
    assert.match(output, /FAILED: 5 of 5/);
    const stored = keyFingerprint(Buffer.from(TEST_MASTER_KEY, 'base64'));
    for (const [column, failed] of [['external_oauth_applications.client_secret', 2], ['oauth_application_user_states.access_token', 2], ['oauth_application_user_states.refresh_token', 1]] as const) {
      assert.ok(output.includes(`${column}: key ${stored} (NOT CONFIGURED): 0 ok, ${failed} failed`), output);
    }
    assert.match(output, /unknown key/);
    assertNoSecret(output);
  });

  test('during a rotation both keys are configured: the old values still open', () => {
    const keys = `new:${OTHER_KEY},${keyFingerprint(Buffer.from(TEST_MASTER_KEY, 'base64'))}:${TEST_MASTER_KEY}`;
    const { code, output } = doctor({ ...env, EOA_MASTER_KEY: keys });
    assert.equal(code, 0, output);
  });

  test('no key configured and no key file: exit 1, and no key file is created', () => {
    const dataDir = makeDataDir();
    const { code, output } = doctor({ EOA_DATA_DIR: dataDir });
    assert.equal(code, 1, output);
    assert.match(output, /no master key/);
    assert.equal(fs.existsSync(path.join(dataDir, KEY_FILE_NAME)), false);
  });

  test('tampered rows: exit 1, each named by table and id, the intact ones not', async () => {
    const sealed = await store.db.selectFrom('external_oauth_applications').select(['id', 'client_secret_sealed']).where('id', '=', apps[1].id).executeTakeFirstOrThrow();
    // One changed character in the authentication tag of application 2 (not the last one, whose low
    // bits may be base64 padding).
    const value = sealed.client_secret_sealed;
    const at = value.length - 8;
    const tampered = `${value.slice(0, at)}${value[at] === 'A' ? 'Q' : 'A'}${value.slice(at + 1)}`;
    await store.db
      .updateTable('external_oauth_applications')
      .set({ client_secret_sealed: tampered })
      .where('id', '=', apps[1].id)
      .execute();
    // A valid token moved into another row: it authenticates nowhere but in its own row.
    const stateA = await store.db
      .selectFrom('oauth_application_user_states')
      .select('access_token_sealed')
      .where('oauth_application_id', '=', apps[0].id)
      .executeTakeFirstOrThrow();
    await store.db
      .updateTable('oauth_application_user_states')
      .set({ access_token_sealed: stateA.access_token_sealed })
      .where('oauth_application_id', '=', apps[1].id)
      .execute();

    const { code, output } = doctor(env);
    assert.equal(code, 1, output);
    assert.match(output, /FAILED: 2 of 5/);
    const key = keyFingerprint(Buffer.from(TEST_MASTER_KEY, 'base64'));
    assert.ok(output.includes(`external_oauth_applications.client_secret: key ${key} (configured): 1 ok, 1 failed`), output);
    assert.ok(output.includes(`external_oauth_applications.client_secret id=${apps[1].id} `), output);
    assert.ok(
      output.includes(`oauth_application_user_states.access_token user_id=${userId} oauth_application_id=${apps[1].id}:`),
      output,
    );
    assert.ok(!output.includes(`client_secret id=${apps[0].id} `), output);
    assert.ok(!output.includes(`refresh_token user_id=`), output);
    assertNoSecret(output);
  });
});
