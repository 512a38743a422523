import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { ADMIN, bearer, buildTestApp, json, type TestApp } from '../helpers/app.ts';
import { assertResponse, assertSchema } from '../helpers/contract.ts';

describe('request body limit', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  test('a JSON body over 1 MiB gets 413 with Looker’s Error body', async () => {
    const response = await t.inject({
      method: 'POST',
      url: '/api/4.0/users',
      headers: { ...bearer(t.adminToken), 'content-type': 'application/json' },
      payload: JSON.stringify({ first_name: 'x'.repeat(1024 * 1024) }),
    });
    assert.equal(response.statusCode, 413);
    assertResponse('create_user', response);
    assert.equal(json(response).message, 'Request body is too large');
  });

  test('a login form over 1 MiB gets 413 too', async () => {
    const response = await t.inject({
      method: 'POST',
      url: '/api/4.0/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ ...ADMIN, padding: 'x'.repeat(1024 * 1024) }).toString(),
    });
    assert.equal(response.statusCode, 413);
    assertSchema('Error', json(response));
  });

  test('a body just under the limit is read (and judged on its content)', async () => {
    const response = await t.inject({
      method: 'POST',
      url: '/api/4.0/users',
      headers: { ...bearer(t.adminToken), 'content-type': 'application/json' },
      payload: JSON.stringify({ first_name: 'x'.repeat(1000 * 1024) }),
    });
    assert.notEqual(response.statusCode, 413);
    assert.ok(response.statusCode < 500, `${response.statusCode} ${response.body.slice(0, 200)}`);
  });
});

/** What a slow client sees: everything the server sent, and whether the server hung up before the client was done. */
async function slowClient(port: number, head: string, drip: (i: number) => string, drips: number): Promise<{ received: string; cutOff: boolean }> {
  const socket = net.connect(port, '127.0.0.1');
  let received = '';
  let closed = false;
  socket.on('data', (chunk) => (received += chunk));
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.once('close', () => (closed = true));
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(head);
  for (let i = 0; i < drips && !closed; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    if (!closed) socket.write(drip(i));
  }
  const cutOff = closed;
  socket.destroy();
  await ended;
  return { received, cutOff };
}

describe('slow clients', () => {
  let t: TestApp;
  let port: number;
  before(async () => {
    // Small timeouts so the test is quick; the client below is far slower than either.
    t = await buildTestApp({ EOA_HEADERS_TIMEOUT_MS: '300', EOA_REQUEST_TIMEOUT_MS: '600' });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    port = (t.app.server.address() as net.AddressInfo).port;
  });
  after(() => t.close());

  test('a client that sends its headers a line at a time is cut off with 408', async () => {
    // 100 header lines, one every 100 ms: 10 s of headers, far past the 300 ms allowed.
    const { received, cutOff } = await slowClient(port, 'GET /versions HTTP/1.1\r\nHost: 127.0.0.1\r\n', (i) => `X-Slow-${i}: y\r\n`, 100);
    assert.ok(cutOff, 'the server closed the connection before the headers were finished');
    assert.match(received, /^HTTP\/1\.1 408 /);
  });

  test('a client that sends its body a byte at a time is cut off with 408', async () => {
    const head =
      'POST /api/4.0/login HTTP/1.1\r\nHost: 127.0.0.1\r\n' +
      'Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n';
    const { received, cutOff } = await slowClient(port, head, () => 'x', 100);
    assert.ok(cutOff, 'the server closed the connection before the body was finished');
    assert.match(received, /^HTTP\/1\.1 408 /);
  });

  test('a client at normal speed is served', async () => {
    const response = await fetch(`http://127.0.0.1:${port}/versions`);
    assert.equal(response.status, 200);
  });
});

describe('client address and EOA_TRUST_PROXY', () => {
  const fromProxy = (t: TestApp, forwardedFor: string) =>
    t.inject({ method: 'GET', url: '/versions', remoteAddress: '10.0.0.1', headers: { 'x-forwarded-for': forwardedFor } });

  test('by default X-Forwarded-For is ignored: everyone behind one address shares its allowance', async () => {
    const t = await buildTestApp({ EOA_RATE_LIMIT_MAX: '2' });
    try {
      assert.equal((await fromProxy(t, '192.0.2.1')).statusCode, 200);
      assert.equal((await fromProxy(t, '192.0.2.2')).statusCode, 200);
      assert.equal((await fromProxy(t, '192.0.2.3')).statusCode, 429, 'a forged X-Forwarded-For buys no fresh allowance');
    } finally {
      await t.close();
    }
  });

  test('with EOA_TRUST_PROXY the forwarded client address is the one counted', async () => {
    const t = await buildTestApp({ EOA_RATE_LIMIT_MAX: '2', EOA_TRUST_PROXY: '10.0.0.1' });
    try {
      for (const client of ['192.0.2.1', '192.0.2.2', '192.0.2.3']) {
        const response = await fromProxy(t, client);
        assert.equal(response.statusCode, 200);
        assert.equal(response.headers['x-ratelimit-remaining'], '1', `${client} has its own allowance`);
      }
      assert.equal((await fromProxy(t, '192.0.2.1')).statusCode, 200);
      assert.equal((await fromProxy(t, '192.0.2.1')).statusCode, 429);
      // A request that does not come from the trusted proxy is counted by its own address.
      const direct = await t.inject({ method: 'GET', url: '/versions', remoteAddress: '10.9.9.9', headers: { 'x-forwarded-for': '192.0.2.1' } });
      assert.equal(direct.statusCode, 200);
    } finally {
      await t.close();
    }
  });
});

describe('CORS', () => {
  const ORIGIN = 'https://console.example.com';
  const preflight = {
    method: 'OPTIONS' as const,
    url: '/api/4.0/user',
    headers: { origin: ORIGIN, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
  };

  test('is off by default: no Access-Control headers, and a preflight is an unknown path', async () => {
    const t = await buildTestApp();
    try {
      const response = await t.inject({ method: 'GET', url: '/api/4.0/user', headers: { ...bearer(t.adminToken), origin: ORIGIN } });
      assert.equal(response.statusCode, 200);
      assert.equal(response.headers['access-control-allow-origin'], undefined);
      const options = await t.inject(preflight);
      assert.equal(options.statusCode, 404);
      assertSchema('Error', json(options));
      assert.equal(options.headers['access-control-allow-origin'], undefined);
    } finally {
      await t.close();
    }
  });

  test('EOA_CORS_ORIGINS allows the listed origins only', async () => {
    const t = await buildTestApp({ EOA_CORS_ORIGINS: `${ORIGIN}, https://other.example.com`, EOA_RATE_LIMIT_MAX: '100' });
    try {
      const options = await t.inject(preflight);
      assert.equal(options.statusCode, 204, 'a preflight carries no token and is answered without one');
      assert.equal(options.headers['access-control-allow-origin'], ORIGIN);
      assert.match(String(options.headers['access-control-allow-methods']), /\bPATCH\b/);
      assert.match(String(options.headers['access-control-allow-headers']), /\bauthorization\b/);
      assert.equal(options.headers['access-control-allow-credentials'], undefined);

      const response = await t.inject({ method: 'GET', url: '/api/4.0/user', headers: { ...bearer(t.adminToken), origin: ORIGIN } });
      assert.equal(response.statusCode, 200);
      assert.equal(response.headers['access-control-allow-origin'], ORIGIN);
      assert.match(String(response.headers['access-control-expose-headers']), /x-ratelimit-remaining/);
      assert.match(String(response.headers['access-control-expose-headers']), /retry-after/);

      const stranger = await t.inject({ method: 'GET', url: '/api/4.0/user', headers: { ...bearer(t.adminToken), origin: 'https://evil.example.net' } });
      assert.equal(stranger.headers['access-control-allow-origin'], undefined);
      const strangerPreflight = await t.inject({ ...preflight, headers: { ...preflight.headers, origin: 'https://evil.example.net' } });
      assert.equal(strangerPreflight.headers['access-control-allow-origin'], undefined);
    } finally {
      await t.close();
    }
  });
});

describe('HTML pages', () => {
  test('/docs/errors carries security headers', async () => {
    const t = await buildTestApp();
    try {
      const response = await t.inject({ method: 'GET', url: '/docs/errors' });
      assert.equal(response.statusCode, 200);
      assert.match(String(response.headers['content-type']), /^text\/html/);
      assert.match(String(response.headers['content-security-policy']), /default-src 'none'/);
      assert.doesNotMatch(String(response.headers['content-security-policy']), /script-src/);
      assert.equal(response.headers['x-content-type-options'], 'nosniff');
      assert.equal(response.headers['x-frame-options'], 'DENY');
      assert.equal(response.headers['referrer-policy'], 'no-referrer');
      assert.match(response.body, /id="429"/, 'the page documents the 429 a limited client is pointed to');
    } finally {
      await t.close();
    }
  });
});
