import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../../src/config.ts';
import type { Database } from '../../src/store/schema.ts';
import { openStore } from '../../src/store/database.ts';
import { createRepositories } from '../../src/store/repositories.ts';
import { SecretBox, parseMasterKeys, sealedKeyId } from '../../src/crypto/secret-box.ts';
import { storedSecrets } from '../../src/services/stored-secrets.ts';
import { ADMIN, type TestApp } from '../helpers/app.ts';
import { auditExchange } from '../helpers/audit.ts';

/** Shared by the crash, rotation and backup tests: a small HTTP client, the CLI, and a look at what is stored. */

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface Reply {
  statusCode: number;
  body: string;
}

/** Sends one request to a running server; every exchange goes to the secret hygiene audit. */
export type Send = (method: string, url: string, payload?: unknown, token?: string, requestId?: string) => Promise<Reply>;

export function httpClient(baseUrl: string): Send {
  return async (method, url, payload, token, requestId) => {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (requestId) headers['x-request-id'] = requestId;
    let body: string | undefined;
    if (typeof payload === 'string') {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = payload;
    } else if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(payload);
    }
    const response = await fetch(`${baseUrl}${url}`, { method, headers, body, signal: AbortSignal.timeout(30_000) });
    const reply = { statusCode: response.status, body: await response.text() };
    auditExchange({ method, url, payload }, reply);
    return reply;
  };
}

/** The same client over an in-process app (inject, audited by the test helper). */
export function injectClient(t: TestApp): Send {
  return async (method, url, payload, token, requestId) => {
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
    if (requestId) headers['x-request-id'] = requestId;
    if (typeof payload === 'string') headers['content-type'] = 'application/x-www-form-urlencoded';
    const response = await t.inject({ method: method as 'GET', url, headers, ...(payload === undefined ? {} : { payload: payload as string }) });
    return { statusCode: response.statusCode, body: response.body };
  };
}

export async function login(send: Send, creds: { client_id: string; client_secret: string } = ADMIN): Promise<string> {
  const reply = await send('POST', '/api/4.0/login', new URLSearchParams(creds).toString());
  if (reply.statusCode !== 200) throw new Error(`login failed: ${reply.statusCode} ${reply.body}`);
  return JSON.parse(reply.body).access_token;
}

export const randomSecret = () => randomBytes(18).toString('base64url');

/** What the tests wrote and were told was stored: the key of each sealed value → its plaintext. */
export type Expected = Map<string, string>;

export const appSecretKey = (clientId: string) => `external_oauth_applications.client_secret|${clientId}`;
export const tokenKey = (column: 'access_token' | 'refresh_token', userId: string, appId: string) =>
  `oauth_application_user_states.${column}|user ${userId} / application ${appId}`;

/** Creates an application over HTTP; on 200 records its secret as expected. */
export async function createApplication(send: Send, token: string, expected: Expected, label: string) {
  const client_secret = randomSecret();
  const client_id = `${label}/${randomBytes(4).toString('hex')} ?%`;
  const reply = await send('POST', '/api/4.0/external_oauth_applications', { name: label, client_id, client_secret, dialect_name: 'snowflake' }, token);
  if (reply.statusCode === 200) expected.set(appSecretKey(client_id), client_secret);
  return { reply, client_id, id: reply.statusCode === 200 ? (JSON.parse(reply.body).id as string) : null };
}

/** Writes a user state over HTTP (tokens rotate: a later write replaces an earlier one); on 200 records it. */
export async function writeUserState(send: Send, token: string, expected: Expected, userId: string, appId: string, withRefresh: boolean) {
  const access_token = randomSecret();
  const refresh_token = withRefresh ? randomSecret() : null;
  const reply = await send(
    'POST',
    '/api/4.0/external_oauth_applications/user_state',
    { user_id: userId, oauth_application_id: appId, access_token, access_token_expires_at: '2031-01-01T00:00:00Z', refresh_token },
    token,
  );
  if (reply.statusCode === 200) {
    expected.set(tokenKey('access_token', userId, appId), access_token);
    if (refresh_token === null) expected.delete(tokenKey('refresh_token', userId, appId));
    else expected.set(tokenKey('refresh_token', userId, appId), refresh_token);
  }
  return reply;
}

/** Creates a non-admin user with the User role over HTTP. */
export async function createUser(send: Send, token: string): Promise<string> {
  const user = await send('POST', '/api/4.0/users', { first_name: 'Reliability' }, token);
  if (user.statusCode !== 200) throw new Error(`create user failed: ${user.statusCode} ${user.body}`);
  const id = JSON.parse(user.body).id as string;
  await send('PUT', `/api/4.0/users/${id}/roles`, ['2'], token);
  return id;
}

export interface StoreContents {
  /** Every stored sealed value opened with the given keys: key (as in Expected) → plaintext. */
  values: Map<string, string>;
  /** How many values each key id sealed. */
  byKeyId: Record<string, number>;
  /** Values that did not open: where, never what. */
  failures: string[];
  applications: number;
  userStates: number;
  /** User states whose application or user is gone: must be none (foreign keys cascade). */
  orphanStates: number;
}

/** Opens the store the way the service does, with only `masterKey`, and reads every sealed value. */
export async function readStore(config: Pick<Config, 'databaseUrl' | 'dataDir' | 'database'>, masterKey: string): Promise<StoreContents> {
  const box = new SecretBox(parseMasterKeys(masterKey));
  const store = openStore(config);
  try {
    const repos = createRepositories(store.db);
    const contents: StoreContents = { values: new Map(), byKeyId: {}, failures: [], applications: 0, userStates: 0, orphanStates: 0 };
    for await (const batch of storedSecrets(repos, 200)) {
      for (const secret of batch) {
        const keyId = sealedKeyId(secret.sealed);
        contents.byKeyId[keyId] = (contents.byKeyId[keyId] ?? 0) + 1;
        try {
          contents.values.set(`${secret.column}|${secret.row}`, box.open(secret.sealed, secret.aad));
        } catch (error) {
          contents.failures.push(`${secret.column}|${secret.row}: ${(error as Error).message}`);
        }
      }
    }
    const count = async (table: 'external_oauth_applications' | 'oauth_application_user_states') =>
      Number((await store.db.selectFrom(table).select((eb) => eb.fn.countAll<string | number>().as('n')).executeTakeFirstOrThrow()).n);
    contents.applications = await count('external_oauth_applications');
    contents.userStates = await count('oauth_application_user_states');
    const orphans = await store.db
      .selectFrom('oauth_application_user_states as s')
      .leftJoin('external_oauth_applications as a', 'a.id', 's.oauth_application_id')
      .leftJoin('users as u', 'u.id', 's.user_id')
      .select((eb) => eb.fn.countAll<string | number>().as('n'))
      .where((eb) => eb.or([eb('a.id', 'is', null), eb('u.id', 'is', null)]))
      .executeTakeFirstOrThrow();
    contents.orphanStates = Number(orphans.n);
    return contents;
  } finally {
    await store.close();
  }
}

/** The audit log as stored: which actions each request id recorded. */
export async function readAuditEvents(config: Pick<Config, 'databaseUrl' | 'dataDir' | 'database'>): Promise<Map<string, string[]>> {
  const store = openStore(config);
  try {
    const rows = await store.db.selectFrom('audit_events').select(['request_id', 'action']).execute();
    const byRequest = new Map<string, string[]>();
    for (const row of rows) if (row.request_id !== null) byRequest.set(row.request_id, [...(byRequest.get(row.request_id) ?? []), row.action]);
    return byRequest;
  } finally {
    await store.close();
  }
}

/** The environment a CLI command needs to reach the same store as a test app or server. */
export function storeEnv(config: Pick<Config, 'databaseUrl' | 'dataDir'>, masterKey: string): Record<string, string> {
  return { EOA_DATA_DIR: config.dataDir, EOA_MASTER_KEY: masterKey, ...(config.databaseUrl ? { DATABASE_URL: config.databaseUrl } : {}) };
}

export interface CliRun {
  /** Resolves when the command exits. */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  /** Resolves when stdout has printed a line matching `pattern`. */
  waitFor(pattern: RegExp): Promise<void>;
  kill(): void;
}

/** Runs `external-oauth-apps <args>` the way an operator does (node --import tsx src/main.ts). */
export function runCli(args: string[], env: Record<string, string>): CliRun {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const watchers: Array<{ pattern: RegExp; resolve: () => void }> = [];
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
    for (const w of watchers.splice(0)) {
      if (w.pattern.test(stdout)) w.resolve();
      else watchers.push(w);
    }
  });
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    }),
  );
  return {
    done,
    waitFor: (pattern) =>
      new Promise<void>((resolve, reject) => {
        if (pattern.test(stdout)) return resolve();
        watchers.push({ pattern, resolve });
        void done.then(() => reject(new Error(`command ended before printing ${pattern}:\n${stdout}${stderr}`)));
      }),
    kill: () => child.kill('SIGKILL'),
  };
}

/** The values of `secrets` that appear in `text` (CLI output, a response, a log): tests expect none. */
export function leakedSecrets(text: string, secrets: Iterable<string>): string[] {
  return [...secrets].filter((s) => text.includes(s));
}

const TABLES = [
  'users',
  'roles',
  'user_roles',
  'credentials_api3',
  'sessions',
  'external_oauth_applications',
  'oauth_application_user_states',
  'oauth_pending_authorizations',
] as const;

/** A digest of every row of every table: equal digests mean a request changed nothing stored. */
export async function storeDigest(db: Kysely<Database>): Promise<string> {
  const hash = createHash('sha256');
  for (const table of TABLES) {
    const rows = await db.selectFrom(table).selectAll().execute();
    const lines = rows.map((row) => JSON.stringify(row)).sort();
    hash.update(`${table}\n${lines.join('\n')}\n`);
  }
  return hash.digest('hex');
}
