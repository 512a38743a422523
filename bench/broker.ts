// The OAuth broker's phases of `npm run bench` (run by bench/run.ts after the service's phases):
//   1. fresh-token reads: POST …/access_token for a token far from expiry (no refresh), against a bare
//      node:http ceiling answering the same number of bytes, measured just before;
//   2. 1,000 concurrent reads of one expired token: how many refreshes reach the provider (goal: one), and
//      the p99 of the 1,000 answers. 1,000 requests at once on one process queue behind each other whatever
//      they ask for, so the same burst is first measured for the fresh token: the p99 the refresh adds to it
//      is held against the provider's own time for that refresh (goal: ≤ it + 50 ms); both p99s are shown.
// The provider is the tests' real oidc-provider in its own process (bench/oidc-provider-server.ts); a user
// is connected through the service's own authorization-code flow. For phase 2 the stored token is aged in
// the database (its expiry moved into the past), so the service must refresh it although the provider
// would still accept it: the provider's token lifetime stays long, and phase 1 never refreshes.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import autocannon, { type Options, type Result } from 'autocannon';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import type { Row } from './measure.ts';
import { startBenchService, type Bench } from './phases.ts';
import { login } from './requests.ts';

/** What the broker's goals are judged on (report.ts). */
export interface BrokerFigures {
  freshRead: Row;
  /** Refreshes the provider saw during the fresh-token phase: none is the goal. */
  refreshesDuringFresh: number;
  concurrentReads: number;
  /** Refreshes and revoked grants during the burst on one expired token: one and none are the goal. */
  refreshes: number;
  revoked: number;
  failedAnswers: number;
  burstP99: number;
  freshBurstP99: number;
  /** The provider's own time for the refresh (its slowest token request during the burst), in ms. */
  providerMs: number;
}

const PUBLIC_URL = 'http://127.0.0.1:9';
const APPS = '/api/4.0/external_oauth_applications';
const CONCURRENT_EXPIRED_READS = 1000;

async function json(base: string, method: string, url: string, token: string | null, body?: unknown) {
  const response = await fetch(`${base}${url}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    redirect: 'manual',
  });
  const text = await response.text();
  if (response.status >= 400) throw new Error(`${method} ${url}: ${response.status} ${text.slice(0, 300)}`);
  return { status: response.status, text, json: () => JSON.parse(text) };
}

/** Moves the stored access token's expiry into the past, as if its lifetime had run out. */
async function ageToken(storeEnv: Record<string, string>, applicationId: string): Promise<void> {
  const past = new Date(Date.now() - 60_000).toISOString();
  if (storeEnv.DATABASE_URL) {
    const client = new pg.Client({ connectionString: storeEnv.DATABASE_URL });
    await client.connect();
    try {
      await client.query('update oauth_application_user_states set access_token_expires_at = $1 where oauth_application_id = $2', [past, applicationId]);
    } finally {
      await client.end();
    }
    return;
  }
  const db = new SqliteDatabase(path.join(storeEnv.EOA_DATA_DIR, 'external-oauth-apps.sqlite'));
  try {
    db.pragma('busy_timeout = 5000');
    db.prepare('update oauth_application_user_states set access_token_expires_at = ? where oauth_application_id = ?').run(past, applicationId);
  } finally {
    db.close();
  }
}

export async function brokerPhases(bench: Bench): Promise<BrokerFigures> {
  const { measurement } = bench;
  const client = { client_id: `bench-broker-${randomBytes(4).toString('hex')}`, client_secret: randomBytes(24).toString('base64url') };
  const provider = await bench.processes.start(
    'provider',
    ['--import', 'tsx', 'bench/oidc-provider-server.ts'],
    { CLIENT_ID: client.client_id, CLIENT_SECRET: client.client_secret, REDIRECT_URI: `${PUBLIC_URL}/external_oauth/redirect` },
    /provider listening on (http:\/\/\S+ control http:\/\/\S+)/,
  );
  const [issuer, , control] = provider.url.split(' ');
  const counts = async () => (await (await fetch(`${control}/counts`)).json()) as Record<string, number>;
  const service = await startBenchService(bench, { EOA_PUBLIC_URL: PUBLIC_URL });
  try {
    const token = await login(service.url, bench.admin);
    const app = (await json(service.url, 'POST', APPS, token, { name: client.client_id, client_id: client.client_id, client_secret: client.client_secret, issuer, scopes: 'refresh_token' })).json();
    const started = (await json(service.url, 'POST', `${APPS}/${encodeURIComponent(client.client_id)}/authorize`, token, {})).json();
    const back = (await (await fetch(`${control}/authorize`, { method: 'POST', body: JSON.stringify({ url: started.authorization_url }) })).json()) as { back: string };
    await json(service.url, 'GET', `/external_oauth/redirect${new URL(back.back).search}`, null);

    const accessTokenPath = `${APPS}/${encodeURIComponent(client.client_id)}/access_token`;
    const read: Options['requests'] = [{ method: 'POST', path: accessTokenPath, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' }];
    const answerBytes = Buffer.byteLength((await json(service.url, 'POST', accessTokenPath, token, {})).text);

    // Phase 1: fresh-token reads, against a ceiling moving the same bytes.
    const before = await counts();
    const freshRead = await measurement.load('POST access_token (fresh token)', service, { method: 'POST', bytes: answerBytes, requestBody: '{}' }, { requests: read }, 'token-read');
    const refreshesDuringFresh = ((await counts())['grant.success'] ?? 0) - (before['grant.success'] ?? 0);

    // Phase 2: 1,000 callers at once, first for the fresh token (what 1,000 concurrent requests cost this
    // process by themselves), then for the same token aged past its expiry: the difference is what waiting
    // for the one refresh adds.
    const burstOf = async (label: string): Promise<Result> => {
      measurement.progress(label, 0);
      const result = await autocannon({ url: service.url, connections: CONCURRENT_EXPIRED_READS, amount: CONCURRENT_EXPIRED_READS, timeout: 30, requests: read });
      measurement.rows.push(measurement.toRow(label, result, null));
      return result;
    };
    const freshBurst = await burstOf(`POST access_token: ${CONCURRENT_EXPIRED_READS} at once, fresh token`);
    await ageToken(bench.store.env, app.id);
    const beforeBurst = await counts();
    const timingsBefore = ((await (await fetch(`${control}/token-timings`)).json()) as number[]).length;
    const burst = await burstOf(`POST access_token: ${CONCURRENT_EXPIRED_READS} at once, one expired token`);
    const afterBurst = await counts();
    const refreshes = (afterBurst['grant.success'] ?? 0) - (beforeBurst['grant.success'] ?? 0);
    const revoked = (afterBurst['grant.revoked'] ?? 0) - (beforeBurst['grant.revoked'] ?? 0);
    const providerMs = ((await (await fetch(`${control}/token-timings`)).json()) as number[]).slice(timingsBefore);
    console.log(`    the provider handled ${providerMs.length} token request(s) in ${providerMs.map((ms) => ms.toFixed(1)).join(', ')} ms; ${refreshes} refresh(es), ${revoked} grant(s) revoked`);

    return {
      freshRead,
      refreshesDuringFresh,
      concurrentReads: CONCURRENT_EXPIRED_READS,
      refreshes,
      revoked,
      failedAnswers: burst.non2xx + burst.errors + burst.timeouts,
      burstP99: burst.latency.p99,
      freshBurstP99: freshBurst.latency.p99,
      providerMs: providerMs.length > 0 ? Math.max(...providerMs) : NaN,
    };
  } finally {
    await service.stop();
    await measurement.stopCeilings();
    await provider.stop();
  }
}
