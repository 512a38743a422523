import { after, before, describe, test } from 'node:test';
import type { InjectOptions } from 'fastify';
import assert from 'node:assert/strict';
import { ADMIN, buildTestApp, json, type TestApp } from './helpers/app.ts';
import { loggablePath, withoutQueries } from '../src/http/request-log.ts';
import { auditSecret } from './helpers/audit.ts';

describe('request logging', () => {
  let t: TestApp;
  /** Everything secret the app saw or handed out during the session below. */
  const secrets: string[] = [ADMIN.client_secret];
  const responses: Array<{ reqId: string; statusCode: number; method: string; url: string }> = [];
  let logStart = 0;

  before(async () => {
    t = await buildTestApp();
    secrets.push(t.adminToken);
    logStart = t.logs.length;

    const send = async (options: InjectOptions & { method: string; url: string }) => {
      const response = await t.inject(options);
      responses.push({ reqId: String(response.headers['x-request-id']), statusCode: response.statusCode, method: options.method, url: options.url });
      return response;
    };
    const formLogin = (body: Record<string, string>) =>
      send({ method: 'POST', url: '/api/4.0/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams(body).toString() });

    const formToken = json(await formLogin(ADMIN)).access_token;
    const queryToken = json(await send({ method: 'POST', url: `/api/4.0/login?${new URLSearchParams(ADMIN)}` })).access_token;
    const jsonToken = json(await send({ method: 'POST', url: '/api/4.0/login', payload: ADMIN })).access_token;
    secrets.push(formToken, queryToken, jsonToken);
    // A failed login carries a secret too (the wrong one).
    await formLogin({ client_id: ADMIN.client_id, client_secret: 'wrong-secret-value-4711' });
    secrets.push('wrong-secret-value-4711');

    const auth = { authorization: `Bearer ${formToken}` };
    await send({ method: 'GET', url: '/api/4.0/user', headers: { authorization: `token ${queryToken}` } });
    const user = json(await send({ method: 'POST', url: '/api/4.0/users', headers: auth, payload: { first_name: 'Logged' } }));
    const creds = json(await send({ method: 'POST', url: `/api/4.0/users/${user.id}/credentials_api3`, headers: auth, payload: { purpose: 'log test' } }));
    secrets.push(creds.client_secret);
    const userToken = json(await formLogin({ client_id: creds.client_id, client_secret: creds.client_secret })).access_token;
    const sudoToken = json(await send({ method: 'POST', url: `/api/4.0/login/${user.id}`, headers: auth })).access_token;
    secrets.push(userToken, sudoToken);
    await send({ method: 'GET', url: `/api/4.0/users/${user.id}/credentials_api3`, headers: auth });
    await send({ method: 'GET', url: '/api/4.0/users', headers: { authorization: `Bearer ${userToken}` } });
    await send({ method: 'GET', url: '/api/4.0/user', headers: { authorization: 'Bearer not-a-live-token-0815' } });
    secrets.push('not-a-live-token-0815');
    await send({ method: 'POST', url: '/api/4.0/users', headers: { ...auth, 'content-type': 'application/json' }, payload: '{"first_name":' });
    await send({ method: 'GET', url: '/api/4.0/users/%E0%A4%A', headers: auth });
    await send({ method: 'GET', url: `/api/4.0/users/${'9'.repeat(3000)}`, headers: auth });
    await send({ method: 'GET', url: '/nowhere', headers: auth });
    await send({ method: 'DELETE', url: '/api/logout', headers: { authorization: `Bearer ${sudoToken}` } });
    await send({ method: 'DELETE', url: '/api/4.0/logout', headers: auth });
  });
  after(() => t.close());

  const lines = () => t.logs.slice(logStart).map((line) => JSON.parse(line));

  test('no Authorization header, token, client_secret or login body reaches the log', () => {
    const text = t.logs.join('');
    assert.ok(text.length > 0);
    for (const secret of secrets) assert.ok(!text.includes(secret), `a secret leaked: ${secret.slice(0, 6)}…`);
    assert.doesNotMatch(text, /authorization|bearer|client_secret=(?!%5Bredacted%5D)|"client_secret"|access_token"/i);
  });

  test('exactly one structured line per request, carrying its request id', () => {
    const requestLines = lines().filter((l) => l.msg === 'request');
    assert.equal(requestLines.length, responses.length);
    assert.equal(new Set(responses.map((r) => r.reqId)).size, responses.length, 'request ids are unique');
    for (const response of responses) {
      const matching = requestLines.filter((l) => l.reqId === response.reqId);
      assert.equal(matching.length, 1, `${response.method} ${response.url.slice(0, 60)}`);
      const [line] = matching;
      assert.equal(line.method, response.method);
      assert.equal(line.statusCode, response.statusCode);
      assert.equal(typeof line.ms, 'number');
      assert.equal(line.level, 30);
    }
    // Nothing else is logged at info for these requests (fastify's own request lines are off).
    assert.deepEqual(
      lines().filter((l) => l.msg !== 'request'),
      [],
    );
  });

  test('the request line names the acting user once authenticated', () => {
    const me = lines().find((l) => l.msg === 'request' && l.url === '/api/4.0/user' && l.statusCode === 200);
    assert.equal(me.userId, '1');
  });

  test('the query string of a login is not logged: the line names the path alone', () => {
    const login = lines().find((l) => l.msg === 'request' && l.method === 'POST' && l.url === '/api/4.0/login' && l.statusCode === 200);
    assert.ok(login);
    assert.ok(!lines().some((l) => String(l.url).includes('?')));
  });
});

test('loggablePath drops the whole query string, whatever its names', () => {
  assert.equal(loggablePath('/api/4.0/users?limit=5'), '/api/4.0/users');
  assert.equal(loggablePath('/x'), '/x');
  assert.equal(loggablePath('/login?api_key=s&password=p&accessToken=a'), '/login');
  assert.equal(withoutQueries('Reply was already sent for "/api/4.0/users?secret=s3cr3t" (GET)'), 'Reply was already sent for "/api/4.0/users" (GET)');
  assert.equal(withoutQueries('what? nothing to drop'), 'what? nothing to drop');
});

describe('secrets in a query string, under any name (issue 10 #5)', () => {
  test('never reach the log: not in the request line, not in an error line', async () => {
    const t = await buildTestApp();
    try {
      const start = t.logs.length;
      const secrets: string[] = [];
      let n = 0;
      for (const name of ['api_key', 'password', 'secret', 'accessToken', 'X-Api-Key', 'session', 'q', '']) {
        const secret = `query-secret-${name || 'blank'}-${(n += 1)}-4d1f9a`;
        secrets.push(secret);
        auditSecret('query string secret', secret);
        for (const url of ['/api/4.0/user', '/api/4.0/login', '/nowhere', '/api/4.0/users/%E0%A4%A', '/versions']) {
          await t.inject({ method: url === '/api/4.0/login' ? 'POST' : 'GET', url: `${url}?${encodeURIComponent(name)}=${secret}`, headers: { authorization: `Bearer ${t.adminToken}` } });
        }
        // A secret as the parameter name (not given to the audit: the 400 names an unknown parameter back to its sender).
        const asName = `query-name-secret-${n}-77ab03`;
        secrets.push(asName);
        await t.inject({ method: 'GET', url: `/api/4.0/users?${asName}`, headers: { authorization: `Bearer ${t.adminToken}` } });
      }
      t.app.log.warn({ err: new Error(`Reply was already sent for "/api/4.0/users?password=${secrets[1]}"`) }, `while sending /x?api_key=${secrets[0]}`);
      const text = t.logs.slice(start).join('');
      assert.ok(text.includes('"msg":"request"'));
      for (const secret of secrets) assert.ok(!text.includes(secret), `${secret} reached the log`);
    } finally {
      await t.close();
    }
  });
});
