import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ADMIN, TEST_MASTER_KEY } from '../helpers/app.ts';
import { auditLog } from '../helpers/audit.ts';
import { ROOT, appSecretKey, createApplication, httpClient, login, readStore, type Expected, type Send } from './support.ts';

/**
 * The data directory and the log on one small filesystem that fills up: the real server process keeps
 * answering every request (writes with 503 + Retry-After, reads and /versions with 200), loses nothing it
 * acknowledged, says not ready while it cannot write, and writes again once space returns, unrestarted.
 * Mounting a tmpfs needs root (CI runs the tests as root).
 */
const SKIP =
  process.platform !== 'linux' || process.getuid?.() !== 0
    ? 'needs root on Linux to mount a small tmpfs (CI runs tests as root)'
    : false;

const TMPFS_SIZE = '24m';
const MAX_CREATES_UNTIL_FULL = 400;

describe('a full disk under the data directory and the log', () => {
  let mountPoint: string;
  let mounted = false;
  let server: { child: ChildProcess; baseUrl: string; stderr: () => string; stop: () => Promise<void> } | null = null;
  const dataDir = () => path.join(mountPoint, 'data');
  const logFile = () => path.join(mountPoint, 'server.log');
  const filler = () => path.join(mountPoint, 'filler');

  before(() => {
    if (SKIP) return;
    mountPoint = fs.mkdtempSync(path.join(os.tmpdir(), 'eoa-full-disk-'));
    const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_SIZE},mode=0700`, 'tmpfs', mountPoint], { encoding: 'utf8' });
    assert.equal(mount.status, 0, `mount failed: ${mount.stderr}`);
    mounted = true;
  });

  after(async () => {
    if (SKIP) return;
    await server?.stop();
    if (mounted && fs.existsSync(logFile())) auditLog(fs.readFileSync(logFile(), 'utf8'));
    // Unmounted even when a test failed; lazily if something still holds a file open.
    if (mounted) spawnSync('umount', ['-l', mountPoint]);
    fs.rmSync(mountPoint, { recursive: true, force: true });
  });

  /** `npm start`, with stdout (the log) appended to a file on the small filesystem. */
  async function start() {
    const out = fs.openSync(logFile(), 'a', 0o600);
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        PORT: '0',
        HOST: '127.0.0.1',
        EOA_DATA_DIR: dataDir(),
        EOA_MASTER_KEY: TEST_MASTER_KEY,
        EOA_BOOTSTRAP_CLIENT_ID: ADMIN.client_id,
        EOA_BOOTSTRAP_CLIENT_SECRET: ADMIN.client_secret,
        EOA_RATE_LIMIT_MAX: '0',
      },
      stdio: ['ignore', out, 'pipe'],
    });
    fs.closeSync(out);
    let stderr = '';
    child.stderr!.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const startedAt = fs.statSync(logFile()).size;
    let baseUrl: string | null = null;
    for (let i = 0; i < 300 && !baseUrl; i++) {
      if (child.exitCode !== null) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
      const text = fs.readFileSync(logFile(), 'utf8').slice(startedAt);
      baseUrl = /external-oauth-apps listening on (http:\/\/\S+)/.exec(text)?.[1] ?? null;
    }
    assert.ok(baseUrl, `the server did not start:\n${stderr}`);
    server = {
      child,
      baseUrl,
      stderr: () => stderr,
      async stop() {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        await exited;
        server = null;
      },
    };
    return server;
  }

  /** Writes the filler until the filesystem has no byte left. */
  function fillUp() {
    const fd = fs.openSync(filler(), 'a');
    const chunk = Buffer.alloc(64 * 1024, 1);
    try {
      for (let i = 0; i < 1024; i++) fs.writeSync(fd, chunk);
      assert.fail('the filesystem never filled up');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
    } finally {
      fs.closeSync(fd);
    }
    // Small writes can still find room in a partly used last block: fill those too.
    const small = fs.openSync(filler(), 'a');
    try {
      for (let i = 0; i < 1024; i++) fs.writeSync(small, Buffer.alloc(512, 1));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
    } finally {
      fs.closeSync(small);
    }
  }

  test('every request is answered, nothing acknowledged is lost, and writes resume once space returns', { skip: SKIP }, async () => {
    const { baseUrl, child, stderr } = await start();
    const send: Send = httpClient(baseUrl);
    const token = await login(send);
    const expected: Expected = new Map();
    for (let i = 0; i < 5; i++) assert.equal((await createApplication(send, token, expected, `before ${i}`)).reply.statusCode, 200);

    fillUp();
    const statuses: number[] = [];
    let unavailable = 0;
    for (let i = 0; i < MAX_CREATES_UNTIL_FULL && unavailable < 5; i++) {
      const created = await createApplication(send, token, expected, `full ${i}`);
      statuses.push(created.reply.statusCode);
      if (created.reply.statusCode === 503) {
        unavailable += 1;
        const body = JSON.parse(created.reply.body);
        assert.deepEqual(Object.keys(body).sort(), ['documentation_url', 'message']);
        assert.match(body.documentation_url, /\/docs\/errors#503$/);
      } else {
        assert.equal(created.reply.statusCode, 200, created.reply.body);
      }
      // Reads and /versions keep working whatever the writes do.
      assert.equal((await send('GET', '/versions')).statusCode, 200);
      assert.equal((await send('GET', '/api/4.0/external_oauth_applications?limit=5', undefined, token)).statusCode, 200);
    }
    assert.equal(unavailable, 5, `creates on a full disk answer 503 (statuses: ${statuses.join(',')})`);
    const retry = await fetch(`${baseUrl}/api/4.0/external_oauth_applications`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'retry-after', client_id: 'retry-after', client_secret: 'retry-after-secret-0123' }),
    });
    assert.equal(retry.status, 503);
    assert.match(retry.headers.get('retry-after') ?? '', /^\d+$/);
    await retry.text();

    const notReady = await send('GET', '/readyz');
    assert.equal(notReady.statusCode, 503, notReady.body);
    assert.match(notReady.body, /out of space/);
    assert.equal(child.exitCode, null, 'the process is still running');
    assert.match(stderr(), /writing the log failed \(ENOSPC\)/, 'one warning about the log on stderr');
    assert.equal(stderr().match(/writing the log failed/g)?.length, 1);

    // Space returns: readiness and writes come back without a restart.
    fs.rmSync(filler());
    const ready = await send('GET', '/readyz');
    assert.equal(ready.statusCode, 200, ready.body);
    for (let i = 0; i < 3; i++) assert.equal((await createApplication(send, token, expected, `after ${i}`)).reply.statusCode, 200);
    assert.match(stderr(), /writing the log works again/);
    await server!.stop();

    const log = fs.readFileSync(logFile(), 'utf8');
    assert.match(log, /SQLITE_FULL/, 'the log reports the real error once it can be written again');
    assert.doesNotMatch(log, /cannot rollback/);

    // Nothing acknowledged is lost: every application answered with 200 is in the store, with its secret.
    const stored = await readStore({ dataDir: dataDir(), databaseUrl: null, database: { poolMax: 1, statementTimeoutMs: 0 } }, TEST_MASTER_KEY);
    assert.deepEqual(stored.failures, []);
    for (const [key, secret] of expected) assert.equal(stored.values.get(key), secret, `${key} was acknowledged and is stored`);
    assert.equal(stored.values.has(appSecretKey('retry-after')), false);
    console.log(`# full disk: ${statuses.length} creates while full (${statuses.filter((s) => s === 200).length} fit), ${expected.size} acknowledged, all stored`);
  });
});
