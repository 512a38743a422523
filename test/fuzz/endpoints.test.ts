import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ADMIN, buildTestApp, json, loginToken, type TestApp } from '../helpers/app.ts';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { assertResponse, assertSchema, documentedResponses, spec } from '../helpers/contract.ts';
import { randomSecret, storeDigest } from '../reliability/support.ts';
import type { JsonSchema } from '../helpers/served-document.ts';
import { API_ROUTES, servedRoutes, type ServedRoute } from '../helpers/routes.ts';

/**
 * Property-based fuzzing of every documented operation of the route table (test/helpers/routes.ts, which
 * test/api/route-table.test.ts holds to what the app serves), in-process. Each case is one request with a generated method
 * target, path parameters (percent-encoded or raw), query string, Authorization header, content type and
 * body (valid-looking, wrong types, huge, deeply nested, unicode, nulls, duplicate keys and
 * __proto__/constructor/prototype keys in raw JSON text, not JSON at all). Properties of every answer:
 *   1. never a 5xx;
 *   2. the body fits the excerpt spec's schema for that status (an error status the spec does not list
 *      for the operation is held against Error / ValidationError and counted);
 *   3. no secret the test knows (admin secret and tokens, application secrets, user-state tokens, and
 *      every secret the fuzzer itself got stored) appears in the body or headers;
 *   4. a 4xx leaves every table exactly as it was.
 * EOA_FUZZ_RUNS (default 80) cases per endpoint; EOA_FUZZ_SEED replays a run, EOA_FUZZ_PATH one case.
 */
const RUNS = Number(process.env.EOA_FUZZ_RUNS ?? 80);
const SEED = process.env.EOA_FUZZ_SEED ? Number(process.env.EOA_FUZZ_SEED) : Date.now() ^ (Math.random() * 0x7fffffff);
const PATH = process.env.EOA_FUZZ_PATH;

/** Validates responses of our own operations against the schemas we serve. */
const ourSchemas = new Ajv({ strict: false, allErrors: true });
addFormats.default(ourSchemas);

interface Target {
  operationId: string;
  method: string;
  path: string;
  /** Names of the query parameters the operation declares, fuzzed alongside unknown ones. */
  query: string[];
  /** What a plausible body of this endpoint looks like; mutated by the fuzzer. */
  body?: () => fc.Arbitrary<unknown>;
  /** The route as the app's OpenAPI document describes it. */
  served: ServedRoute;
}

const str = fc.string({ unit: 'grapheme', maxLength: 40 });
/** A plausible secret: long and random enough to be recognised if it ever comes back. */
const secretLike = fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-'), minLength: 24, maxLength: 48 });
const tokenish = fc.oneof(fc.constant(null), str, fc.integer(), fc.boolean(), fc.constant(''), fc.string({ unit: 'binary', maxLength: 300 }));
const dateish = fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), str, fc.constant('2026-13-45T99:99:99Z'), fc.constant('+275760-09-13T00:00:00.001Z'));
const applicationBody = () =>
  fc.record(
    {
      name: fc.oneof(str, fc.constant('   '), fc.integer(), fc.constant(null)),
      client_id: fc.oneof(str, fc.string({ unit: 'binary', maxLength: 300 })),
      client_secret: fc.oneof(secretLike, tokenish),
      tenant_id: fc.oneof(str, fc.constant(null), fc.integer()),
      dialect_name: fc.oneof(fc.constantFrom('snowflake', 'bigquery_standard_sql', 'Snow Flake', ''), str, fc.constant(null)),
      bi_directional_data_access: fc.oneof(fc.boolean(), fc.constant(null), fc.constant('true'), fc.integer()),
    },
    { requiredKeys: [] },
  );

/**
 * Hand-written bodies for the operations whose plausible values a schema says badly (login's form body is
 * not in the document at all). Every other route gets a body generated from its own schema: the list of
 * routes is the route table, with each row's schemas from the app's own OpenAPI document (test/helpers/routes.ts).
 */
const BODIES: Record<string, () => fc.Arbitrary<unknown>> = {
  login: () => fc.record({ client_id: tokenish, client_secret: tokenish }, { requiredKeys: [] }),
  create_user: () =>
    fc.record({ first_name: tokenish, last_name: tokenish, email: fc.oneof(fc.emailAddress(), tokenish), locale: fc.oneof(fc.constantFrom('en', 'de_DE', 'x'), tokenish), is_disabled: fc.oneof(fc.constant(false), tokenish) }, { requiredKeys: [] }),
  update_user: () => fc.record({ first_name: tokenish, email: fc.oneof(fc.emailAddress(), tokenish), locale: tokenish, is_disabled: fc.oneof(fc.boolean(), tokenish) }, { requiredKeys: [] }),
  create_user_credentials_api3: () => fc.record({ purpose: tokenish, is_disabled: tokenish }, { requiredKeys: [] }),
  update_user_credentials_api3: () => fc.record({ purpose: tokenish, is_disabled: fc.oneof(fc.boolean(), tokenish) }, { requiredKeys: [] }),
  set_user_roles: () => fc.array(fc.oneof(fc.constantFrom('1', '2', '3'), tokenish), { maxLength: 5 }),
  create_external_oauth_application: applicationBody,
  update_external_oauth_application: applicationBody,
  authorize_external_oauth_application: () =>
    fc.record({ return_to: fc.oneof(fc.constantFrom('/done', 'https://evil.example/', '//evil.example', '/\\x', 'javascript:alert(1)'), tokenish) }, { requiredKeys: [] }),
  create_oauth_application_user_state: () =>
    fc.record(
      {
        user_id: fc.oneof(fc.constantFrom('1', '2', '3'), tokenish),
        oauth_application_id: fc.oneof(fc.constantFrom('1', '2'), tokenish),
        access_token: fc.oneof(secretLike, tokenish),
        access_token_expires_at: dateish,
        refresh_token: fc.oneof(secretLike, tokenish),
        refresh_token_expires_at: fc.oneof(dateish, fc.constant(null)),
      },
      { requiredKeys: [] },
    ),
};

/** Plausible and implausible values for a body schema: every declared property, each optional, each sometimes of the wrong type. */
function fromSchema(schema: JsonSchema): fc.Arbitrary<unknown> {
  const options = schema.anyOf ?? schema.oneOf;
  if (options) return fc.oneof(...options.map(fromSchema));
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  const value: fc.Arbitrary<unknown> =
    type === 'object'
      ? fc.record(Object.fromEntries(Object.entries(schema.properties ?? {}).map(([k, v]) => [k, fromSchema(v)])), { requiredKeys: [] })
      : type === 'array'
        ? fc.array(schema.items ? fromSchema(schema.items) : fc.jsonValue({ maxDepth: 1 }), { maxLength: 5 })
        : type === 'string'
          ? fc.oneof(schema.format === 'date-time' ? dateish : str, fc.constant('1'), secretLike)
          : type === 'integer' || type === 'number'
            ? fc.oneof(fc.integer(), fc.double())
            : type === 'boolean'
              ? fc.boolean()
              : fc.constant(null);
  return fc.oneof({ weight: 4, arbitrary: value }, { weight: 1, arbitrary: tokenish });
}

// The table's documented rows with their schemas, read from an app built once for that purpose: node:test
// needs the tests declared up front.
const SERVED: ServedRoute[] = await (async () => {
  const probe = await buildTestApp();
  try {
    return servedRoutes(probe.app, API_ROUTES.filter((r) => !r.hidden));
  } finally {
    await probe.close();
  }
})();

const TARGETS: Target[] = SERVED.map((route) => ({
  operationId: route.operationId,
  method: route.method,
  path: route.path,
  query: route.query,
  body: BODIES[route.operationId] ?? (route.bodySchema ? () => fromSchema(route.bodySchema!) : undefined),
  served: route,
}));

const PROTO_KEYS = ['__proto__', 'constructor', 'prototype'];
const TOKEN_APP = `fuzz tokens/${Date.now().toString(36)}`;
const ACCESS_TOKEN_OPERATION = 'external_oauth_application_access_token';

/** Raw JSON text an object literal cannot express: duplicate keys, prototype keys. */
const rawObjectText = (keys: string[]) =>
  fc
    .array(fc.tuple(fc.constantFrom(...keys, ...PROTO_KEYS), fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constant({ isAdmin: true, polluted: 1 }))), { maxLength: 8 })
    .map((pairs) => `{${pairs.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`);

const deepNesting = fc.integer({ min: 50, max: 20_000 }).chain((depth) =>
  fc.constantFrom(`${'['.repeat(depth)}${']'.repeat(depth)}`, `{"name":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`, `${'['.repeat(depth)}`),
);
const huge = fc.integer({ min: 1, max: 1_100_000 }).map((n) => JSON.stringify({ name: 'x'.repeat(n), client_secret: 'y'.repeat(Math.min(n, 20_000)) }));

/** A body and the content type it is sent with (or none). */
function bodyArbitrary(target: Target): fc.Arbitrary<{ payload?: string; contentType?: string }> {
  const keys = target.body ? ['name', 'client_id', 'client_secret', 'access_token', 'user_id', 'purpose', 'first_name'] : ['x'];
  const text = fc.oneof(
    { weight: 6, arbitrary: (target.body ? target.body() : fc.jsonValue({ maxDepth: 2 })).map((v) => JSON.stringify(v)) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) },
    { weight: 2, arbitrary: rawObjectText(keys) },
    { weight: 1, arbitrary: deepNesting },
    { weight: 1, arbitrary: huge },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
    { weight: 1, arbitrary: fc.constantFrom('', 'null', '[]', '"str"', '{', '{"a":1}}', '\u0000', '{"name":"\ud800"}') },
  );
  const contentType = fc.oneof(
    { weight: 8, arbitrary: fc.constant('application/json') },
    { weight: 1, arbitrary: fc.constantFrom('application/x-www-form-urlencoded', 'text/plain', 'application/json; charset=utf-16', 'multipart/form-data; boundary=x', 'application/JSON', 'application/vnd.api+json', ';;;') },
  );
  return fc.oneof(
    { weight: target.body ? 1 : 4, arbitrary: fc.constant({}) },
    { weight: target.body ? 6 : 1, arbitrary: fc.record({ payload: text, contentType }) },
    { weight: 1, arbitrary: fc.record({ payload: text }) },
  );
}

describe('fuzzing every endpoint', () => {
  let t: TestApp;
  /** Every secret the service must never answer with; grows with what the fuzzer gets stored. */
  const secrets = new Set<string>();
  /** The access tokens users' states hold: what an access_token answer may carry. */
  const userStateAccessTokens = new Set<string>();
  let initialStateAccess = '';
  const tokens: { admin: string; member: string } = { admin: '', member: '' };
  let member: { id: string; client_id: string; client_secret: string };
  let ids: { adminCredentials: string; memberCredentials: string; application: { id: string; client_id: string } };
  const undocumented = new Map<string, number>();
  const cases = new Map<string, number>();
  let digest = '';

  before(async () => {
    // The failed-login guard has its own tests; here it would lock the fuzzer out after the first failed logins.
    t = await buildTestApp({ EOA_LOGIN_GUARD_MAX: '100000', EOA_PUBLIC_URL: 'https://eoa.example' });
    const m = await t.newUser();
    member = m;
    tokens.admin = t.adminToken;
    tokens.member = m.token;
    const secret = randomSecret();
    const created = await t.inject({
      method: 'POST',
      url: '/api/4.0/external_oauth_applications',
      headers: { authorization: `Bearer ${t.adminToken}` },
      // With provider settings (a Snowflake preset, never called), so `authorize` can succeed too.
      payload: { name: 'fuzz target', client_id: 'fuzz/target ?#%', client_secret: secret, dialect_name: 'snowflake', provider_url: 'https://acme.snowflakecomputing.com' },
    });
    assert.equal(created.statusCode, 200);
    const app = json(created);
    const state = { access: randomSecret(), refresh: randomSecret() };
    const stateReply = await t.inject({
      method: 'POST',
      url: '/api/4.0/external_oauth_applications/user_state',
      headers: { authorization: `Bearer ${m.token}` },
      payload: { user_id: m.id, oauth_application_id: app.id, access_token: state.access, access_token_expires_at: '2031-01-01T00:00:00Z', refresh_token: state.refresh },
    });
    assert.equal(stateReply.statusCode, 200);
    const [adminCredentials] = await t.app.repos.credentials.listForUser('1');
    const [memberCredentials] = await t.app.repos.credentials.listForUser(m.id);
    ids = { adminCredentials: adminCredentials.id, memberCredentials: memberCredentials.id, application: { id: app.id, client_id: app.client_id } };
    for (const s of [ADMIN.client_secret, t.adminToken, m.token, m.client_secret, secret, state.access, state.refresh]) secrets.add(s);
    initialStateAccess = state.access;
    digest = await storeDigest(t.app.store.db);
    console.log(`# fuzz seed ${SEED}, ${RUNS} cases per endpoint (replay: EOA_FUZZ_SEED=${SEED} npm test -- fuzz/)`);
  });
  // The broker's token routes get an application of their own (TOKEN_APP): its provider is port 9 on
  // 127.0.0.1, where nothing listens. The member's token there is fresh; the admin's has expired, so a read
  // of it tries a refresh (and gets 502 from the closed port).
  before(async () => {
    const headers = { authorization: `Bearer ${t.adminToken}` };
    const created = await t.inject({
      method: 'POST', url: '/api/4.0/external_oauth_applications', headers,
      payload: {
        name: 'fuzz tokens', client_id: TOKEN_APP, client_secret: randomSecret(),
        authorization_endpoint: 'http://127.0.0.1:9/authorize', token_endpoint: 'http://127.0.0.1:9/token', revocation_endpoint: 'http://127.0.0.1:9/revoke',
      },
    });
    assert.equal(created.statusCode, 200, created.body);
    for (const [userId, expiresAt] of [[member.id, '2031-01-01T00:00:00Z'], ['1', '2020-01-01T00:00:00Z']]) {
      const state = { access: randomSecret(), refresh: randomSecret() };
      const reply = await t.inject({
        method: 'POST', url: '/api/4.0/external_oauth_applications/user_state', headers,
        payload: { user_id: userId, oauth_application_id: json(created).id, access_token: state.access, access_token_expires_at: expiresAt, refresh_token: state.refresh },
      });
      assert.equal(reply.statusCode, 200, reply.body);
      secrets.add(state.access).add(state.refresh);
      userStateAccessTokens.add(state.access);
    }
    userStateAccessTokens.add(initialStateAccess);
    digest = await storeDigest(t.app.store.db);
  });
  after(async () => {
    const perEndpoint = [...cases.values()];
    console.log(
      `# fuzz: ${TARGETS.length} endpoints, ${perEndpoint.reduce((a, b) => a + b, 0)} cases ` +
        `(${Math.min(...perEndpoint)}–${Math.max(...perEndpoint)} per endpoint), seed ${SEED}`,
    );
    if (undocumented.size > 0) console.log(`# error statuses the excerpt spec does not list for the operation: ${JSON.stringify(Object.fromEntries(undocumented))}`);
    await t.close();
  });

  /** A path parameter: an existing id, a number, or any text, percent-encoded or (sometimes) raw. */
  function param(name: string, destructive: boolean): fc.Arbitrary<string> {
    const existing =
      name === 'user_id'
        ? fc.constantFrom('1', member.id)
        : name === 'credentials_api3_id'
          ? fc.constant(ids.memberCredentials)
          : name === 'client_id'
            ? fc.constantFrom(ids.application.client_id, TOKEN_APP)
            : fc.constantFrom('1', ids.application.id);
    // The admin's own credentials stay out of reach of PATCH/DELETE, or one case would end the admin's session for the rest.
    const number = fc.nat({ max: 1_000_000 }).map(String).filter((n) => !(destructive && name === 'credentials_api3_id' && n === ids.adminCredentials));
    const anyText = fc.string({ unit: 'binary', minLength: 1, maxLength: 80 });
    return fc
      .oneof(
        { weight: 3, arbitrary: existing.map(encodeURIComponent) },
        { weight: 2, arbitrary: number },
        { weight: 4, arbitrary: anyText.map(safeEncode) },
        { weight: 1, arbitrary: fc.constantFrom('%', '%zz', '%00', '..%2F..%2Fetc', '%2e%2e%2f', '-1', '1e3', '0x10', '9'.repeat(40), 'a%2Fb%20c', '%F0%9F%92%A9', '%C0%AF') },
      )
      .filter(addressesThisRoute);
  }

  const authorization = fc.oneof(
    { weight: 8, arbitrary: fc.constant('admin') },
    { weight: 3, arbitrary: fc.constant('member') },
    { weight: 1, arbitrary: fc.constant('none') },
    {
      weight: 2,
      arbitrary: fc.oneof(
        fc.constantFrom('Bearer', 'Bearer ', 'token', 'Basic dGVzdDp0ZXN0', 'Bearer a b', 'bearer\t', 'Bearer \u00e9\u00e9', 'Bearer =====', 'Bearer ../../', 'Digest x'),
        fc.string({ unit: 'grapheme-ascii', maxLength: 600 }).map((s) => `Bearer ${s}`),
        fc.string({ unit: 'grapheme-ascii', maxLength: 100 }),
      ),
    },
  );

  const queryString = (names: string[]) =>
    fc
      .array(fc.tuple(fc.oneof(fc.constantFrom(...names, 'limit', ...PROTO_KEYS, 'fields'), str), fc.oneof(str, fc.nat().map(String), fc.constantFrom('-1', 'true', 'null', '1e309', ''))), { maxLength: 5 })
      .map((pairs) => (pairs.length === 0 ? '' : `?${pairs.map(([k, v]) => `${safeEncode(k)}=${safeEncode(v)}`).join('&')}`));

  for (const target of TARGETS) {
    test(`${target.method} ${target.path} (${target.operationId})`, async () => {
      const destructive = target.method === 'PATCH' || target.method === 'DELETE';
      const params = target.served.params;
      const arbitrary = fc.record({
        params: fc.tuple(...params.map((p) => param(p, destructive))),
        query: queryString(target.query),
        auth: authorization,
        body: bodyArbitrary(target),
      });

      const property = fc.asyncProperty(arbitrary, async ({ params: values, query, auth, body }) => {
        let url = target.path;
        params.forEach((name, i) => (url = url.replace(`{${name}}`, values[i])));
        url += query;
        const header = auth === 'admin' ? `Bearer ${tokens.admin}` : auth === 'member' ? `Bearer ${tokens.member}` : auth === 'none' ? undefined : auth;
        const headers: Record<string, string> = {};
        if (header !== undefined) headers.authorization = header;
        if (body.contentType) headers['content-type'] = body.contentType;

        const response = await t.inject({ method: target.method as 'GET', url, headers, ...(body.payload === undefined ? {} : { payload: body.payload }) });
        const status = response.statusCode;
        const where = `${target.method} ${url.slice(0, 200)} (auth ${String(header).slice(0, 40)}, ${body.contentType ?? 'no content type'}) → ${status}`;

        // A documented gateway answer (an application's provider that cannot be reached) is not a crash.
        const gateway = (status === 502 || status === 504) && String(status) in documentedResponses(target.operationId);
        assert.ok(status < 500 || gateway, `${where}: a 5xx: ${response.body.slice(0, 300)}`);
        checkContract(target, response, where);
        const text = `${response.body}\n${JSON.stringify(response.headers)}`;
        for (const secret of secrets) {
          // The access_token answer exists to hand out a user's access token: that one, and only there.
          if (target.operationId === ACCESS_TOKEN_OPERATION && userStateAccessTokens.has(secret)) continue;
          assert.ok(!text.includes(secret), `${where}: the response carries a secret`);
        }
        // `digest` is the store as the previous case left it: one digest per case is enough.
        const after = await storeDigest(t.app.store.db);
        // A gateway failure records itself on the user state (last_error, the back-off); its tokens stay.
        if (status >= 400 && !gateway) assert.equal(after, digest, `${where}: a ${status} changed the store`);
        digest = after;
        if (await learn(body.payload, status, response.body)) digest = await storeDigest(t.app.store.db);
        cases.set(target.operationId + target.path, (cases.get(target.operationId + target.path) ?? 0) + 1);
      });
      try {
        await fc.assert(property, { numRuns: RUNS, seed: SEED, ...(PATH ? { path: PATH } : {}) });
      } catch (error) {
        // fast-check prints the whole counterexample, which can be a megabyte of body: keep the replay lines.
        const message = (error as Error).message;
        throw new Error(message.length > 3000 ? `${message.slice(0, 3000)}… (${message.length} characters)` : message, { cause: (error as Error).cause });
      }
    });
  }

  test('no fuzzed body polluted Object.prototype', () => {
    const probe = {} as Record<string, unknown>;
    assert.equal(probe.isAdmin, undefined);
    assert.equal(probe.polluted, undefined);
  });

  function checkContract(target: Target, response: { statusCode: number; body: string; headers: Record<string, unknown> }, where: string) {
    const { operationId } = target;
    const status = String(response.statusCode);
    if (operationId === 'external_oauth_redirect') {
      // A page for a browser: HTML that runs nothing, whatever the query held.
      assert.match(String(response.headers['content-type']), /^text\/html/, where);
      assert.match(String(response.headers['content-security-policy']), /default-src 'none'/, where);
      assert.equal(response.statusCode, 400, `${where}: without a live state the callback refuses`);
      return;
    }
    const documented = Object.values(spec.paths as Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>>)
      .flatMap((methods) => Object.values(methods))
      .find((op) => op.operationId === operationId)?.responses;
    if (documented === undefined) {
      // Ours, not Looker's: held against the schema we serve for it.
      if (status === '200' && target.served.ok) {
        const validate = ourSchemas.compile(target.served.ok as object);
        assert.ok(validate(JSON.parse(response.body)), `${where}: ${JSON.stringify(validate.errors)}`);
      } else if (response.statusCode >= 400) {
        assertSchema(status === '422' ? 'ValidationError' : 'Error', JSON.parse(response.body));
      }
      return;
    }
    if (documented[status] || ['204', '401', '413', '500'].includes(status)) {
      try {
        assertResponse(operationId, response);
      } catch (error) {
        assert.fail(`${where}: ${(error as Error).message}`);
      }
      return;
    }
    // An error status this operation does not list in the excerpt: still one of Looker's error bodies.
    assert.match(String(response.headers['content-type']), /^application\/json/, where);
    assertSchema(status === '422' ? 'ValidationError' : 'Error', JSON.parse(response.body));
    undocumented.set(`${operationId} ${status}`, (undocumented.get(`${operationId} ${status}`) ?? 0) + 1);
  }

  /**
   * Adds what the service stored or issued to the secrets it must never show, and keeps the session tokens
   * usable. True when it logged in again (which writes a session).
   */
  async function learn(payload: string | undefined, status: number, body: string): Promise<boolean> {
    if (status >= 300) return false;
    const sent = parseLoose(payload);
    for (const field of ['client_secret', 'access_token', 'refresh_token']) {
      const value = sent?.[field];
      if (typeof value === 'string' && value.length >= 12) secrets.add(value);
    }
    if (typeof sent?.access_token === 'string') userStateAccessTokens.add(sent.access_token);
    const answered = parseLoose(body);
    for (const field of ['client_secret', 'access_token']) {
      if (typeof answered?.[field] === 'string') secrets.add(answered[field] as string);
    }
    // A case may have ended a session (logout, a disabled or deleted member, lost credentials): log in again.
    let relogged = false;
    if (!(await live(tokens.admin))) {
      tokens.admin = await loginToken(t.app, ADMIN.client_id, ADMIN.client_secret);
      relogged = true;
    }
    if (!(await live(tokens.member))) {
      const token = await revive();
      if (token) tokens.member = token;
      relogged ||= token !== null;
    }
    secrets.add(tokens.admin);
    secrets.add(tokens.member);
    return relogged;
  }

  async function live(token: string): Promise<boolean> {
    return (await t.inject({ method: 'GET', url: '/api/4.0/user', headers: { authorization: `Bearer ${token}` } })).statusCode === 200;
  }

  async function revive(): Promise<string | null> {
    try {
      return await loginToken(t.app, member.client_id, member.client_secret);
    } catch {
      return null;
    }
  }
});

/**
 * A segment that URL parsing rewrites (`%2e%2e` is a dot segment, so `…/credentials_api3/%2e%2e` is
 * `…/users/1`, as a browser or fetch would send it) addresses another route: its answer cannot be held to
 * this operation's schema, so such a value is not generated here.
 */
function addressesThisRoute(segment: string): boolean {
  const path = `/a/${segment}/b`;
  try {
    return new URL(path, 'http://localhost').pathname === path;
  } catch {
    return false;
  }
}

function safeEncode(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    return value.replace(/[\ud800-\udfff]/g, '%ED%A0%80');
  }
}

function parseLoose(text: string | undefined): Record<string, unknown> | null {
  if (!text) return null;
  try {
    const value = JSON.parse(text);
    return typeof value === 'object' && value !== null ? value : null;
  } catch {
    return Object.fromEntries(new URLSearchParams(text));
  }
}
