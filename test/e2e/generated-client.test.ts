import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import createClient from 'openapi-fetch';
import type { paths } from '../generated/api-4.0.ts';
import { ADMIN } from '../helpers/app.ts';
import { auditSecret } from '../helpers/audit.ts';
import { startServer, type ServerProcess } from '../helpers/server-process.ts';
import { servedOpenApiDocument } from '../../scripts/served-openapi.ts';
import { GENERATED_TYPES_FILE, generateOpenApiTypes } from '../../scripts/generate-openapi-types.ts';

/**
 * A client generated from the served OpenAPI document (openapi-typescript types, openapi-fetch calls)
 * works against the real server process. `npm run typecheck` checks these calls against the generated
 * types; the first test fails when those types are older than the document.
 */
describe('a client generated from the OpenAPI document', () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServer();
  });
  after(() => server.stop());

  test('the committed types are those the current document generates (else: npm run openapi:types)', async () => {
    const fresh = await generateOpenApiTypes(await servedOpenApiDocument());
    assert.equal(fs.readFileSync(GENERATED_TYPES_FILE, 'utf8'), fresh);
  });

  test('logs in, creates, lists and deletes an application', async () => {
    const client = createClient<paths>({ baseUrl: server.baseUrl });

    // Login as documented: a form body, never the query string.
    const login = await client.POST('/api/4.0/login', {
      body: { client_id: ADMIN.client_id, client_secret: ADMIN.client_secret },
      bodySerializer: (body) => new URLSearchParams(body).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(login.response.status, 200);
    const token: string = login.data!.access_token;
    assert.equal(login.data!.token_type, 'Bearer');
    auditSecret('generated client access token', token, { kind: 'response', responseId: 'generated-client-login' });
    client.use({ onRequest: ({ request }) => (request.headers.set('authorization', `Bearer ${token}`), request) });

    const clientId = 'generated client/ä?';
    const secret = 'generated-client-secret-8f3a9c1e5b7d';
    auditSecret('generated client application secret', secret);
    const created = await client.POST('/api/4.0/external_oauth_applications', {
      body: { name: 'Generated client app', client_id: clientId, client_secret: secret, dialect_name: 'snowflake' },
    });
    assert.equal(created.response.status, 200);
    assert.equal(created.data!.client_id, clientId);
    assert.ok(!('client_secret' in created.data!), 'the secret is never returned');

    const listed = await client.GET('/api/4.0/external_oauth_applications', { params: { query: { client_id: clientId } } });
    assert.equal(listed.response.status, 200);
    assert.deepEqual(listed.data!.map((app) => app.name), ['Generated client app']);

    const deleted = await client.DELETE('/api/4.0/external_oauth_applications/{client_id}', { params: { path: { client_id: clientId } } });
    assert.equal(deleted.response.status, 204);
    const again = await client.DELETE('/api/4.0/external_oauth_applications/{client_id}', { params: { path: { client_id: clientId } } });
    assert.equal(again.response.status, 404);
    assert.equal(again.error!.message, 'Not found');

    const empty = await client.GET('/api/4.0/external_oauth_applications', { params: { query: { client_id: clientId } } });
    assert.deepEqual(empty.data, []);
  });

  test('the types hold calls to the document (checked by npm run typecheck)', () => {
    const client = createClient<paths>({ baseUrl: 'http://127.0.0.1:1' });
    // Each line below is a type error; if the generated types stopped describing the API, tsc would fail here.
    // @ts-expect-error: create requires client_id, client_secret and name
    void (() => client.POST('/api/4.0/external_oauth_applications', { body: { name: 'x' } }));
    // @ts-expect-error: no such path
    void (() => client.GET('/api/4.0/external_oauth_application'));
  });
});
