import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { TEST_MASTER_KEY, makeDataDir } from '../helpers/app.ts';
import { startServer } from '../helpers/server-process.ts';
import { SQLITE_FILE_NAME } from '../../src/store/database.ts';
import { backupStore } from '../../src/cli/backup.ts';
import {
  createApplication,
  createUser,
  httpClient,
  leakedSecrets,
  login,
  readStore,
  runCli,
  writeUserState,
  type Expected,
} from '../reliability/support.ts';

const ON_POSTGRES = Boolean(process.env.TEST_DATABASE_URL);
const sqliteConfig = (dataDir: string) => ({ dataDir, databaseUrl: null, database: { poolMax: 1, statementTimeoutMs: 0 } });

describe('backup', () => {
  test('refuses on PostgreSQL (the job of pg_dump) and never writes over the live store', async () => {
    const dataDir = makeDataDir();
    const target = path.join(dataDir, 'b.sqlite');
    await assert.rejects(backupStore({ dataDir, databaseUrl: 'postgres://127.0.0.1:1/none' }, target), /SQLite store only.*pg_dump/);
    fs.writeFileSync(path.join(dataDir, SQLITE_FILE_NAME), '');
    for (const live of [SQLITE_FILE_NAME, `${SQLITE_FILE_NAME}-wal`]) {
      await assert.rejects(backupStore({ dataDir, databaseUrl: null }, path.join(dataDir, live)), /must not be the live store/);
    }
    assert.equal(fs.existsSync(target), false);
  });

  test(
    'a backup taken while writes are in flight restores every application, and its secrets open with the same key',
    { skip: ON_POSTGRES && 'the backup command copies the SQLite store; this pass runs on PostgreSQL' },
    async () => {
      const server = await startServer({ env: { DATABASE_URL: '' } });
      const expected: Expected = new Map();
      const file = path.join(makeDataDir(), 'snapshot.sqlite');
      let acknowledgedBefore: Expected;
      let written = 0;
      try {
        const send = httpClient(server.baseUrl);
        const admin = await login(send);
        const userId = await createUser(send, admin);
        for (let i = 0; i < 8; i += 1) {
          const app = await createApplication(send, admin, expected, `before ${i}`);
          assert.equal((await writeUserState(send, admin, expected, userId, app.id!, i % 2 === 0)).statusCode, 200);
        }

        // Writers keep creating applications and user states (each written once) while the backup runs.
        acknowledgedBefore = new Map(expected);
        let stop = false;
        const writer = async (w: number) => {
          for (let i = 0; !stop && i < 500; i += 1) {
            const app = await createApplication(send, admin, expected, `during ${w}-${i}`);
            assert.equal(app.reply.statusCode, 200, app.reply.body);
            assert.equal((await writeUserState(send, admin, expected, userId, app.id!, true)).statusCode, 200);
            written += 1;
          }
        };
        const writers = [writer(1), writer(2)];
        await new Promise((resolve) => setTimeout(resolve, 300));
        const run = await runCli(['backup', file], { EOA_DATA_DIR: server.dataDir, EOA_MASTER_KEY: TEST_MASTER_KEY }).done;
        stop = true;
        await Promise.all(writers);
        assert.equal(run.code, 0, run.stdout + run.stderr);
        assert.match(run.stdout, /backup written to .*snapshot\.sqlite .*application\(s\)/);
        assert.deepEqual(leakedSecrets(run.stdout + run.stderr, expected.values()), []);
        assert.ok(written > 0, 'writes were in flight during the backup');
      } finally {
        await server.stop();
      }

      // Restore: the file becomes the store of a new data directory; a server starts there with the same key.
      const restoredDir = makeDataDir();
      fs.copyFileSync(file, path.join(restoredDir, SQLITE_FILE_NAME));
      const restored = await readStore(sqliteConfig(restoredDir), TEST_MASTER_KEY);
      assert.deepEqual(restored.failures, []);
      assert.equal(restored.orphanStates, 0);
      for (const [key, secret] of acknowledgedBefore) assert.equal(restored.values.get(key), secret, `${key} acknowledged before the backup is in it`);
      for (const [key, secret] of restored.values) assert.equal(secret, expected.get(key), `${key} in the backup is what was written`);
      assert.ok(restored.applications >= 8 && restored.applications <= 8 + written);

      const again = await startServer({ dataDir: restoredDir, env: { DATABASE_URL: '' } });
      try {
        const send = httpClient(again.baseUrl);
        const list = await send('GET', '/api/4.0/external_oauth_applications', undefined, await login(send));
        assert.equal(list.statusCode, 200);
        assert.equal(JSON.parse(list.body).length, restored.applications);
      } finally {
        await again.stop();
      }
      console.log(`# backup under load: ${restored.applications} applications in the snapshot, ${written} pairs written during it`);
    },
  );
});
