import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADMIN, TEST_MASTER_KEY, makeDataDir } from '../helpers/app.ts';
import { auditLog } from '../helpers/audit.ts';
import { POSTGRES_ONLY, testDatabaseUrl } from '../helpers/database.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** A port nothing listens on (yet): bound to learn a free number, then released. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** `serve` as npm start runs it; resolves when `until` matches the output or the process exits. */
function serve(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', HOST: '127.0.0.1', EOA_DATA_DIR: makeDataDir(), EOA_MASTER_KEY: TEST_MASTER_KEY, EOA_BOOTSTRAP_CLIENT_ID: ADMIN.client_id, EOA_BOOTSTRAP_CLIENT_SECRET: ADMIN.client_secret, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const waiters: (() => void)[] = [];
  const onOutput = (chunk: Buffer) => {
    output += chunk;
    for (const wake of waiters.splice(0)) wake();
  };
  child.stdout.on('data', onOutput);
  child.stderr.on('data', onOutput);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.once('close', () => auditLog(output));
  return {
    output: () => output,
    exited,
    /** Waits (at most 90 s) for the output to match, or the process to exit. */
    async until(pattern: RegExp): Promise<RegExpExecArray> {
      const deadline = Date.now() + 90_000;
      while (Date.now() < deadline) {
        const match = pattern.exec(output);
        if (match) return match;
        if (child.exitCode !== null) throw new Error(`exited ${child.exitCode} before ${pattern}:\n${output}`);
        await Promise.race([new Promise<void>((resolve) => waiters.push(resolve)), exited, new Promise((r) => setTimeout(r, 1000))]);
      }
      throw new Error(`no ${pattern} within 90 s:\n${output}`);
    },
    stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

describe('start-up waits for its database', () => {
  test('a database that never comes: one line per attempt, then a one-line failure and exit 5', async () => {
    const port = await freePort();
    const server = serve({ DATABASE_URL: `postgres://eoa:db-password-not-printed@127.0.0.1:${port}/eoa`, EOA_DB_WAIT_S: '3' });
    const code = await server.exited;
    const output = server.output();
    assert.equal(code, 5, output);
    const lines = output.trim().split('\n');
    const retries = lines.filter((line) => line.includes('database not reachable yet'));
    assert.equal(retries.length, 1, output);
    assert.match(retries[0], /ECONNREFUSED.*attempt 1 of 2, retrying in 2 s/);
    assert.match(lines.at(-1)!, /^database unreachable after 2 attempts in 3 s \(EOA_DB_WAIT_S\): .*ECONNREFUSED/);
    assert.ok(!/^\s+at /m.test(output), `no stack trace:\n${output}`);
    assert.ok(!output.includes('fatal'), output);
    assert.ok(!output.includes('db-password-not-printed'), 'the password in DATABASE_URL is never printed');
  });

  describe('PostgreSQL that comes up late', () => {
    const sockets = new Set<net.Socket>();
    let proxy: net.Server | null = null;
    after(async () => {
      for (const socket of sockets) socket.destroy();
      if (proxy) await new Promise((resolve) => proxy!.close(resolve));
    });

    test('the service retries until the database answers, then serves', { skip: POSTGRES_ONLY }, async () => {
      const real = new URL((await testDatabaseUrl())!);
      const port = await freePort();
      const late = new URL(real);
      late.hostname = '127.0.0.1';
      late.port = String(port);
      const server = serve({ DATABASE_URL: late.toString(), EOA_DB_WAIT_S: '120', EOA_RATE_LIMIT_MAX: '0' });
      try {
        // Nothing listens on the port: connections are refused until the proxy below opens it.
        await server.until(/database not reachable yet[^\n]*attempt 2 of/);
        proxy = net.createServer((client) => {
          const upstream = net.connect(Number(real.port || 5432), real.hostname);
          for (const socket of [client, upstream]) {
            sockets.add(socket);
            socket.on('error', () => {});
            socket.once('close', () => sockets.delete(socket));
          }
          client.pipe(upstream).pipe(client);
        });
        await new Promise<void>((resolve) => proxy!.listen(port, '127.0.0.1', resolve));

        const [, baseUrl] = await server.until(/external-oauth-apps listening on (http:\/\/\S+)/);
        assert.equal((await fetch(`${baseUrl}/readyz`)).status, 200);
        const login = await fetch(`${baseUrl}/api/4.0/login`, { method: 'POST', body: new URLSearchParams(ADMIN) });
        assert.equal(login.status, 200);
        assert.ok(!/^\s+at /m.test(server.output()), 'no stack trace');
      } finally {
        assert.equal(await server.stop(), 0);
      }
    });
  });
});
