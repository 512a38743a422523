import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { loadConfig, type Config } from '../../src/config.ts';
import { buildServer } from '../../src/server.ts';
import { CompileCache } from '../../src/http/compile-cache.ts';
import type { ScryptCost } from '../../src/crypto/password.ts';
import { openStore, SQLITE_FILE_NAME } from '../../src/store/database.ts';
import { migrateToLatest } from '../../src/store/migrate.ts';
import { testDatabaseUrl } from './database.ts';
import { auditDataDir, auditExchange, auditLog, auditSecret } from './audit.ts';
import { registerServedDocument } from './contract.ts';

export const ADMIN = { client_id: 'test-admin', client_secret: 'test-admin-secret-0123456789' };
/** A fixed key so tests can open what they seal; never used outside tests. */
export const TEST_MASTER_KEY = Buffer.alloc(32, 7).toString('base64');

export function makeDataDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eoa-test-'));
  auditDataDir(dir);
  return dir;
}

auditSecret('test admin client_secret', ADMIN.client_secret);

/** Every app of this process reuses the schemas the first one compiled (a test process builds hundreds). */
const compileCache = new CompileCache();

/**
 * The scrypt cost of test apps' hashes: a sixteenth of production's, since the suite makes hundreds of
 * them (the admin's, each new user's, each login's). Verification reads the cost from the stored hash,
 * so nothing else changes; test/crypto/password.test.ts holds a server built without it to SCRYPT_COST.
 */
export const TEST_SCRYPT_COST: ScryptCost = { N: 1024, r: 8, p: 1 };

let migratedTemplate: Promise<string> | null = null;

/**
 * A SQLite file migrated to the latest schema, made once per process: a test app's data directory starts
 * with a copy of it, as if the service had run there before, instead of running every migration again.
 */
function migratedSqliteFile(): Promise<string> {
  migratedTemplate ??= (async () => {
    const dir = makeDataDir();
    const store = openStore({ dataDir: dir, databaseUrl: null } as Config);
    await migrateToLatest(store);
    // Closing the last connection checkpoints the WAL into the file and removes it: the file is complete.
    await store.close();
    return path.join(dir, SQLITE_FILE_NAME);
  })();
  return migratedTemplate;
}

/**
 * The configuration tests run with: a fresh data directory, the test admin, rate limits off unless a
 * test turns them on. With TEST_DATABASE_URL set (CI's PostgreSQL pass) every app gets a fresh database.
 * `migrated`: on SQLite the data directory starts with an already migrated database (buildTestApp's
 * default); a test of a first start, or of the migrations, asks for none.
 */
export async function testConfig(env: Record<string, string> = {}, { migrated = false } = {}): Promise<Config> {
  const databaseUrl = await testDatabaseUrl();
  const dataDir = makeDataDir();
  if (migrated && !databaseUrl && !env.DATABASE_URL) fs.copyFileSync(await migratedSqliteFile(), path.join(dataDir, SQLITE_FILE_NAME));
  return loadConfig({
    EOA_DATA_DIR: dataDir,
    EOA_MASTER_KEY: TEST_MASTER_KEY,
    EOA_BOOTSTRAP_CLIENT_ID: ADMIN.client_id,
    EOA_BOOTSTRAP_CLIENT_SECRET: ADMIN.client_secret,
    EOA_RATE_LIMIT_MAX: '0',
    LOG_LEVEL: 'info',
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    ...env,
  });
}

export interface TestApp {
  app: FastifyInstance;
  config: Config;
  /** Every log line the app wrote, as text, for the tests that prove secrets never reach the logs. */
  logs: string[];
  adminToken: string;
  /** A token for a new, non-admin user. */
  newUser(): Promise<{ id: string; token: string; client_id: string; client_secret: string }>;
  inject: FastifyInstance['inject'];
  close(): Promise<void>;
}

/**
 * Starts the real app in-process (inject, no port), bootstraps the admin and logs it in. `setup` runs
 * before the app is ready, so a test can register a test-only route on this one instance.
 */
export async function buildTestApp(
  env: Record<string, string> = {},
  config?: Config,
  setup?: (app: FastifyInstance) => void | Promise<void>,
): Promise<TestApp> {
  const logs: string[] = [];
  const logStream = new Writable({
    write(chunk, _encoding, callback) {
      logs.push(String(chunk));
      callback();
    },
  });
  const cfg = config ?? (await testConfig(env, { migrated: true }));
  const app = await buildServer(cfg, { logStream, compileCache, scryptCost: TEST_SCRYPT_COST });
  await setup?.(app);
  try {
    await app.ready();
  } catch (error) {
    // What started before the failure (the database, the revocation listener) must not keep the test alive.
    await app.close().catch(() => {});
    throw error;
  }
  registerServedDocument(app);
  await app.services.users.bootstrapAdmin(cfg.bootstrap);
  const inject = auditedInject(app);
  const adminToken = await loginToken(app, ADMIN.client_id, ADMIN.client_secret);

  return {
    app,
    config: cfg,
    logs,
    adminToken,
    inject,
    async newUser() {
      const auth = { authorization: `Bearer ${adminToken}` };
      const user = json(await inject({ method: 'POST', url: '/api/4.0/users', headers: auth, payload: { first_name: 'Test' } }));
      await inject({ method: 'PUT', url: `/api/4.0/users/${user.id}/roles`, headers: auth, payload: ['2'] });
      const creds = json(await inject({ method: 'POST', url: `/api/4.0/users/${user.id}/credentials_api3`, headers: auth, payload: {} }));
      return { id: user.id, token: await loginToken(app, creds.client_id, creds.client_secret), client_id: creds.client_id, client_secret: creds.client_secret };
    },
    async close() {
      // The audit log's rows, as text, join the evidence of the secret audit: no event may carry a secret.
      const events = await app.store.db.selectFrom('audit_events').selectAll().execute().catch(() => []);
      await app.close();
      auditLog(logs.join(''));
      auditLog(events.map((row) => JSON.stringify(row)).join('\n'));
    },
  };
}

/** inject, with every exchange recorded for the secret hygiene audit (test/helpers/audit.ts). */
function auditedInject(app: FastifyInstance): FastifyInstance['inject'] {
  return (async (options: InjectOptions) => {
    const response = await app.inject(options);
    auditExchange({ method: options.method ?? 'GET', url: String(options.url ?? options.path ?? ''), payload: options.payload ?? options.body }, response);
    return response;
  }) as FastifyInstance['inject'];
}

export async function loginToken(app: FastifyInstance, clientId: string, clientSecret: string): Promise<string> {
  const response = await auditedInject(app)({
    method: 'POST',
    url: '/api/4.0/login',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ client_id: clientId, client_secret: clientSecret }).toString(),
  });
  if (response.statusCode !== 200) throw new Error(`login failed: ${response.statusCode} ${response.body}`);
  return json(response).access_token;
}

export function json(response: LightMyRequestResponse) {
  return JSON.parse(response.body);
}

export function bearer(token: string) {
  return { authorization: `Bearer ${token}` };
}
