import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { ADMIN, bearer, buildTestApp, json, type TestApp } from '../helpers/app.ts';
import { auditSecret } from '../helpers/audit.ts';
import { parsePrometheusText, valueOf, type Family } from '../helpers/prometheus-text.ts';
import { noopMetrics } from '../../src/metrics/metrics.ts';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { prometheusMetrics } from '../../src/metrics/prometheus-metrics.ts';

const METRICS_TOKEN = 'metrics-token-5b1f0e2a9c7d4e3f8a6b';
auditSecret('metrics token', METRICS_TOKEN);

/** A string that would break out of a label value, or show up in one, if any request data reached a label. */
const MARKER = 'zq9MARK';
const ODD = `${MARKER}"} 1\n# TYPE x counter\\ é/${MARKER}`;

async function scrape(t: TestApp): Promise<Map<string, Family>> {
  const response = await t.inject({ method: 'GET', url: '/metrics', headers: bearer(METRICS_TOKEN) });
  assert.equal(response.statusCode, 200, response.body);
  assert.match(String(response.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  assert.ok(!response.body.includes(MARKER), 'no request data in the exposition');
  return parsePrometheusText(response.body);
}


describe('metrics on the main port, behind EOA_METRICS_TOKEN', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp({ EOA_METRICS_TOKEN: METRICS_TOKEN });
  });
  after(() => t.close());

  test('without the token, or with a wrong one, /metrics answers 401 and shows nothing', async () => {
    for (const headers of [{}, bearer('metrics-token-5b1f0e2a9c7d4e3f8a6c'), bearer(t.adminToken), { authorization: `token ${METRICS_TOKEN}` }]) {
      const response = await t.inject({ method: 'GET', url: '/metrics', headers });
      assert.equal(response.statusCode, 401);
      assert.equal(json(response).message, 'Requires authentication.');
      assert.ok(!response.body.includes('eoa_'));
    }
  });

  test('the exposition parses strictly and moves as requests are made', async () => {
    const me = { method: 'GET', route: '/api/4.0/user', status: '200' };
    const before = await scrape(t);
    for (let i = 0; i < 3; i++) assert.equal((await t.inject({ method: 'GET', url: '/api/4.0/user', headers: bearer(t.adminToken) })).statusCode, 200);
    const create = await t.inject({
      method: 'POST',
      url: '/api/4.0/external_oauth_applications',
      headers: bearer(t.adminToken),
      payload: { name: 'metrics app', client_id: 'metrics-app', client_secret: 'metrics-app-secret-0123456789' },
    });
    assert.equal(create.statusCode, 200);
    const after = await scrape(t);

    assert.equal(valueOf(after, 'eoa_http_requests_total', me) - valueOf(before, 'eoa_http_requests_total', me), 3);
    assert.equal(valueOf(after, 'eoa_http_request_duration_seconds_count', me) - valueOf(before, 'eoa_http_request_duration_seconds_count', me), 3);
    // The first scrape is counted once it is answered: it shows in the second.
    assert.ok(valueOf(after, 'eoa_http_requests_total', { route: '/metrics', status: '200' }) >= 1);
    assert.ok(valueOf(after, 'eoa_write_batch_size_count') > valueOf(before, 'eoa_write_batch_size_count'), 'a write batch was recorded');
    assert.ok(
      valueOf(after, 'eoa_write_commit_duration_seconds_count', { outcome: 'committed' }) > valueOf(before, 'eoa_write_commit_duration_seconds_count', { outcome: 'committed' }),
    );
    assert.equal(after.get('eoa_http_request_duration_seconds')?.type, 'histogram');
    assert.ok(after.has('eoa_process_resident_memory_bytes'), 'process metrics are included');
    if (t.config.tokenCache.ttlMs > 0) {
      const lookups = (f: Map<string, Family>) => valueOf(f, 'eoa_token_cache_lookups_total', { result: 'hit' }) + valueOf(f, 'eoa_token_cache_lookups_total', { result: 'miss' });
      assert.ok(lookups(after) - lookups(before) >= 4, 'each authenticated request looked the token up in the cache');
      assert.ok(valueOf(after, 'eoa_token_cache_lookups_total', { result: 'hit' }) > 0);
    } else {
      assert.equal(after.has('eoa_token_cache_lookups_total') ? after.get('eoa_token_cache_lookups_total')!.samples.length : 0, 0, 'cache off: no lookups');
    }
    if (t.config.databaseUrl) {
      assert.equal(valueOf(after, 'eoa_db_pool_connections', { state: 'max' }), t.config.database.poolMax);
      assert.ok(after.has('eoa_db_pool_waiting'));
    } else {
      assert.ok(!after.has('eoa_db_pool_connections'), 'SQLite has no pool');
    }
    assert.ok(!after.has('eoa_redis_fallback'), 'no Redis configured');
  });

  test('no label holds a client_id, id, path or anything else a request carried', async () => {
    const before = await scrape(t);
    const admin = bearer(t.adminToken);
    const encoded = encodeURIComponent(ODD);
    const requests = [
      { method: 'POST', url: '/api/4.0/external_oauth_applications', headers: admin, payload: { name: ODD, client_id: ODD, client_secret: `${ODD}-secret-0123456789` } },
      { method: 'PATCH', url: `/api/4.0/external_oauth_applications/${encoded}`, headers: admin, payload: { name: `${ODD}2` } },
      { method: 'GET', url: `/api/4.0/external_oauth_applications?client_id=${encoded}&${MARKER}=${encoded}`, headers: admin },
      { method: 'DELETE', url: `/api/4.0/external_oauth_applications/${encoded}`, headers: admin },
      { method: 'DELETE', url: `/api/4.0/external_oauth_applications/${encoded}`, headers: admin },
      { method: 'GET', url: `/api/4.0/users/${encoded}`, headers: admin },
      { method: 'GET', url: `/${MARKER}/${encoded}` },
      { method: 'GET', url: `/api/4.0/${MARKER}`, headers: { 'x-request-id': MARKER, 'user-agent': MARKER } },
      { method: 'OPTIONS', url: `/api/4.0/user?${MARKER}` },
      { method: 'POST', url: '/api/4.0/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams({ client_id: ODD, client_secret: ODD }).toString() },
    ] as const;
    const statuses = [];
    for (const request of requests) statuses.push((await t.inject(request as never)).statusCode);
    // The filtered list names a parameter it does not declare: a 400 (closed query strings), still labelled by route.
    assert.deepEqual(statuses, [200, 200, 400, 204, 404, 404, 404, 404, 404, 404]);
    const after = await scrape(t);

    const labels = [...after.values()].flatMap((family) =>
      family.samples.flatMap((s) => Object.entries(s.labels).map(([name, value]) => ({ family: family.name, name, value, method: s.labels.method }))),
    );
    assert.deepEqual(labels.filter(({ value }) => value.includes(MARKER)), []);
    // A route label is a template the app registered (for that method), or "unmatched".
    const registered = (method: string, url: string) => t.app.hasRoute({ method: method as 'GET', url });
    assert.deepEqual(labels.filter(({ name, value, method }) => name === 'route' && value !== 'unmatched' && !registered(method, value)), []);
    assert.deepEqual([...new Set(labels.filter(({ name }) => name === 'method').map(({ value }) => value))].filter((m) => !/^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS|other)$/.test(m)), []);
    assert.deepEqual(labels.filter(({ name, value }) => name === 'status' && !/^[1-5]\d\d$/.test(value)), []);

    // The odd requests are there, under their templates.
    const unmatched = { method: 'GET', route: 'unmatched', status: '404' };
    assert.equal(valueOf(after, 'eoa_http_requests_total', unmatched) - valueOf(before, 'eoa_http_requests_total', unmatched), 2);
    const deleted = { method: 'DELETE', route: '/api/4.0/external_oauth_applications/:client_id', status: '204' };
    assert.equal(valueOf(after, 'eoa_http_requests_total', deleted) - valueOf(before, 'eoa_http_requests_total', deleted), 1);
    assert.equal(valueOf(after, 'eoa_logins_total', { outcome: 'failure' }) - valueOf(before, 'eoa_logins_total', { outcome: 'failure' }), 1);
  });
});

describe('rate-limit rejections and login-guard trips', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp({ EOA_METRICS_TOKEN: METRICS_TOKEN, EOA_RATE_LIMIT_MAX: '8', EOA_LOGIN_GUARD_MAX: '2' });
  });
  after(() => t.close());

  test('each 429 is counted under its cause', async () => {
    const before = await scrape(t);
    // Per-caller limit: the admin's ninth request in the window (the scrapes and logins count against the address).
    const answers = [];
    for (let i = 0; i < 9; i++) answers.push((await t.inject({ method: 'GET', url: '/api/4.0/user', headers: bearer(t.adminToken) })).statusCode);
    assert.deepEqual(answers, [...Array(8).fill(200), 429]);
    const middle = await scrape(t);
    assert.equal(valueOf(middle, 'eoa_rate_limit_rejections_total') - valueOf(before, 'eoa_rate_limit_rejections_total'), 1);
    assert.equal(valueOf(middle, 'eoa_login_guard_trips_total'), 0);

    // Login guard: two wrong secrets for one client_id, then the third attempt (even the right secret) is refused.
    const login = (secret: string) =>
      t.inject({
        method: 'POST',
        url: '/api/4.0/login',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ client_id: ADMIN.client_id, client_secret: secret }).toString(),
      });
    const logins = [(await login('wrong-secret-1')).statusCode, (await login('wrong-secret-2')).statusCode, (await login(ADMIN.client_secret)).statusCode];
    assert.deepEqual(logins, [404, 404, 429]);
    const after = await scrape(t);
    assert.equal(valueOf(after, 'eoa_login_guard_trips_total') - valueOf(middle, 'eoa_login_guard_trips_total'), 1);
    assert.equal(valueOf(after, 'eoa_logins_total', { outcome: 'failure' }) - valueOf(middle, 'eoa_logins_total', { outcome: 'failure' }), 2);
    assert.equal(valueOf(after, 'eoa_rate_limit_rejections_total'), valueOf(middle, 'eoa_rate_limit_rejections_total'));
  });
});

describe('metrics on a separate port (EOA_METRICS_PORT)', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp({ EOA_METRICS_PORT: '0' });
    await t.app.ready();
  });
  after(() => t.close());

  test('the listener serves /metrics on the configured host; the main port does not', async () => {
    assert.match(t.app.metricsUrl ?? '', /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    await t.inject({ method: 'GET', url: '/api/4.0/user', headers: bearer(t.adminToken) });
    const response = await fetch(t.app.metricsUrl!);
    assert.equal(response.status, 200);
    const families = parsePrometheusText(await response.text());
    assert.equal(valueOf(families, 'eoa_http_requests_total', { method: 'GET', route: '/api/4.0/user', status: '200' }), 1);
    assert.equal((await fetch(t.app.metricsUrl!.replace('/metrics', '/api/4.0/user'))).status, 404);
    assert.equal((await fetch(t.app.metricsUrl!, { method: 'POST' })).status, 405);
    assert.equal((await t.inject({ method: 'GET', url: '/metrics' })).statusCode, 404, 'not on the main port without a token');
  });

  test('with EOA_METRICS_TOKEN set too, the separate port asks for it as well', async () => {
    const both = await buildTestApp({ EOA_METRICS_PORT: '0', EOA_METRICS_TOKEN: METRICS_TOKEN });
    try {
      await both.app.ready();
      assert.equal((await fetch(both.app.metricsUrl!)).status, 401);
      assert.equal((await fetch(both.app.metricsUrl!, { headers: bearer(METRICS_TOKEN) })).status, 200);
    } finally {
      await both.close();
    }
  });

  test('a port that cannot be bound fails start-up', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      await assert.rejects(buildTestApp({ EOA_METRICS_PORT: String(port) }), /EADDRINUSE/);
    } finally {
      taken.close();
    }
  });
});

describe('metrics off (the default)', () => {
  test('nothing is kept and /metrics does not exist', async () => {
    const t = await buildTestApp();
    try {
      assert.equal(t.app.metrics, noopMetrics);
      assert.equal((await t.inject({ method: 'GET', url: '/metrics', headers: bearer(METRICS_TOKEN) })).statusCode, 404);
    } finally {
      await t.close();
    }
  });
});

describe('Redis fallback state', () => {
  test('0 while counting in Redis, 1 while Redis is unreachable', async (ctx) => {
    const probe = await new Promise<boolean>((resolve) => {
      const socket = net.connect(6379, '127.0.0.1', () => (socket.end(), resolve(true))).once('error', () => resolve(false));
    });
    if (!probe && !process.env.TEST_REQUIRE_REDIS) return ctx.skip('no Redis on 127.0.0.1:6379');
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadPort = (closed.address() as net.AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const cases = [
      { url: 'redis://127.0.0.1:6379', expected: 0 },
      { url: `redis://127.0.0.1:${deadPort}`, expected: 1 },
    ];
    for (const { url, expected } of cases) {
      const t = await buildTestApp({ EOA_METRICS_TOKEN: METRICS_TOKEN, REDIS_URL: url, EOA_REDIS_KEY_PREFIX: `eoa-test-metrics-${process.pid}:` });
      try {
        assert.equal(valueOf(await scrape(t), 'eoa_redis_fallback'), expected, url);
      } finally {
        await t.close();
      }
    }
  });
});

describe('hooks for other modules', () => {
  test('a dropped-log-lines getter is read at scrape time', async () => {
    const metrics = prometheusMetrics();
    let dropped = 0;
    metrics.watchDroppedLogLines(() => dropped);
    assert.equal(valueOf(parsePrometheusText(await metrics.registry.metrics()), 'eoa_log_lines_dropped_total'), 0);
    dropped = 7;
    assert.equal(valueOf(parsePrometheusText(await metrics.registry.metrics()), 'eoa_log_lines_dropped_total'), 7);
  });

  test('broker refreshes and provider latency have closed labels', async () => {
    const metrics = prometheusMetrics();
    metrics.tokenRefresh('snowflake', 'invalid_grant');
    metrics.providerRequest('databricks', 0.2);
    const families = parsePrometheusText(await metrics.registry.metrics());
    assert.equal(valueOf(families, 'eoa_token_refreshes_total', { provider: 'snowflake', outcome: 'invalid_grant' }), 1);
    assert.equal(valueOf(families, 'eoa_provider_request_duration_seconds_count', { provider: 'databricks' }), 1);
  });

  test('the strict parser refuses what a scraper could misread', () => {
    assert.throws(() => parsePrometheusText('x 1\n'), /undeclared/);
    assert.throws(() => parsePrometheusText('# TYPE x counter\nx{a="b} 1\n'), /unterminated|bad/);
    assert.throws(() => parsePrometheusText('# TYPE x counter\nx 1\nx 2\n'), /duplicate/);
    assert.throws(() => parsePrometheusText('# TYPE x histogram\nx_bucket{le="1"} 1\nx_count 1\n'), /\+Inf/);
    assert.throws(() => parsePrometheusText('# TYPE x counter\nx 1'), /newline/);
  });
});

describe('configuration', () => {
  test('metrics and database-wait settings are validated with every other problem', () => {
    assert.deepEqual(loadConfig({}).metrics, { port: null, token: null });
    assert.equal(loadConfig({}).databaseWaitS, 60);
    assert.deepEqual(loadConfig({ EOA_METRICS_PORT: '9464', EOA_METRICS_TOKEN: METRICS_TOKEN }).metrics, { port: 9464, token: METRICS_TOKEN });
    const error = (() => {
      try {
        loadConfig({ PORT: '9464', EOA_METRICS_PORT: '9464', EOA_METRICS_TOKEN: 'short', EOA_DB_WAIT_S: '-1' });
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error('no ConfigError');
    })();
    assert.ok(error instanceof ConfigError);
    assert.equal(error.problems.length, 3, error.message);
    assert.match(error.message, /EOA_METRICS_PORT must differ from PORT/);
    assert.match(error.message, /EOA_METRICS_TOKEN must be at least 16 characters/);
    assert.match(error.message, /EOA_DB_WAIT_S must be a whole number/);
    assert.ok(!error.message.includes('short'), 'the token is never echoed');
  });
});
