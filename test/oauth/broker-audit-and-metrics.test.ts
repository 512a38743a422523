import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { buildTestApp, type TestApp } from '../helpers/app.ts';
import { assertResponse } from '../helpers/contract.ts';
import { startTestProvider, type TestProvider } from '../helpers/oidc-provider.ts';
import { parsePrometheusText, valueOf } from '../helpers/prometheus-text.ts';
import { accessTokenPath, auditProviderTokens, connectUser, createApplication, injectCall, newClient, PUBLIC_URL, userStatePath, waitFor, type Call } from '../helpers/broker.ts';

const METRICS_TOKEN = 'metrics-token-for-the-broker-test';

/**
 * The broker's side of the audit log and the metrics: a connect, every token handed out and a disconnect
 * are audit events about that user's state; a refresh at the provider is counted by outcome and timed.
 */
describe('the broker in the audit log and the metrics', () => {
  let op: TestProvider;
  let t: TestApp;
  let call: Call;
  const client = newClient();
  let member: Awaited<ReturnType<TestApp['newUser']>>;

  before(async () => {
    op = await startTestProvider({ clients: [client], accessTokenTtl: 2 });
    auditProviderTokens(op);
    t = await buildTestApp({ EOA_PUBLIC_URL: PUBLIC_URL, EOA_REFRESH_MARGIN_S: '1', EOA_METRICS_TOKEN: METRICS_TOKEN });
    call = injectCall(t);
    member = await t.newUser();
    await createApplication(call, t.adminToken, op, client);
  });
  after(async () => {
    await t?.close();
    await op?.stop();
  });

  const refreshes = async (outcome: string) => {
    const scrape = await t.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    assert.equal(scrape.statusCode, 200, scrape.body);
    // The application has explicit endpoints and no dialect: the provider label is `generic`.
    return valueOf(parsePrometheusText(scrape.body), 'eoa_token_refreshes_total', { provider: 'generic', outcome });
  };

  test('connect, two reads (one refreshed), disconnect: four events on the user state, acted by the user', async () => {
    const target = `${member.id}/${client.client_id}`;
    const refreshedBefore = await refreshes('success');
    await connectUser(call, op, client.client_id, member.token, `account-${member.id}`);
    const fresh = await call('POST', accessTokenPath(client.client_id), member.token, {});
    assert.equal(fresh.status, 200, fresh.body);
    await waitFor(async () => (await call('GET', userStatePath(client.client_id, member.id), member.token)).json().status === 'expired', 10_000, 'the token to expire');
    const refreshed = await call('POST', accessTokenPath(client.client_id), member.token, {});
    assert.equal(refreshed.status, 200, refreshed.body);
    assert.notEqual(refreshed.json().access_token, fresh.json().access_token, 'the second read was refreshed');
    assert.equal(await refreshes('success'), refreshedBefore + 1, 'one refresh counted');
    assert.equal((await call('DELETE', userStatePath(client.client_id, member.id), member.token)).status, 204);

    const answer = await t.inject({ method: 'GET', url: `/api/4.0/audit_events?target_type=user_state&target_id=${encodeURIComponent(target)}`, headers: { authorization: `Bearer ${t.adminToken}` } });
    assertResponse('all_audit_events', answer);
    const events = JSON.parse(answer.body).events.reverse();
    assert.deepEqual(
      events.map((e: Record<string, unknown>) => [e.action, e.actor_user_id, e.principal_user_id, e.outcome]),
      [
        ['user_state.connect', member.id, member.id, 'success'],
        ['user_state.read_token', member.id, member.id, 'success'],
        ['user_state.read_token', member.id, member.id, 'success'],
        ['user_state.delete', member.id, member.id, 'success'],
      ],
    );
    const text = answer.body;
    for (const token of [fresh.json().access_token, refreshed.json().access_token]) assert.ok(!text.includes(token), 'no token in an event');
  });

  test('a read whose audit event cannot be stored fails and hands out no token; the next read is recorded again', async () => {
    // The event is one INSERT of its own (autocommit on PostgreSQL): a refused INSERT must still fail the read.
    await connectUser(call, op, client.client_id, member.token, `account-${member.id}`);
    const target = `${member.id}/${client.client_id}`;
    const reads = async () => {
      const answer = await t.inject({ method: 'GET', url: `/api/4.0/audit_events?action=user_state.read_token&target_id=${encodeURIComponent(target)}`, headers: { authorization: `Bearer ${t.adminToken}` } });
      return JSON.parse(answer.body).events.length as number;
    };
    const before = await reads();
    await refuseReadTokenEvents(t, true);
    try {
      const refused = await call('POST', accessTokenPath(client.client_id), member.token, {});
      assert.equal(refused.status, 500, refused.body);
      assert.ok(!/access_token/.test(refused.body), 'no token in the failed answer');
    } finally {
      await refuseReadTokenEvents(t, false);
    }
    assert.equal(await reads(), before, 'nothing was recorded for the failed read');
    const served = await call('POST', accessTokenPath(client.client_id), member.token, {});
    assert.equal(served.status, 200, served.body);
    assert.equal(await reads(), before + 1, 'the served read is recorded');
  });
});

/** A trigger that makes the database refuse every `user_state.read_token` event (on), or its removal (off). */
async function refuseReadTokenEvents(t: TestApp, on: boolean): Promise<void> {
  const db = t.app.store.db;
  if (t.app.store.engine === 'sqlite') {
    if (!on) return void (await sql`drop trigger refuse_read_token`.execute(db));
    await sql`create trigger refuse_read_token before insert on audit_events when new.action = 'user_state.read_token' begin select raise(abort, 'audit event refused'); end`.execute(db);
    return;
  }
  if (!on) return void (await sql`drop function refuse_read_token() cascade`.execute(db));
  await sql`create function refuse_read_token() returns trigger language plpgsql as $$ begin if new.action = 'user_state.read_token' then raise exception 'audit event refused'; end if; return new; end $$`.execute(db);
  await sql`create trigger refuse_read_token before insert on audit_events for each row execute function refuse_read_token()`.execute(db);
}
