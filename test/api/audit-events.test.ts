import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { ADMIN, bearer, buildTestApp, json, loginToken, type TestApp } from '../helpers/app.ts';
import { assertResponse } from '../helpers/contract.ts';
import { randomSecret } from '../reliability/support.ts';

/**
 * The audit log as an operator reads it: GET /api/4.0/audit_events. Events are compared as
 * [actor, principal, action, target_type, target_id, outcome], the columns an investigation reads.
 */
type Row = Record<string, unknown> & { id: string; action: string };
const brief = (e: Row) => [e.actor_user_id, e.principal_user_id, e.action, e.target_type, e.target_id, e.outcome];

async function allEvents(t: TestApp, query = ''): Promise<Row[]> {
  const events: Row[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 1000; page += 1) {
    const url: string = `/api/4.0/audit_events?limit=3${query}${cursor ? `&cursor=${cursor}` : ''}`;
    const response = await t.inject({ method: 'GET', url, headers: bearer(t.adminToken) });
    assert.equal(response.statusCode, 200, response.body);
    assertResponse('all_audit_events', response);
    const body = json(response);
    events.push(...body.events);
    cursor = body.next_cursor;
    if (cursor === null) return events;
  }
  throw new Error('paging did not end');
}

/** The events after `afterId`, oldest first (the API answers newest first). */
async function eventsSince(t: TestApp, afterId: string, query = ''): Promise<Row[]> {
  return (await allEvents(t, query)).filter((e) => BigInt(e.id) > BigInt(afterId)).reverse();
}

async function lastEventId(t: TestApp): Promise<string> {
  const body = json(await t.inject({ method: 'GET', url: '/api/4.0/audit_events?limit=1', headers: bearer(t.adminToken) }));
  return body.events[0]?.id ?? '0';
}

describe('audit log', () => {
  let t: TestApp;
  let member: Awaited<ReturnType<TestApp['newUser']>>;
  before(async () => {
    t = await buildTestApp({ EOA_LOGIN_GUARD_MAX: '1000' });
    member = await t.newUser();
  });
  after(() => t.close());

  test('a scripted session (create, rotate, sudo, act as the user, delete) is exactly the expected trail', async () => {
    const start = await lastEventId(t);
    const admin = bearer(t.adminToken);
    const clientId = `audit/${randomBytes(4).toString('hex')} ?`;
    const path = `/api/4.0/external_oauth_applications/${encodeURIComponent(clientId)}`;
    const requestIds: string[] = [];
    const send = async (method: 'POST' | 'PATCH' | 'DELETE', url: string, headers: Record<string, string>, payload?: object) => {
      const id = randomUUID();
      requestIds.push(id);
      const response = await t.inject({ method, url, headers: { ...headers, 'x-request-id': id }, ...(payload ? { payload } : {}) });
      assert.ok(response.statusCode < 300, `${method} ${url}: ${response.statusCode} ${response.body}`);
      return response;
    };

    const app = json(await send('POST', '/api/4.0/external_oauth_applications', admin, { name: 'Audited', client_id: clientId, client_secret: randomSecret() }));
    await send('PATCH', path, admin, { client_secret: randomSecret() });
    await send('PATCH', path, admin, { name: 'Audited, renamed', client_secret: randomSecret() });
    const sudo = json(await send('POST', `/api/4.0/login/${member.id}`, admin)).access_token as string;
    await send('POST', '/api/4.0/external_oauth_applications/user_state', bearer(sudo), {
      user_id: member.id,
      oauth_application_id: app.id,
      access_token: randomSecret(),
      access_token_expires_at: '2031-01-01T00:00:00Z',
    });
    await send('DELETE', path, admin);

    const events = await eventsSince(t, start);
    assert.deepEqual(events.map(brief), [
      ['1', '1', 'external_oauth_application.create', 'external_oauth_application', clientId, 'success'],
      ['1', '1', 'external_oauth_application.rotate_secret', 'external_oauth_application', clientId, 'success'],
      ['1', '1', 'external_oauth_application.update', 'external_oauth_application', clientId, 'success'],
      ['1', '1', 'external_oauth_application.rotate_secret', 'external_oauth_application', clientId, 'success'],
      ['1', '1', 'session.login_user', 'user', member.id, 'success'],
      // Through the login/{user_id} token: acting as the member, logged in as the admin.
      [member.id, '1', 'user_state.set', 'user_state', `${member.id}/${clientId}`, 'success'],
      ['1', '1', 'external_oauth_application.delete', 'external_oauth_application', clientId, 'success'],
    ]);
    assert.deepEqual(events.map((e) => e.request_id), [requestIds[0], requestIds[1], requestIds[2], requestIds[2], ...requestIds.slice(3)]);
    assert.ok(events.every((e) => e.address === '127.0.0.1'));
    assert.deepEqual(events[2].detail, { fields: ['name'] });
    assert.ok(events.every((e) => Date.parse(e.occurred_at as string) > Date.now() - 60_000));
  });

  test('users, credentials, roles, logins and logouts are events too; failed changes are not', async () => {
    const start = await lastEventId(t);
    const admin = bearer(t.adminToken);
    // Read-only and unknown keys a client sends are ignored, and their names are not recorded either.
    const user = json(await t.inject({ method: 'POST', url: '/api/4.0/users', headers: admin, payload: { first_name: 'Audit', email: `a${randomBytes(3).toString('hex')}@example.com`, id: '99', can: {}, whatever: 1 } }));
    const taken = await t.inject({ method: 'POST', url: '/api/4.0/users', headers: admin, payload: { email: user.email } });
    assert.equal(taken.statusCode, 409);
    await t.inject({ method: 'PATCH', url: `/api/4.0/users/${user.id}`, headers: admin, payload: { last_name: 'Trail', is_disabled: false } });
    await t.inject({ method: 'PUT', url: `/api/4.0/users/${user.id}/roles`, headers: admin, payload: ['2', '2'] });
    const creds = json(await t.inject({ method: 'POST', url: `/api/4.0/users/${user.id}/credentials_api3`, headers: admin, payload: {} }));
    await t.inject({ method: 'PATCH', url: `/api/4.0/users/${user.id}/credentials_api3/${creds.id}`, headers: admin, payload: { purpose: 'ci', type: 'api3', unknown_key: 'x' } });
    const token = await loginToken(t.app, creds.client_id, creds.client_secret);
    assert.equal((await t.inject({ method: 'DELETE', url: '/api/4.0/logout', headers: bearer(token) })).statusCode, 204);
    await t.inject({ method: 'DELETE', url: `/api/4.0/users/${user.id}/credentials_api3/${creds.id}`, headers: admin });
    await t.inject({ method: 'DELETE', url: `/api/4.0/users/${user.id}`, headers: admin });
    assert.equal((await t.inject({ method: 'DELETE', url: `/api/4.0/users/${user.id}`, headers: admin })).statusCode, 404);

    const events = await eventsSince(t, start);
    assert.deepEqual(events.map(brief), [
      ['1', '1', 'user.create', 'user', user.id, 'success'],
      ['1', '1', 'user.update', 'user', user.id, 'success'],
      ['1', '1', 'user.set_roles', 'user', user.id, 'success'],
      ['1', '1', 'credentials_api3.create', 'credentials_api3', creds.id, 'success'],
      ['1', '1', 'credentials_api3.update', 'credentials_api3', creds.id, 'success'],
      [user.id, user.id, 'session.login', 'credentials_api3', creds.id, 'success'],
      [user.id, user.id, 'session.logout', 'user', user.id, 'success'],
      ['1', '1', 'credentials_api3.delete', 'credentials_api3', creds.id, 'success'],
      ['1', '1', 'user.delete', 'user', user.id, 'success'],
    ]);
    assert.deepEqual(events[0].detail, { fields: ['email', 'first_name'] });
    assert.deepEqual(events[1].detail, { fields: ['is_disabled', 'last_name'] });
    assert.deepEqual(events[2].detail, { role_ids: ['2'] });
    assert.deepEqual(events[4].detail, { fields: ['purpose'] });
    // The events outlive what they name: the user is gone, its trail is not.
    assert.equal((await eventsSince(t, start, `&target_type=user&target_id=${user.id}`)).length, 5);
  });

  test('failed logins: the first 5 per client_id are events, the rest one summary with the count', async () => {
    const start = await lastEventId(t);
    const [memberCredentials] = json(await t.inject({ method: 'GET', url: `/api/4.0/users/${member.id}/credentials_api3`, headers: bearer(t.adminToken) }));
    const fail = (clientId: string) =>
      t.inject({ method: 'POST', url: '/api/4.0/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams({ client_id: clientId, client_secret: randomSecret() }).toString() });
    for (let i = 0; i < 12; i += 1) assert.equal((await fail(member.client_id)).statusCode, 404);
    // Unknown client_ids are never stored (one may be a secret typed into the wrong field): one shared tally.
    const unknown = Array.from({ length: 7 }, () => `not-a-client-${randomSecret()}`);
    for (const clientId of unknown) assert.equal((await fail(clientId)).statusCode, 404);
    await t.app.services.audit.flushFailedLogins(true);

    const events = await eventsSince(t, start);
    const failure = (target: string | null) => [null, null, 'session.login', 'credentials_api3', target, 'failure'];
    // Failure events are written in the background (a login's answer must not time whether a client_id exists):
    // on PostgreSQL two of them may commit in either order, so the individual ones are compared as a set.
    const individual = events.slice(0, 10).map(brief).sort((a, b) => String(a[4]).localeCompare(String(b[4])));
    assert.deepEqual([...individual, ...events.slice(10).map(brief)], [
      ...Array(5).fill(failure(memberCredentials.id)),
      ...Array(5).fill(failure(null)),
      [null, null, 'session.login_failures', 'credentials_api3', memberCredentials.id, 'failure'],
      [null, null, 'session.login_failures', 'credentials_api3', null, 'failure'],
    ]);
    assert.deepEqual(events.slice(10).map((e) => e.detail), [{ count: 7, window_s: 60 }, { count: 2, window_s: 60 }]);
    assert.ok(events.slice(0, 10).every((e) => e.address === '127.0.0.1' && typeof e.request_id === 'string'));
    const text = JSON.stringify(events);
    for (const clientId of unknown) assert.ok(!text.includes(clientId), 'a presented client_id is not stored');
  });

  test('filters by actor, principal, action, target and time range; cursor pages cover everything once', async () => {
    const all = await allEvents(t);
    assert.ok(all.length > 20);
    const ids = all.map((e) => BigInt(e.id));
    assert.deepEqual(ids, [...ids].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0)), 'newest first');
    assert.equal(new Set(ids).size, ids.length, 'no event twice across pages');

    const check = async (query: string, keep: (e: Row) => boolean) => {
      const got = await allEvents(t, query);
      assert.deepEqual(got.map((e) => e.id), all.filter(keep).map((e) => e.id), query);
      assert.ok(got.length > 0, `${query} matched something`);
    };
    await check(`&actor_user_id=${member.id}`, (e) => e.actor_user_id === member.id);
    await check('&principal_user_id=1', (e) => e.principal_user_id === '1');
    await check('&action=session.login_user', (e) => e.action === 'session.login_user');
    await check(`&target_type=user&target_id=${member.id}`, (e) => e.target_type === 'user' && e.target_id === member.id);
    await check('&action=session.login&actor_user_id=1', (e) => e.action === 'session.login' && e.actor_user_id === '1');
    const middle = all[Math.floor(all.length / 2)].occurred_at as string;
    await check(`&since=${encodeURIComponent(middle)}`, (e) => (e.occurred_at as string) >= middle);
    await check(`&until=${encodeURIComponent(middle)}`, (e) => (e.occurred_at as string) < middle);
    // A bound with an offset means the same instant.
    const shifted = new Date(Date.parse(middle) + 2 * 3600_000).toISOString().replace('Z', '+02:00');
    await check(`&since=${encodeURIComponent(shifted)}`, (e) => (e.occurred_at as string) >= middle);
    assert.deepEqual(await allEvents(t, '&actor_user_id=999999'), []);
    assert.deepEqual(await allEvents(t, '&actor_user_id=not-an-id'), []);
  });

  test('a cursor not of ours or a bad time: 400 naming it; a non-admin: 404; no token: 401', async () => {
    const admin = bearer(t.adminToken);
    const bad = await t.inject({ method: 'GET', url: '/api/4.0/audit_events?cursor=bm9wZQ', headers: admin });
    assert.equal(bad.statusCode, 400, bad.body);
    assertResponse('all_audit_events', bad);
    assert.match(json(bad).message, /^Invalid query string\. cursor: /);
    const time = await t.inject({ method: 'GET', url: '/api/4.0/audit_events?until=yesterday', headers: admin });
    assert.equal(time.statusCode, 400, time.body);
    assert.match(json(time).message, /until/);
    const limit = await t.inject({ method: 'GET', url: '/api/4.0/audit_events?limit=0', headers: admin });
    assert.equal(limit.statusCode, 400);
    assertResponse('all_audit_events', limit);
    const denied = await t.inject({ method: 'GET', url: '/api/4.0/audit_events', headers: bearer(member.token) });
    assert.equal(denied.statusCode, 404);
    assertResponse('all_audit_events', denied);
    assert.equal((await t.inject({ method: 'GET', url: '/api/4.0/audit_events' })).statusCode, 401);
  });

  test('reads write nothing: listing applications, users and the audit log adds no event', async () => {
    const count = async () => Number((await t.app.store.db.selectFrom('audit_events').select((eb) => eb.fn.countAll<string | number>().as('n')).executeTakeFirstOrThrow()).n);
    const before = await count();
    const admin = bearer(t.adminToken);
    for (const url of ['/api/4.0/external_oauth_applications', '/api/4.0/external_oauth_applications?client_id=x', '/api/4.0/users', '/api/4.0/user', '/api/4.0/roles', '/api/4.0/audit_events?limit=500']) {
      assert.equal((await t.inject({ method: 'GET', url, headers: admin })).statusCode, 200, url);
    }
    assert.equal(await count(), before);
  });

  test('concurrent writes batched into one commit each keep their own actor and request id', async () => {
    const start = await lastEventId(t);
    const admin2 = await t.newUser();
    assert.equal((await t.inject({ method: 'PUT', url: `/api/4.0/users/${admin2.id}/roles`, headers: bearer(t.adminToken), payload: ['1'] })).statusCode, 200);
    const secondAdmin = await loginToken(t.app, admin2.client_id, admin2.client_secret);
    const batchesBefore = t.app.services.writes.stats.batches;
    const sends = Array.from({ length: 20 }, (_, i) => {
      const token = i % 2 === 0 ? t.adminToken : secondAdmin;
      const requestId = `batch-${i}-${randomBytes(4).toString('hex')}`;
      const clientId = `batch-${randomBytes(5).toString('hex')}`;
      return t
        .inject({ method: 'POST', url: '/api/4.0/external_oauth_applications', headers: { ...bearer(token), 'x-request-id': requestId }, payload: { name: clientId, client_id: clientId, client_secret: randomSecret() } })
        .then((r) => ({ status: r.statusCode, requestId, clientId, actor: i % 2 === 0 ? '1' : admin2.id }));
    });
    const results = await Promise.all(sends);
    assert.ok(results.every((r) => r.status === 200));
    if (t.app.store.engine === 'sqlite') assert.ok(t.app.services.writes.stats.batches - batchesBefore < 20, 'the creates shared commits');
    const events = (await eventsSince(t, start, '&action=external_oauth_application.create'));
    const byRequest = new Map(events.map((e) => [e.request_id, e]));
    for (const r of results) {
      const event = byRequest.get(r.requestId);
      assert.ok(event, `an event for ${r.requestId}`);
      assert.deepEqual([event.actor_user_id, event.principal_user_id, event.target_id], [r.actor, r.actor, r.clientId]);
    }
  });

  test('an event that cannot be written takes its change with it', async () => {
    const admin = bearer(t.adminToken);
    const clientId = `no-event-${randomBytes(4).toString('hex')}`;
    // A trigger that refuses every new event: the change shares its transaction, so it is refused too.
    const refuse = t.app.store.engine === 'sqlite'
      ? sql`create trigger refuse_events before insert on audit_events begin select raise(abort, 'refused'); end`
      : sql`create function refuse_events() returns trigger language plpgsql as $$ begin raise exception 'refused'; end $$`;
    await refuse.execute(t.app.store.db);
    if (t.app.store.engine === 'postgres') await sql`create trigger refuse_events before insert on audit_events for each row execute function refuse_events()`.execute(t.app.store.db);
    try {
      const created = await t.inject({ method: 'POST', url: '/api/4.0/external_oauth_applications', headers: admin, payload: { name: clientId, client_id: clientId, client_secret: randomSecret() } });
      assert.equal(created.statusCode, 500);
      const roles = await t.inject({ method: 'PUT', url: `/api/4.0/users/${member.id}/roles`, headers: admin, payload: ['1', '2'] });
      assert.equal(roles.statusCode, 500);
      const login = await t.inject({ method: 'POST', url: '/api/4.0/login', payload: ADMIN });
      assert.equal(login.statusCode, 500);
    } finally {
      await sql`drop trigger refuse_events${t.app.store.engine === 'postgres' ? sql` on audit_events` : sql``}`.execute(t.app.store.db);
    }
    const listed = json(await t.inject({ method: 'GET', url: `/api/4.0/external_oauth_applications?client_id=${clientId}`, headers: admin }));
    assert.deepEqual(listed, [], 'the application was not created');
    const user = json(await t.inject({ method: 'GET', url: `/api/4.0/users/${member.id}`, headers: admin }));
    assert.deepEqual(user.role_ids, ['2'], 'the roles were not changed');
  });
});
