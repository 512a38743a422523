import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { TEST_MASTER_KEY, makeDataDir } from '../helpers/app.ts';
import { testDatabaseUrl } from '../helpers/database.ts';
import { reachableUrl, shellQuote } from '../../src/cli/first-start-banner.ts';
import { cli, lines } from './cli-process.ts';

/**
 * The first start on an empty store, without EOA_BOOTSTRAP_*: the service makes the first admin and
 * prints its credentials once, with a login command that works when pasted into a shell as it is.
 */
describe('first-start banner', () => {
  test('the login command, pasted as is into sh, logs in; the console and API reference it names answer', async () => {
    const database = await testDatabaseUrl();
    // LOG_LEVEL info: the log is on stdout beside the banner, and must not hold the secret.
    const env = { HOST: '127.0.0.1', PORT: '0', EOA_DATA_DIR: makeDataDir(), EOA_MASTER_KEY: TEST_MASTER_KEY, LOG_LEVEL: 'info', ...(database ? { DATABASE_URL: database } : {}) };
    const server = cli(['serve'], env);
    try {
      const [, baseUrl] = await server.waitFor(/^external-oauth-apps listening on (http:\/\/\S+)$/m, 'stdout');
      const banner = await server.waitFor(/^ First start:[\s\S]+?\n=+\n/m, 'stdout');
      const text = banner[0];
      const clientSecret = /^ {3}client_secret: (\S+)$/m.exec(text)![1];
      const clientId = /^ {3}client_id: {5}(\S+)$/m.exec(text)![1];
      const login = /^ Log in.*\n {3}(curl .+)$/m.exec(text)![1];

      // The line exactly as printed, run by a POSIX shell.
      const reply = JSON.parse(execFileSync('sh', ['-c', `${login} --silent --show-error --fail`], { encoding: 'utf8', timeout: 30_000 })) as { access_token: string };
      assert.match(reply.access_token, /\S{20,}/);
      const me = await fetch(`${baseUrl}/api/4.0/user`, { headers: { authorization: `Bearer ${reply.access_token}` } });
      assert.equal(me.status, 200);
      assert.equal(String(((await me.json()) as { id: string | number }).id), '1');

      const consoleUrl = /^ {3}console .*: (http\S+)$/m.exec(text)![1];
      const reference = /^ {3}API reference: (http\S+)$/m.exec(text)![1];
      assert.equal(consoleUrl, `${baseUrl}/console`);
      for (const url of [consoleUrl, reference]) {
        const response = await fetch(url, { redirect: 'manual' });
        assert.ok(response.status < 400, `${url}: ${response.status}`);
      }
      assert.match(text, /README\.md/);

      // The secret is in the banner (the client_secret line and the login command) and nowhere else:
      // never in a log line, never on stderr.
      const { stdout, stderr } = await stopped(server);
      assert.equal(stdout.split(clientSecret).length - 1, 2, 'shown twice, both in the banner');
      const logLines = lines(stdout).filter((line) => line.startsWith('{'));
      assert.ok(logLines.length > 0, 'the log was written to stdout');
      assert.deepEqual(logLines.filter((line) => line.includes(clientSecret)), []);
      assert.ok(!stderr.includes(clientSecret));
      assert.ok(clientId.length > 0);

      // A second start finds its admin: no banner.
      const again = cli(['serve'], env);
      await again.waitFor(/listening on/, 'stdout');
      const second = await stopped(again);
      assert.ok(!second.stdout.includes('First start'), second.stdout);
    } finally {
      server.kill('SIGTERM');
    }
  });

  test('shell quoting survives what a POSIX shell treats specially', () => {
    for (const word of ["it's", 'a b', '$HOME', '`id`', 'x;y', 'plain-word_1.2:3', "'", '']) {
      const echoed = execFileSync('sh', ['-c', `printf %s ${shellQuote(word)}`], { encoding: 'utf8' });
      assert.equal(echoed, word, shellQuote(word));
    }
  });

  test('a wildcard address is shown as the loopback address a client can reach', () => {
    assert.equal(reachableUrl({ address: '0.0.0.0', family: 'IPv4', port: 8080 }, '0.0.0.0', 8080), 'http://127.0.0.1:8080');
    assert.equal(reachableUrl({ address: '::', family: 'IPv6', port: 8080 }, '::', 8080), 'http://[::1]:8080');
    assert.equal(reachableUrl(null, '10.1.2.3', 19999), 'http://10.1.2.3:19999');
  });
});

async function stopped(server: ReturnType<typeof cli>) {
  server.kill('SIGTERM');
  const result = await server.done;
  assert.equal(result.code, 0, `SIGTERM drains and exits 0: ${result.stderr}`);
  return result;
}
