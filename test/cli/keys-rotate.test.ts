import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { TEST_MASTER_KEY, buildTestApp, makeDataDir, testConfig, type TestApp } from '../helpers/app.ts';
import { loadConfig } from '../../src/config.ts';
import { keysCommand } from '../../src/cli/keys-rotate.ts';
import { startServer } from '../helpers/server-process.ts';
import { cli } from './cli-process.ts';
import { keyFingerprint } from '../../src/crypto/secret-box.ts';
import { createRepositories } from '../../src/store/repositories.ts';
import { replaceSealedValue } from '../../src/store/sealed-values.ts';
import { storedSecrets } from '../../src/services/stored-secrets.ts';
import {
  appSecretKey,
  createApplication,
  createUser,
  httpClient,
  injectClient,
  leakedSecrets,
  login,
  randomSecret,
  readStore,
  runCli,
  storeEnv,
  writeUserState,
  type Expected,
  type Send,
} from '../reliability/support.ts';

/**
 * `keys rotate`, run as an operator runs it (the real CLI in its own process) against stores written
 * through the API. OLD is the key the data was written with; NEW is the key rotated to.
 */
const OLD = TEST_MASTER_KEY;
const OLD_ID = keyFingerprint(Buffer.from(OLD, 'base64'));
const NEW = `new-2026:${Buffer.alloc(32, 11).toString('base64')}`;
const BOTH = `${NEW},${OLD}`;
const UNRELATED = `lost:${Buffer.alloc(32, 12).toString('base64')}`;

/** Applications, users and user states (some with a refresh token) written through the API under OLD. */
async function seed(send: Send, expected: Expected, apps: number) {
  const admin = await login(send);
  const created: Array<{ id: string; client_id: string }> = [];
  for (let i = 0; i < apps; i += 1) {
    const app = await createApplication(send, admin, expected, `rotate ${i}`);
    assert.equal(app.reply.statusCode, 200, app.reply.body);
    created.push({ id: app.id!, client_id: app.client_id });
  }
  // One rotated client secret: the replaced one is kept, sealed, as the previous secret (rotated too).
  const rotated = created[0].client_id;
  const newSecret = randomSecret();
  const patched = await send('PATCH', `/api/4.0/external_oauth_applications/${encodeURIComponent(rotated)}`, { client_secret: newSecret }, admin);
  assert.equal(patched.statusCode, 200, patched.body);
  expected.set(`external_oauth_applications.previous_client_secret|${rotated}`, expected.get(appSecretKey(rotated))!);
  expected.set(appSecretKey(rotated), newSecret);
  const users = [await createUser(send, admin), await createUser(send, admin)];
  for (const [u, userId] of users.entries()) {
    for (const [i, app] of created.entries()) {
      if ((i + u) % 2 === 0) assert.equal((await writeUserState(send, admin, expected, userId, app.id, i % 3 === 0)).statusCode, 200);
    }
  }
  return { admin, created, users };
}

async function seededStore(apps: number) {
  const t = await buildTestApp({ EOA_MASTER_KEY: OLD });
  const expected: Expected = new Map();
  await seed(injectClient(t), expected, apps);
  await t.close();
  return { config: t.config, expected };
}

function assertAllOpen(contents: Awaited<ReturnType<typeof readStore>>, expected: Expected) {
  assert.deepEqual(contents.failures, []);
  assert.equal(contents.values.size, expected.size, 'every value written is stored, and nothing else');
  for (const [key, secret] of expected) assert.equal(contents.values.get(key), secret, `${key} opens to what was written`);
}

describe('keys rotate', () => {
  test('re-seals every secret under the new key, after which the old key can be removed; running it again does nothing', async () => {
    const { config, expected } = await seededStore(9);
    const run = await runCli(['keys', 'rotate', '--batch-size', '4'], storeEnv(config, BOTH)).done;
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, new RegExp(`examined ${expected.size}, re-sealed ${expected.size}, already current 0`));
    assert.match(run.stdout, /older keys can now be removed/);
    assert.deepEqual(leakedSecrets(run.stdout + run.stderr, expected.values()), []);
    // stdout is the result alone; progress went to stderr, ending with its summary.
    assert.equal(run.stdout.split('\n').length, 4, run.stdout);
    assert.match(run.stderr, new RegExp(`^re-sealing stored secrets: done, ${expected.size} values in `, 'm'));

    const afterRotation = await readStore(config, NEW);
    assertAllOpen(afterRotation, expected);
    assert.deepEqual(afterRotation.byKeyId, { 'new-2026': expected.size });

    const again = await runCli(['keys', 'rotate'], storeEnv(config, BOTH)).done;
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, new RegExp(`examined ${expected.size}, re-sealed 0, already current ${expected.size}`));
  });

  test('a rotation killed mid-way leaves every secret readable, and running it again finishes the job', async () => {
    const { config, expected } = await seededStore(12);
    const run = cli(['keys', 'rotate', '--batch-size', '3', '--pause-ms', '500'], storeEnv(config, BOTH));
    // The first progress line comes after the first committed batch.
    await run.waitFor(/^re-sealing stored secrets: \d+%/m, 'stderr');
    run.kill();
    const killed = await run.done;
    assert.equal(killed.signal, 'SIGKILL', 'the rotation was killed, not finished');

    const halfway = await readStore(config, BOTH);
    assertAllOpen(halfway, expected);
    assert.ok((halfway.byKeyId['new-2026'] ?? 0) > 0, `some values were re-sealed before the kill: ${JSON.stringify(halfway.byKeyId)}`);
    assert.ok((halfway.byKeyId[OLD_ID] ?? 0) > 0, `some values were still under the old key: ${JSON.stringify(halfway.byKeyId)}`);
    console.log(`# interrupted rotation: ${JSON.stringify(halfway.byKeyId)} of ${expected.size} values at the kill`);

    const resumed = await runCli(['keys', 'rotate', '--batch-size', '3'], storeEnv(config, BOTH)).done;
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
    assert.match(resumed.stdout, new RegExp(`re-sealed ${halfway.byKeyId[OLD_ID]}, already current ${halfway.byKeyId['new-2026']}`));
    const done = await readStore(config, NEW);
    assertAllOpen(done, expected);
    assert.deepEqual(done.byKeyId, { 'new-2026': expected.size });
  });

  test('a value no configured key opens is reported by row, left as it is, and the command fails', async () => {
    const { config, expected } = await seededStore(2);
    // A third application written under a key that is not in the rotation's list (a server given only that
    // key refuses to start on this store unless told to, since it cannot open what is already there).
    const stray = await buildTestApp({ EOA_MASTER_KEY: UNRELATED }, { ...config, masterKey: UNRELATED, allowMissingKeys: true });
    const strayExpected: Expected = new Map();
    const app = await createApplication(injectClient(stray), stray.adminToken, strayExpected, 'stray');
    assert.equal(app.reply.statusCode, 200);
    await stray.close();

    const run = await runCli(['keys', 'rotate'], storeEnv(config, BOTH)).done;
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.ok(run.stdout.includes(`unreadable with the configured keys: external_oauth_applications.client_secret (${app.client_id})`), run.stdout);
    assert.match(run.stdout, /NOT DONE: .*1 unreadable/);
    assert.deepEqual(leakedSecrets(run.stdout + run.stderr, [...expected.values(), ...strayExpected.values()]), []);
    const stillThere = await readStore(config, UNRELATED);
    assert.equal(stillThere.values.get(appSecretKey(app.client_id)), strayExpected.get(appSecretKey(app.client_id)));
  });

  test('refuses to start without a key list or with a bad option, before touching the store', async () => {
    const dataDir = makeDataDir();
    assert.equal(await keysCommand(loadConfig({ EOA_DATA_DIR: dataDir }), ['rotate']), 2);
    const config = loadConfig({ EOA_DATA_DIR: dataDir, EOA_MASTER_KEY: BOTH });
    for (const args of [['rotate', '--batch-size', '0'], ['rotate', '--pause-ms'], ['rotate', '--fast', '1'], ['spin']]) {
      assert.equal(await keysCommand(config, args), 2, args.join(' '));
    }
    assert.deepEqual(fs.readdirSync(dataDir), [], 'no store and no key file were created');
  });

  describe('while the service keeps serving', () => {
    let t: TestApp;
    before(async () => {
      t = await buildTestApp();
    });
    after(() => t.close());

    test('a secret updated between the read and the re-seal keeps its new value (compare-and-set)', async () => {
      const expected: Expected = new Map();
      const send = injectClient(t);
      const app = await createApplication(send, t.adminToken, expected, 'cas');
      const repos = createRepositories(t.app.store.db);
      let read;
      for await (const batch of storedSecrets(repos, 100)) read ??= batch.find((s) => s.row === app.client_id);
      assert.ok(read, 'the walk finds the application');
      const updated = await send('PATCH', `/api/4.0/external_oauth_applications/${encodeURIComponent(app.client_id)}`, { client_secret: 'cas-updated-secret-0123456789' }, t.adminToken);
      assert.equal(updated.statusCode, 200);

      const stale = t.app.secretBox.seal(expected.get(appSecretKey(app.client_id))!, read.aad);
      assert.equal(await replaceSealedValue(t.app.store.db, read, read.sealed, stale), false, 'the stale write is refused');
      assert.equal(await t.app.services.externalOauthApplications.openClientSecret(app.client_id), 'cas-updated-secret-0123456789');
    });

    test('a server running with both keys answers every request while the rotation runs', async () => {
      const config = await testConfig({ EOA_MASTER_KEY: OLD });
      const expected: Expected = new Map();
      // Written under OLD, by a server that knows only OLD.
      const first = await startServer({ dataDir: config.dataDir, env: { EOA_MASTER_KEY: OLD, ...(config.databaseUrl ? { DATABASE_URL: config.databaseUrl } : {}) } });
      const { created, users } = await seed(httpClient(first.baseUrl), expected, 10);
      await first.stop();

      // Deploy step 1: the servers get NEW as the active key and keep OLD to read. Step 2: rotate.
      const server = await startServer({ dataDir: config.dataDir, env: { EOA_MASTER_KEY: BOTH, ...(config.databaseUrl ? { DATABASE_URL: config.databaseUrl } : {}) } });
      try {
        const send = httpClient(server.baseUrl);
        const admin = await login(send);
        const rotation = runCli(['keys', 'rotate', '--batch-size', '3', '--pause-ms', '100'], storeEnv(config, BOTH));
        let finished = false;
        void rotation.done.then(() => (finished = true));
        const statuses = new Map<number, number>();
        let requests = 0;
        // Bounded: three requests a round, until the rotation ends or 150 rounds have run.
        for (let round = 0; !finished && round < 150; round += 1) {
          const replies = await Promise.all([
            round % 3 === 0
              ? createApplication(send, admin, expected, `during ${round}`).then((a) => a.reply)
              : send('GET', '/api/4.0/external_oauth_applications', undefined, admin),
            writeUserState(send, admin, expected, users[round % 2], created[round % created.length].id, round % 2 === 0),
            send('PATCH', `/api/4.0/external_oauth_applications/${encodeURIComponent(created[(round + 3) % created.length].client_id)}`, { name: `renamed ${round}` }, admin),
          ]);
          for (const reply of replies) statuses.set(reply.statusCode, (statuses.get(reply.statusCode) ?? 0) + 1);
          requests += replies.length;
        }
        const result = await rotation.done;
        assert.equal(result.code, 0, result.stdout + result.stderr);
        assert.deepEqual([...statuses.keys()], [200], `every request during the rotation answered 200: ${JSON.stringify([...statuses])}`);
        assert.ok(requests >= 8, `requests were made while the rotation ran (${requests})`);
        console.log(`# rotation under load: ${requests} requests, all 200; ${result.stdout.split('\n').find((l) => l.startsWith('examined'))}`);
      } finally {
        await server.stop();
      }

      // Deploy step 3: the old key is removed. Everything, including what was written meanwhile, opens.
      const done = await readStore(config, NEW);
      assertAllOpen(done, expected);
      assert.deepEqual(Object.keys(done.byKeyId), ['new-2026']);
      const doctor = await runCli(['doctor'], storeEnv(config, NEW)).done;
      assert.equal(doctor.code, 0, doctor.stdout + doctor.stderr);
    });
  });
});
