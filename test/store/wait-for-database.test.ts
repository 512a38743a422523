import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { ADMIN } from '../helpers/app.ts';
import { POSTGRES_ONLY, testDatabaseUrl } from '../helpers/database.ts';
import { freePort } from '../helpers/free-port.ts';
import { spawnServe } from '../helpers/server-process.ts';
import { lines } from '../cli/cli-process.ts';

describe('start-up waits for its database', () => {
  test('a database that never comes: one line per attempt, then a one-line failure and exit 5', async () => {
    const port = await freePort();
    const run = await spawnServe({ DATABASE_URL: `postgres://eoa:db-password-not-printed@127.0.0.1:${port}/eoa`, EOA_DB_WAIT_S: '3' }).done;
    const output = `${run.stdout}${run.stderr}`;
    assert.equal(run.code, 5, output);
    // The retries are log lines (stdout); the failure is the last line on stderr.
    const retries = lines(run.stdout).filter((line) => line.includes('database not reachable yet'));
    assert.equal(retries.length, 1, output);
    assert.match(retries[0], /ECONNREFUSED.*attempt 1 of 2, retrying in 2 s/);
    assert.match(lines(run.stderr).at(-1) ?? '', /^database unreachable after 2 attempts in 3 s \(EOA_DB_WAIT_S\): .*ECONNREFUSED/);
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
      const server = spawnServe({ DATABASE_URL: late.toString(), EOA_DB_WAIT_S: '120', EOA_RATE_LIMIT_MAX: '0' });
      try {
        // Nothing listens on the port: connections are refused until the proxy below opens it.
        await server.waitFor(/database not reachable yet[^\n]*attempt 2 of/, 'stdout');
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

        const [, baseUrl] = await server.waitFor(/external-oauth-apps listening on (http:\/\/\S+)/, 'stdout');
        assert.equal((await fetch(`${baseUrl}/readyz`)).status, 200);
        const login = await fetch(`${baseUrl}/api/4.0/login`, { method: 'POST', body: new URLSearchParams(ADMIN) });
        assert.equal(login.status, 200);
      } finally {
        server.kill('SIGTERM');
      }
      const run = await server.done;
      assert.equal(run.code, 0, `${run.stdout}${run.stderr}`);
      assert.ok(!/^\s+at /m.test(`${run.stdout}${run.stderr}`), 'no stack trace');
    });
  });
});
