import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN } from '../helpers/app.ts';
import { startServer, type ServerProcess } from '../helpers/server-process.ts';
import { freePort } from '../helpers/free-port.ts';

/**
 * Nothing is served before the store is migrated and the first admin exists: a client that logs in the
 * moment the port answers (as a deploy script or an orchestrator's first probe does) finds its admin, and
 * the first /readyz that answers is the truth.
 */
test('the first request the real server answers already finds the first admin', async () => {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const starting = startServer({ env: { PORT: String(port) } });
  starting.catch(() => {});
  const login = () =>
    fetch(`${base}/api/4.0/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(ADMIN).toString(),
      signal: AbortSignal.timeout(30_000),
    });

  let first: Response | null = null;
  // Hammer the port while the process starts; connection refused until it listens.
  for (let i = 0; i < 30_000 && first === null; i++) {
    try {
      first = await login();
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }
  let server: ServerProcess | null = null;
  try {
    assert.ok(first, 'the server answered');
    const body = await first.text();
    assert.equal(first.status, 200, `the first answer was ${first.status} ${body}`);
    server = await starting;
    const ready = await fetch(`${base}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ready' });
  } finally {
    server ??= await starting.catch(() => null);
    await server?.stop();
  }
});
