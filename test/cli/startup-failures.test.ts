import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ADMIN, TEST_MASTER_KEY, makeDataDir } from '../helpers/app.ts';
import { testDatabaseUrl } from '../helpers/database.ts';
import { SQLITE_FILE_NAME } from '../../src/store/database.ts';
import { KEY_FILE_NAME } from '../../src/crypto/master-key.ts';
import { cli, lines, type CliResult } from './cli-process.ts';
import { freePort } from '../helpers/free-port.ts';

/**
 * `serve` as an operator starts it, failing to start for each reason an operator meets first: every
 * failure is one line on stderr, no stack trace, and its own exit code (the table in `serve --help`).
 */
const OTHER_KEY = Buffer.alloc(32, 31).toString('base64');
const BOOTSTRAP = { EOA_BOOTSTRAP_CLIENT_ID: ADMIN.client_id, EOA_BOOTSTRAP_CLIENT_SECRET: ADMIN.client_secret };

function serve(env: Record<string, string>): Promise<CliResult> {
  return cli(['serve'], { HOST: '127.0.0.1', PORT: '0', EOA_DATA_DIR: makeDataDir(), ...BOOTSTRAP, ...env }).done;
}

const LINUX = process.platform === 'linux';
/** A uid the data directory's mode holds for (root's writes pass any mode). */
const UNPRIVILEGED = process.getuid?.() === 0 ? 65534 : undefined;

/**
 * Whether that uid can run the server from this checkout: a clone under a private home (mode 0700) is not
 * readable by it, and the test then says so instead of failing for a reason of its own.
 */
function unprivilegedCanRun(): boolean {
  if (UNPRIVILEGED === undefined) return true;
  const needed = ['src/main.ts', 'node_modules/tsx/package.json'].map((file) => path.resolve(file));
  const probe = `for (const f of ${JSON.stringify(needed)}) require('fs').accessSync(f, require('fs').constants.R_OK)`;
  return spawnSync(process.execPath, ['-e', probe], { uid: UNPRIVILEGED, gid: UNPRIVILEGED, stdio: 'ignore' }).status === 0;
}

/**
 * `serve` with a data directory it cannot use, killed after two minutes: a start-up that hangs fails its
 * test (code null) instead of holding the run.
 */
function serveDataDir(dataDir: string, { withKey = true, user }: { withKey?: boolean; user?: number } = {}): Promise<CliResult> {
  const env = { HOST: '127.0.0.1', PORT: '0', EOA_DATA_DIR: dataDir, ...BOOTSTRAP, ...(withKey ? { EOA_MASTER_KEY: TEST_MASTER_KEY } : {}) };
  return cli(['serve'], env, { user, killAfterMs: 120_000 }).done;
}

function assertOneLine(run: CliResult, code: number, line: RegExp) {
  const output = `${run.stdout}${run.stderr}`;
  assert.equal(run.code, code, output);
  assert.equal(lines(run.stderr).length, 1, `one line on stderr:\n${run.stderr}`);
  assert.match(run.stderr, line);
  assert.ok(!/^\s+at /m.test(output), `no stack trace:\n${output}`);
  assert.ok(!output.includes('unexpected error'), output);
}

/** A port something else holds for the duration of the tests. */
let holder: net.Server;
let takenPort: number;
before(async () => {
  holder = net.createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  takenPort = (holder.address() as net.AddressInfo).port;
});
after(() => new Promise((resolve) => holder.close(resolve)));

describe('start-up failures: one line on stderr and an exit code of their own', () => {
  test('the port is taken: exit 6, naming the address and what to do', async () => {
    const run = await serve({ PORT: String(takenPort) });
    assertOneLine(run, 6, new RegExp(`^cannot listen on 127\\.0\\.0\\.1:${takenPort}: the port is in use by another process \\(stop it, or set PORT\\) \\[EADDRINUSE\\]\\n$`));
    assert.equal(run.stdout, '', 'the admin came from EOA_BOOTSTRAP_*: no banner');
  });

  test('the port is taken on a first start without bootstrap credentials: the generated secret is still shown', async () => {
    const run = await cli(['serve'], { HOST: '127.0.0.1', PORT: String(takenPort), EOA_DATA_DIR: makeDataDir(), EOA_MASTER_KEY: TEST_MASTER_KEY }).done;
    assertOneLine(run, 6, /^cannot listen on .*\[EADDRINUSE\]\n$/);
    // It exists nowhere else: losing it would mean starting over with an empty store.
    assert.match(run.stdout, /^ {3}client_secret: \S+$/m);
  });

  test('the database is unreachable: exit 5 after EOA_DB_WAIT_S, without the password of DATABASE_URL', async () => {
    const port = await freePort();
    const run = await serve({ DATABASE_URL: `postgres://eoa:db-password-not-printed@127.0.0.1:${port}/eoa`, EOA_DB_WAIT_S: '0', EOA_MASTER_KEY: TEST_MASTER_KEY });
    assertOneLine(run, 5, /^database unreachable after 1 attempt in 0 s \(EOA_DB_WAIT_S\): .*ECONNREFUSED/);
    assert.ok(!`${run.stdout}${run.stderr}`.includes('db-password-not-printed'));
  });

  test('a database that answers but does not exist: exit 5 at once', { skip: process.env.TEST_DATABASE_URL ? false : 'needs TEST_DATABASE_URL (PostgreSQL)' }, async () => {
    const url = new URL((await testDatabaseUrl())!);
    url.pathname = '/eoa_no_such_database';
    const run = await serve({ DATABASE_URL: url.toString(), EOA_DB_WAIT_S: '30', EOA_MASTER_KEY: TEST_MASTER_KEY });
    assertOneLine(run, 5, /^cannot use the database: 3D000: database "eoa_no_such_database" does not exist\n$/);
  });

  test('a malformed EOA_MASTER_KEY, with other bad settings: exit 3, every problem in the one line', async () => {
    const run = await serve({ EOA_MASTER_KEY: 'not-a-key', LOG_LEVEL: 'loud' });
    assertOneLine(run, 3, /^invalid configuration: .*EOA_MASTER_KEY is invalid: .*; .*LOG_LEVEL.*\n$/);
    assert.equal(run.stdout, '');
  });

  test('a malformed master key file: exit 4, naming the file', async () => {
    const dataDir = makeDataDir();
    fs.writeFileSync(path.join(dataDir, KEY_FILE_NAME), 'not a key\n', { mode: 0o600 });
    const run = await serve({ EOA_DATA_DIR: dataDir });
    assertOneLine(run, 4, new RegExp(`^the master key file ${path.join(dataDir, KEY_FILE_NAME)} is not usable: `));
  });

  test('a key that does not open the stored secrets: exit 4, naming the missing key id', async () => {
    const database = await testDatabaseUrl();
    const env = { EOA_DATA_DIR: makeDataDir(), ...(database ? { DATABASE_URL: database } : {}) };
    const seeded = await cli(['seed', '1', '--prefix', 'k-'], { ...env, EOA_MASTER_KEY: TEST_MASTER_KEY }).done;
    assert.equal(seeded.code, 0, seeded.stderr);
    const run = await serve({ ...env, EOA_MASTER_KEY: OTHER_KEY });
    assertOneLine(run, 4, /^refusing to start: stored secrets are sealed under master key id\(s\) the configuration lacks: /);
  });

  test('EOA_DATA_DIR is a file: exit 7', async () => {
    const file = path.join(makeDataDir(), 'a-file');
    fs.writeFileSync(file, '');
    const run = await serve({ EOA_DATA_DIR: file, EOA_MASTER_KEY: TEST_MASTER_KEY });
    assertOneLine(run, 7, new RegExp(`^cannot use the data directory ${file} \\(EOA_DATA_DIR\\): ${file} is not a directory \\[EEXIST\\]\\n$`));
  });

  test('EOA_DATA_DIR below a file: exit 7', async () => {
    const file = path.join(makeDataDir(), 'a-file');
    fs.writeFileSync(file, '');
    const dataDir = path.join(file, 'data');
    const run = await serveDataDir(dataDir);
    assertOneLine(run, 7, new RegExp(`^cannot use the data directory ${dataDir} \\(EOA_DATA_DIR\\): a parent of ${dataDir} is not a directory \\[ENOTDIR\\]\\n$`));
  });

  // procfs refuses a new directory with ENOENT, which node's recursive mkdir took for a missing parent and
  // retried for ever: start-up spun at 100% CPU instead of failing.
  test('EOA_DATA_DIR under /proc: exit 7, not a hang', { skip: LINUX ? false : 'procfs is Linux' }, async () => {
    const [direct, deeper] = await Promise.all([serveDataDir('/proc/eoa-test'), serveDataDir('/proc/eoa-test/data')]);
    for (const [run, dataDir] of [[direct, '/proc/eoa-test'], [deeper, '/proc/eoa-test/data']] as const) {
      assertOneLine(run, 7, new RegExp(`^cannot use the data directory ${dataDir} \\(EOA_DATA_DIR\\): /proc/eoa-test cannot be created in /proc \\[ENOENT\\]\\n$`));
    }
  });

  test('EOA_DATA_DIR under /sys: exit 7', { skip: LINUX ? false : 'sysfs is Linux' }, async () => {
    const run = await serveDataDir('/sys/eoa-test');
    // root is refused by sysfs itself (EPERM), anyone else by the directory's mode (EACCES).
    assertOneLine(run, 7, /^cannot use the data directory \/sys\/eoa-test \(EOA_DATA_DIR\): \/sys\/eoa-test: (operation not permitted \[EPERM\]|permission denied \[EACCES\])\n$/);
  });

  test('EOA_DATA_DIR read-only: exit 7, naming the file it could not create', { skip: unprivilegedCanRun() ? false : `uid ${UNPRIVILEGED} cannot read this checkout` }, async () => {
    const dataDir = makeDataDir();
    fs.chmodSync(dataDir, 0o555);
    // Root writes through any mode: the server then runs as nobody, for whom the mode holds.
    const run = await serveDataDir(dataDir, { withKey: false, user: UNPRIVILEGED });
    assertOneLine(run, 7, new RegExp(`^cannot use the data directory ${dataDir} \\(EOA_DATA_DIR\\): ${path.join(dataDir, KEY_FILE_NAME)}: permission denied \\[EACCES\\]\\n$`));
  });

  test('the SQLite file is not a database: exit 5', async () => {
    const dataDir = makeDataDir();
    fs.writeFileSync(path.join(dataDir, SQLITE_FILE_NAME), 'this is not an SQLite database, only text long enough to be read as a header'.repeat(2));
    const run = await serve({ EOA_DATA_DIR: dataDir });
    assertOneLine(run, 5, /^cannot use the SQLite store in .*: SQLITE_NOTADB: file is not a database\n$/);
  });
});
