import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN } from '../helpers/app.ts';
import { assertSchema } from '../helpers/contract.ts';
import { startServer, type ServerProcess } from '../helpers/server-process.ts';
import { lookerSdk } from '../helpers/looker-sdk.ts';

/**
 * All five operations through the official Looker SDK against the real server process. The SDK
 * percent-encodes path parameters itself (encodeParam in @looker/sdk-rtl), except a value that already
 * decodes to something else, e.g. `a%20b`, which it sends as is: the client_ids here hold `/ ? # %` and
 * spaces, but no `%XX` sequence.
 */
let server: ServerProcess;
let sdk: ReturnType<typeof lookerSdk>;

before(async () => {
  server = await startServer();
  sdk = lookerSdk(server.baseUrl, ADMIN);
});
after(async () => {
  await sdk.authSession.logout();
  await server.stop();
});

/** sdk.ok throws LookerSDKError carrying the server's message (and, for 422, its errors). */
async function sdkError(call: Promise<unknown>): Promise<{ message: string; errors?: Array<{ field?: string; code?: string }> }> {
  try {
    await call;
  } catch (error) {
    assert.equal((error as Error).name, 'LookerSDKError');
    return error as never;
  }
  assert.fail('expected the SDK call to fail');
}

const AWKWARD = 'team/warehouse ?x=1#frag 100% sure';

describe('external OAuth applications through the official SDK', () => {
  test('create, list, filter, rotate the secret, update, delete: with / ? # % and spaces in client_id', async () => {
    const created = await sdk.ok(
      sdk.create_external_oauth_application({
        name: 'Snowflake prod',
        client_id: AWKWARD,
        client_secret: 'e2e-first-secret',
        tenant_id: null,
        dialect_name: 'snowflake',
        bi_directional_data_access: true,
      }),
    );
    assertSchema('ExternalOauthApplication', created);
    assert.equal(created.client_id, AWKWARD);
    assert.equal(created.name, 'Snowflake prod');
    assert.equal(created.can?.destroy, true);
    assert.equal('client_secret' in created, false);

    const all = await sdk.ok(sdk.all_external_oauth_applications({}));
    assert.ok(all.some((a) => a.id === created.id));
    for (const app of all) assertSchema('ExternalOauthApplication', app);

    const byClientId = await sdk.ok(sdk.all_external_oauth_applications({ client_id: AWKWARD }));
    assert.deepEqual(byClientId.map((a) => a.id), [created.id]);
    const byName = await sdk.ok(sdk.all_external_oauth_applications({ name: 'Snowflake prod', client_id: AWKWARD }));
    assert.deepEqual(byName.map((a) => a.id), [created.id]);
    assert.deepEqual(await sdk.ok(sdk.all_external_oauth_applications({ name: 'nothing by this name' })), []);

    const rotated = await sdk.ok(sdk.update_external_oauth_application(AWKWARD, { client_secret: 'e2e-rotated-secret' }));
    assertSchema('ExternalOauthApplication', rotated);
    // The replaced secret is kept as a fallback for the overlap (docs/tokens.md); nothing else changed.
    const { has_previous_secret: held, previous_secret_expires_at: until, ...rest } = rotated as typeof rotated & { has_previous_secret: boolean; previous_secret_expires_at: string };
    assert.equal(held, true);
    assert.ok(Date.parse(until) > Date.now());
    assert.deepEqual({ ...rest, has_previous_secret: false, previous_secret_expires_at: null }, created);

    // What a client typically does: change the object it read and send it back whole.
    const renamed = await sdk.ok(sdk.update_external_oauth_application(AWKWARD, { ...rotated, name: 'Snowflake production', tenant_id: 'tenant-9' }));
    assert.equal(renamed.name, 'Snowflake production');
    assert.equal(renamed.tenant_id, 'tenant-9');
    assert.equal(renamed.created_at, created.created_at);

    await sdk.ok(sdk.delete_external_oauth_application(AWKWARD));
    assert.deepEqual(await sdk.ok(sdk.all_external_oauth_applications({ client_id: AWKWARD })), []);
  });

  test('user state: create, then replace; the response never echoes a token', async () => {
    const app = await sdk.ok(sdk.create_external_oauth_application({ name: 'Databricks', client_id: 'dbx client/1', client_secret: 'e2e-dbx-secret' }));
    const me = await sdk.ok(sdk.me());
    const body = {
      user_id: me.id!,
      oauth_application_id: app.id!,
      access_token: 'e2e-access-token',
      access_token_expires_at: new Date(Date.now() + 3_600_000),
      refresh_token: 'e2e-refresh-token',
      refresh_token_expires_at: null,
    };
    const first = await sdk.ok(sdk.create_oauth_application_user_state(body));
    assertSchema('CreateOAuthApplicationUserStateResponse', first);
    assert.deepEqual(first, { user_id: me.id, oauth_application_id: app.id });
    const second = await sdk.ok(sdk.create_oauth_application_user_state({ ...body, access_token: 'e2e-access-token-2' }));
    assert.deepEqual(second, first);
    assert.doesNotMatch(JSON.stringify([first, second]), /e2e-access-token|e2e-refresh-token/);
    await sdk.ok(sdk.delete_external_oauth_application('dbx client/1'));
  });

  test('sdk.ok surfaces 404, 409 and 422 with their messages', async () => {
    const notFound = await sdkError(sdk.ok(sdk.delete_external_oauth_application('no such/client')));
    assert.equal(notFound.message, 'Not found');
    const notFoundPatch = await sdkError(sdk.ok(sdk.update_external_oauth_application('no such/client', { client_secret: 'x' })));
    assert.equal(notFoundPatch.message, 'Not found');

    await sdk.ok(sdk.create_external_oauth_application({ name: 'BigQuery', client_id: 'bq/1', client_secret: 'e2e-bq-secret' }));
    const takenId = await sdkError(sdk.ok(sdk.create_external_oauth_application({ name: 'BigQuery 2', client_id: 'bq/1', client_secret: 's' })));
    assert.match(takenId.message, /client_id already exists/);
    const takenName = await sdkError(sdk.ok(sdk.create_external_oauth_application({ name: 'BigQuery', client_id: 'bq/2', client_secret: 's' })));
    assert.match(takenName.message, /name already exists/);

    const invalid = await sdkError(sdk.ok(sdk.create_external_oauth_application({ name: ' ', dialect_name: 'Big Query' })));
    assert.equal(invalid.message, 'Validation Failed');
    assert.deepEqual(
      invalid.errors?.map((e) => `${e.field}:${e.code}`).sort(),
      ['client_id:missing_field', 'client_secret:missing_field', 'dialect_name:invalid', 'name:invalid'],
    );

    const mismatch = await sdkError(sdk.ok(sdk.update_external_oauth_application('bq/1', { client_id: 'bq/other' })));
    assert.equal(mismatch.message, 'Validation Failed');
    assert.deepEqual(mismatch.errors?.map((e) => e.field), ['client_id']);

    const badState = await sdkError(
      sdk.ok(sdk.create_oauth_application_user_state({ user_id: '1', oauth_application_id: '1', access_token: 't', access_token_expires_at: 'next week' as never })),
    );
    assert.equal(badState.message, 'Validation Failed');
    assert.deepEqual(badState.errors?.map((e) => e.field), ['access_token_expires_at']);

    const unknownApp = await sdkError(
      sdk.ok(sdk.create_oauth_application_user_state({ user_id: '1', oauth_application_id: '987654', access_token: 't', access_token_expires_at: new Date() })),
    );
    assert.equal(unknownApp.message, 'Not found');
    await sdk.ok(sdk.delete_external_oauth_application('bq/1'));
  });

  test('20 simultaneous creates of one client_id over HTTP: exactly one 200 and 19 × 409', async () => {
    await sdk.ok(sdk.me()); // log in once, so the 20 calls do not each start a login
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => sdk.create_external_oauth_application({ name: `race ${i}`, client_id: 'race/over http', client_secret: `race-secret-${i}` })),
    );
    const ok = results.filter((r) => r.ok);
    const failed = results.filter((r) => !r.ok);
    assert.equal(ok.length, 1);
    assert.equal(failed.length, 19);
    for (const r of failed) assert.match((r as { error: { message: string } }).error.message, /client_id already exists/);
    assert.equal((await sdk.ok(sdk.all_external_oauth_applications({ client_id: 'race/over http' }))).length, 1);
  });

  test('the server process logged no secret or token', () => {
    assert.doesNotMatch(server.output(), /e2e-first-secret|e2e-rotated-secret|e2e-access-token|e2e-refresh-token|race-secret|e2e-bq-secret|e2e-dbx-secret/);
  });
});
