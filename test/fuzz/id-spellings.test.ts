import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { bearer, buildTestApp, json, type TestApp } from '../helpers/app.ts';
import { assertResponse } from '../helpers/contract.ts';
import { randomSecret, storeDigest } from '../reliability/support.ts';
import { servedRoutes } from '../helpers/routes.ts';

/**
 * Issue 10, defect 2, as a class: every id has one spelling, canonical decimal. For every id in every
 * route's path (the route table, test/helpers/routes.ts, which fails its own test when a route is missing)
 * and every id in a body, other spellings of an *existing* id — `01`, `+1`, `1.0`,
 * ` 1`, `1e0`, full-width or Arabic-Indic digits, and generated junk around the digits — must:
 *   1. never be a 5xx;
 *   2. in a path, answer 404 (to an admin, and to the user whose own id it is);
 *   3. in a body, never succeed;
 *   4. change nothing in the store.
 * An id parameter is any path parameter named `*_id` except `client_id` (an application's client_id is
 * free text). EOA_FUZZ_RUNS (default 25) generated spellings per route and parameter; EOA_FUZZ_SEED replays.
 */
// Fewer than endpoints.test.ts: each case here also reads the whole store twice (property 4).
const RUNS = Number(process.env.EOA_FUZZ_RUNS ?? 25);
const SEED = process.env.EOA_FUZZ_SEED ? Number(process.env.EOA_FUZZ_SEED) : Date.now() ^ (Math.random() * 0x7fffffff);

const FREE_TEXT_PARAMS = new Set(['client_id']);
const FULL_WIDTH = 0xff10;
const ARABIC_INDIC = 0x0660;
const digitsFrom = (id: string, zero: number) => id.replace(/[0-9]/g, (d) => String.fromCharCode(zero + Number(d)));

/** Fixed spellings every route and parameter is tried with. */
function fixedSpellings(id: string): string[] {
  return [
    `0${id}`, `00${id}`, `+${id}`, `-0${id}`, `${id}.0`, `${id}.`, `${id}e0`, `${id}E0`, ` ${id}`, `${id} `, `\t${id}`, `${id}\n`,
    `${id}\u0000`, `\u00a0${id}`, `\u200b${id}`, `0x${Number(id).toString(16)}`, `0o${Number(id).toString(8)}`, `0b${Number(id).toString(2)}`,
    digitsFrom(id, FULL_WIDTH), digitsFrom(id, ARABIC_INDIC), `${id}n`, `${id}_`, `1_${id}`, `${'0'.repeat(40)}${id}`, `${id}/`,
  ];
}

/** Generated spellings: the digits with junk before and/or after, some digits made non-ASCII. */
const junk = fc.oneof(
  fc.constantFrom('0', '00', '+', '-', ' ', '\t', '\n', '.', '.0', 'e0', ',', '_', '%', '\u00a0', '\u3000', '\ufeff', '\u0301'),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 4 }),
);
const generatedSpelling = (id: string) =>
  fc.oneof(
    fc.tuple(junk, fc.constantFrom('', ...fixedSpellings(id).slice(0, 3))).map(([j, rest]) => `${j}${rest || id}`),
    fc.tuple(fc.constantFrom(id, `0${id}`), junk).map(([i, j]) => `${i}${j}`),
    fc.nat({ max: id.length - 1 }).map((i) => `${id.slice(0, i)}${digitsFrom(id[i], FULL_WIDTH)}${id.slice(i + 1)}`),
  // Junk of digits only would spell another canonical id (`2` + `0`): that is a different id, not a spelling.
  ).filter((spelling) => !/^[1-9][0-9]*$/.test(spelling));

interface Operation {
  method: string;
  /** As fastify registered it, with `{param}` placeholders. */
  path: string;
  operationId: string;
  params: string[];
}

describe('alternative spellings of every id', () => {
  let t: TestApp;
  let member: Awaited<ReturnType<TestApp['newUser']>>;
  let memberCredentials: string;
  let application: { id: string; client_id: string };
  let operations: Operation[];
  const counts = { cases: 0, routes: 0 };

  before(async () => {
    t = await buildTestApp();
    member = await t.newUser();
    [{ id: memberCredentials }] = await t.app.repos.credentials.listForUser(member.id);
    const created = await t.inject({
      method: 'POST',
      url: '/api/4.0/external_oauth_applications',
      headers: bearer(t.adminToken),
      payload: { name: 'id spellings', client_id: 'id-spellings', client_secret: randomSecret() },
    });
    application = json(created);
    // The member's state on it, so the broker's user_states/{user_id} has something to read.
    const state = await t.inject({
      method: 'POST',
      url: '/api/4.0/external_oauth_applications/user_state',
      headers: bearer(t.adminToken),
      payload: { user_id: member.id, oauth_application_id: application.id, access_token: randomSecret(), access_token_expires_at: '2031-01-01T00:00:00Z' },
    });
    assert.equal(state.statusCode, 200, state.body);
    operations = servedRoutes(t.app).map((route) => ({ method: route.method, path: route.path, operationId: route.operationId, params: route.params }));
    console.log(`# id spellings: seed ${SEED}, ${RUNS} generated spellings per route and id (replay: EOA_FUZZ_SEED=${SEED})`);
  });
  after(async () => {
    console.log(`# id spellings: ${counts.routes} route × id parameter pairs, ${counts.cases} requests`);
    await t.close();
  });

  /** An existing value for each parameter, acting on the member (a user the admin may change). */
  function existing(param: string): string {
    if (param === 'user_id') return member.id;
    if (param === 'credentials_api3_id') return memberCredentials;
    if (param === 'client_id') return application.client_id;
    if (param === 'oauth_application_id' || param === 'application_id') return application.id;
    return '1';
  }

  /** What a route is sent besides its path: a harmless valid body where it takes one. */
  function bodyFor(operationId: string): object | undefined {
    switch (operationId) {
      case 'set_user_roles':
        return ['2'];
      case 'update_user':
        return { last_name: 'Spelled' };
      case 'update_user_credentials_api3':
        return { purpose: 'spelled' };
      case 'create_user_credentials_api3':
        return {};
      default:
        return undefined;
    }
  }

  async function expectNothingDone(request: { method: string; url: string; token: string; payload?: unknown }, want: (status: number) => boolean, label: string) {
    const before = await storeDigest(t.app.store.db);
    const response = await t.inject({
      method: request.method as 'GET',
      url: request.url,
      headers: bearer(request.token),
      ...(request.payload === undefined ? {} : { payload: request.payload as object }),
    });
    counts.cases += 1;
    assert.ok(response.statusCode < 500, `${label}: ${response.statusCode} ${response.body}`);
    assert.ok(want(response.statusCode), `${label}: ${response.statusCode} ${response.body}`);
    assert.equal(await storeDigest(t.app.store.db), before, `${label} changed the store`);
    return response;
  }

  test('the service has id path parameters to spell (the table is found, not empty)', () => {
    const pairs = operations.flatMap((op) => op.params.filter((p) => !FREE_TEXT_PARAMS.has(p)).map((p) => `${op.operationId}:${p}`));
    for (const known of ['login_user:user_id', 'user:user_id', 'set_user_roles:user_id', 'delete_user_credentials_api3:credentials_api3_id']) {
      assert.ok(pairs.includes(known), known);
    }
  });

  test('every id path parameter: another spelling of an existing id is a 404 that changes nothing', async () => {
    for (const op of operations) {
      for (const param of op.params.filter((p) => !FREE_TEXT_PARAMS.has(p))) {
        counts.routes += 1;
        const url = (spelling: string) =>
          op.path.replace(/\{(\w+)\}/g, (_m, name: string) => encodeURIComponent(name === param ? spelling : existing(name)));
        const payload = bodyFor(op.operationId);
        const tryOne = async (spelling: string) => {
          // As an admin, and as the member, whose own id this may be (self-checks compare canonical ids).
          for (const [who, token] of [['admin', t.adminToken], ['member', member.token]] as const) {
            const label = `${op.method} ${url(spelling)} (${op.operationId}, ${param} spelled ${JSON.stringify(spelling)}) as ${who}`;
            const response = await expectNothingDone({ method: op.method, url: url(spelling), token, payload }, (s) => s === 404, label);
            assertResponse(op.operationId, response);
          }
        };
        for (const spelling of fixedSpellings(existing(param))) await tryOne(spelling);
        await fc.assert(fc.asyncProperty(generatedSpelling(existing(param)), tryOne), { numRuns: RUNS, seed: SEED });
      }
    }
    assert.ok(counts.routes >= 10, `id path parameters found: ${counts.routes}`);
  });

  test('the canonical spelling still reaches every read route (the 404s above are about spelling)', async () => {
    for (const op of operations.filter((o) => o.method === 'GET' && o.params.some((p) => !FREE_TEXT_PARAMS.has(p)))) {
      const url = op.path.replace(/\{(\w+)\}/g, (_m, name: string) => encodeURIComponent(existing(name)));
      const response = await t.inject({ method: 'GET', url, headers: bearer(t.adminToken) });
      assert.equal(response.statusCode, 200, `${url}: ${response.body}`);
    }
  });

  test('ids in a body: another spelling never succeeds, and changes nothing', async () => {
    const userState = (fields: Record<string, string>) => ({
      user_id: member.id,
      oauth_application_id: application.id,
      access_token: randomSecret(),
      access_token_expires_at: '2031-01-01T00:00:00Z',
      ...fields,
    });
    const notFoundOrInvalid = (status: number) => status === 404 || status === 422;
    const cases: Array<{ label: string; url: string; method: string; body: (spelling: string) => unknown; id: string; want: (s: number) => boolean; tokens: string[] }> = [
      // An id that names nothing is a 404 (Looker's "not found"), for the member's own id too; a string no
      // field may hold at all (a NUL, a lone surrogate) is a 422 before any id is read.
      { label: 'user_state user_id', method: 'POST', url: '/api/4.0/external_oauth_applications/user_state', id: member.id, body: (s) => userState({ user_id: s }), want: notFoundOrInvalid, tokens: [t.adminToken, member.token] },
      { label: 'user_state oauth_application_id', method: 'POST', url: '/api/4.0/external_oauth_applications/user_state', id: application.id, body: (s) => userState({ oauth_application_id: s }), want: notFoundOrInvalid, tokens: [t.adminToken, member.token] },
      // A role id that names no role is a 422 naming it, as for any unknown role.
      { label: 'set_user_roles role id', method: 'PUT', url: `/api/4.0/users/${member.id}/roles`, id: '1', body: (s) => [s], want: (s) => s === 422, tokens: [t.adminToken] },
    ];
    for (const c of cases) {
      const tryOne = async (spelling: string) => {
        for (const token of c.tokens) {
          await expectNothingDone({ method: c.method, url: c.url, token, payload: c.body(spelling) }, c.want, `${c.label} spelled ${JSON.stringify(spelling)}`);
        }
      };
      for (const spelling of fixedSpellings(c.id)) await tryOne(spelling);
      await fc.assert(fc.asyncProperty(generatedSpelling(c.id), tryOne), { numRuns: RUNS, seed: SEED });
    }
  });

  test('ids in a query string: another spelling selects nothing', async () => {
    // Whitespace around an item of a comma-separated list (`ids=1, 2`) is list formatting, not the id's spelling.
    const spelled = (id: string) => fixedSpellings(id).filter((s) => s.trim() !== id);
    for (const spelling of spelled(member.id)) {
      const users = await t.inject({ method: 'GET', url: `/api/4.0/users?ids=${encodeURIComponent(spelling)}`, headers: bearer(t.adminToken) });
      assert.ok(users.statusCode === 200 || users.statusCode === 400, `${spelling}: ${users.statusCode}`);
      if (users.statusCode === 200) assert.deepEqual(json(users), [], `all_users?ids=${JSON.stringify(spelling)}`);
    }
    for (const spelling of spelled('1')) {
      const roles = await t.inject({ method: 'GET', url: `/api/4.0/roles?ids=${encodeURIComponent(spelling)}`, headers: bearer(t.adminToken) });
      assert.ok(roles.statusCode === 200 || roles.statusCode === 400, `${spelling}: ${roles.statusCode}`);
      if (roles.statusCode === 200) assert.deepEqual(json(roles), [], `all_roles?ids=${JSON.stringify(spelling)}`);
    }
  });
});
