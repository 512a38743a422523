import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { buildTestApp } from '../helpers/app.ts';
import { assertSchema } from '../helpers/contract.ts';

/** Splits one raw HTTP/1.1 response: status, lower-cased headers, body. */
function parse(raw: string) {
  const [head, ...rest] = raw.split('\r\n\r\n');
  const [statusLine, ...lines] = head.split('\r\n');
  const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  return { status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') };
}

/**
 * Issue 10 #11: the 503 sent while draining and Node's own 400 for a request it cannot parse were not
 * Looker's error body and carried no x-request-id.
 */
describe("answers no route gives, in Looker's error shape", () => {
  test('a request arriving on a kept-alive connection while the server drains: 503, Retry-After, x-request-id', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let holding!: () => void;
    const isHolding = new Promise<void>((resolve) => (holding = resolve));
    const t = await buildTestApp({}, undefined, (app) => {
      app.get('/test/hold', { config: { access: 'public' } }, async () => {
        holding();
        await held;
        return { held: true };
      });
    });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = t.app.server.address() as net.AddressInfo;
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk) => (received += chunk));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write('GET /test/hold HTTP/1.1\r\nHost: x\r\n\r\n');
    await isHolding;
    const closing = t.close();
    // Draining has begun once the server stops accepting; the open connection still delivers a request.
    await new Promise((resolve) => setTimeout(resolve, 50));
    socket.write('GET /versions HTTP/1.1\r\nHost: x\r\nX-Request-Id: drain-check-1\r\n\r\n');
    await new Promise((resolve) => setTimeout(resolve, 50));
    release();
    await closed;
    await closing;
    const second = received.slice(received.indexOf('HTTP/1.1', 10));
    const answer = parse(second);
    assert.equal(answer.status, 503, received);
    assert.equal(answer.headers['x-request-id'], 'drain-check-1');
    assert.equal(answer.headers['retry-after'], '5');
    assert.equal(answer.headers['x-content-type-options'], 'nosniff');
    assert.match(answer.headers['content-type'], /^application\/json/);
    assertSchema('Error', JSON.parse(answer.body));
    assert.equal(JSON.parse(answer.body).message, 'Service Unavailable');
  });

  test('a request Node cannot parse: 400 with Looker’s body, an x-request-id and nosniff', async () => {
    const t = await buildTestApp();
    try {
      await t.app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = t.app.server.address() as net.AddressInfo;
      for (const request of ['GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n', 'NOT HTTP AT ALL\r\n\r\n', 'GET /versions HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n']) {
        const raw = await new Promise<string>((resolve) => {
          const socket = net.connect(port, '127.0.0.1');
          let received = '';
          socket.on('data', (chunk) => (received += chunk));
          socket.on('error', () => {});
          socket.on('close', () => resolve(received));
          socket.write(request);
        });
        const answer = parse(raw);
        assert.equal(answer.status, 400, JSON.stringify(request));
        assert.match(answer.headers['x-request-id'], /^[0-9a-f-]{36}$/);
        assert.equal(answer.headers['x-content-type-options'], 'nosniff');
        assertSchema('Error', JSON.parse(answer.body));
        assert.equal(JSON.parse(answer.body).documentation_url, '/docs/errors#400');
      }
    } finally {
      await t.close();
    }
  });
});
