import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN } from '../helpers/app.ts';
import { startServer, type ServerProcess } from '../helpers/server-process.ts';
import { lookerSdk } from '../helpers/looker-sdk.ts';

let server: ServerProcess;
before(async () => {
  server = await startServer();
});
after(() => server.stop());

test('the official SDK logs in and reads the current user', async () => {
  const sdk = lookerSdk(server.baseUrl, ADMIN);
  const me = await sdk.ok(sdk.me());
  assert.equal(me.id, '1');
  await sdk.authSession.logout();
});
