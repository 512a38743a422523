import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { ADMIN, buildTestApp, type TestApp } from '../helpers/app.ts';

/** Log lines at error level or above (pino: error 50, fatal 60). */
export function errorLines(logs: string[]): string[] {
  return logs.filter((line) => {
    try {
      return JSON.parse(line).level >= 50;
    } catch {
      return true;
    }
  });
}

/** One raw HTTP/1.1 exchange; resolves with what the server sent before it closed. */
function exchange(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk) => (received += chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(received));
    socket.write(request);
  });
}

/**
 * Issue 10 #6: a client that resets its connection is not an error. Node reports no address for a socket
 * that is gone (`remoteAddress` is then undefined), and the rate limit's and login guard's address code
 * threw a TypeError on it, logged at error level: anyone could fill the log with stack traces.
 */
describe('a client whose socket vanished', () => {
  let t: TestApp;
  let port: number;
  before(async () => {
    t = await buildTestApp({ EOA_RATE_LIMIT_MAX: '1000' }, undefined, (app) => {
      // What Node reports for a socket the client has reset: no peer address.
      app.server.on('connection', (socket: net.Socket) => {
        Object.defineProperty(socket, 'remoteAddress', { get: () => undefined });
      });
    });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    port = (t.app.server.address() as net.AddressInfo).port;
  });
  after(() => t.close());

  test('is counted in one shared bucket, answered normally, and nothing is logged at error level', async () => {
    const start = t.logs.length;
    const versions = await exchange(port, 'GET /versions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match(versions, /^HTTP\/1\.1 200 /);
    assert.match(versions, /x-ratelimit-remaining: 999/);
    const form = new URLSearchParams(ADMIN).toString();
    const login = await exchange(
      port,
      `POST /api/4.0/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${form.length}\r\n\r\n${form}`,
    );
    assert.match(login, /^HTTP\/1\.1 200 /);
    assert.deepEqual(errorLines(t.logs.slice(start)), []);
  });
});

describe('a client that resets its connection mid-request', () => {
  let t: TestApp;
  let port: number;
  before(async () => {
    t = await buildTestApp({ EOA_RATE_LIMIT_MAX: '1000' });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    port = (t.app.server.address() as net.AddressInfo).port;
  });
  after(() => t.close());

  async function resetAfter(text: string, waitMs: number) {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(text);
    await new Promise((resolve) => setTimeout(resolve, waitMs));
    socket.resetAndDestroy();
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
  }

  test('in its headers, in its body, or right after sending it: no error-level line, and the server keeps serving', async () => {
    const start = t.logs.length;
    const body = JSON.stringify({ name: 'reset', client_id: 'reset', client_secret: 's3cret-value' });
    const head = `POST /api/4.0/external_oauth_applications HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t.adminToken}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    for (const waitMs of [0, 5, 50]) {
      await resetAfter(head.slice(0, 40), waitMs);
      await resetAfter(head + body.slice(0, 10), waitMs);
      await resetAfter(head + body, waitMs);
      await resetAfter('GET /versions HTTP/1.1\r\nHost: x\r\n\r\n', waitMs);
    }
    // Let the server finish whatever it was doing for the vanished clients.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const after = await exchange(port, 'GET /versions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match(after, /^HTTP\/1\.1 200 /);
    assert.deepEqual(errorLines(t.logs.slice(start)), []);
  });
});
