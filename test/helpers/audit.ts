import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * Evidence for the suite-wide secret hygiene audit (scripts/secret-audit.mjs). scripts/run-tests.mjs sets
 * EOA_TEST_AUDIT_DIR; the helpers record into it every data directory, every log, every response, and
 * every secret a test handed to the service or got back from it. After the suite the audit looks for each
 * secret in the database files, logs and responses. Without the variable (a test run on its own through
 * `node --test`) nothing is recorded.
 *
 * Files, one set per test process: `<dir>/<id>.jsonl` (data dirs, secrets), `<dir>/<id>.responses.jsonl`
 * (one response a line), `<dir>/logs/<id>-<n>.log`, and on PostgreSQL `<dir>/postgres/<database>.jsonl`.
 */
const AUDIT_DIR = process.env.EOA_TEST_AUDIT_DIR?.trim() || null;
const PROCESS_ID = `${process.pid}-${randomBytes(4).toString('hex')}`;

/** Where a secret may legitimately appear: nowhere, or only in the one response that created it. */
export type SecretOrigin = { kind: 'request' } | { kind: 'response'; responseId: string };

let responseCount = 0;
let logCount = 0;
const seen = new Set<string>();

function append(file: string, entry: object) {
  if (!AUDIT_DIR) return;
  fs.appendFileSync(path.join(AUDIT_DIR, file), `${JSON.stringify(entry)}\n`);
}

export function auditDataDir(dir: string) {
  append(`${PROCESS_ID}.jsonl`, { type: 'data-dir', path: dir });
}

/**
 * Remembers a secret the service must never reveal. Short or low-variety values (a fuzzer's "a") cannot be
 * told apart from ordinary text and are not tracked; every secret a test makes on purpose is long and random.
 */
export function auditSecret(label: string, value: unknown, origin: SecretOrigin = { kind: 'request' }) {
  if (!AUDIT_DIR || typeof value !== 'string' || !isTrackable(value)) return;
  const key = `${value}|${origin.kind === 'response' ? origin.responseId : ''}`;
  if (seen.has(key)) return;
  seen.add(key);
  append(`${PROCESS_ID}.jsonl`, { type: 'secret', label, value, origin });
}

export function isTrackable(value: string): boolean {
  return value.length >= 16 && new Set(value).size >= 10;
}

/** Records a response the tests received; returns its id, for secrets that this response may carry. */
export function auditResponse(method: string, url: string, statusCode: number, body: string): string {
  const id = `${PROCESS_ID}:${(responseCount += 1)}`;
  append(`${PROCESS_ID}.responses.jsonl`, { id, method, url: url.split('?')[0], status: statusCode, body });
  return id;
}

export function auditLog(text: string) {
  if (!AUDIT_DIR || text.length === 0) return;
  fs.mkdirSync(path.join(AUDIT_DIR, 'logs'), { recursive: true });
  fs.writeFileSync(path.join(AUDIT_DIR, 'logs', `${PROCESS_ID}-${(logCount += 1)}.log`), text);
}

/**
 * A PostgreSQL test database has no file in a data dir: its rows are dumped as text just before it is
 * dropped (test/helpers/database.ts), and the audit scans the dump as it scans a SQLite file.
 */
export async function auditPostgresDatabase(databaseUrl: string, name: string): Promise<void> {
  if (!AUDIT_DIR) return;
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows: tables } = await client.query<{ tablename: string }>("select tablename from pg_tables where schemaname = 'public'");
    const lines: string[] = [];
    for (const { tablename } of tables) {
      const { rows } = await client.query<{ line: string }>(`select row_to_json(t)::text as line from "${tablename.replace(/"/g, '""')}" t`);
      lines.push(...rows.map((r) => r.line));
    }
    const dir = path.join(AUDIT_DIR, 'postgres');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `${name}.jsonl`), `${lines.join('\n')}\n`);
    auditDataDir(dir);
  } finally {
    await client.end();
  }
}

const SECRET_FIELDS = ['client_secret', 'access_token', 'refresh_token'] as const;

/**
 * Learns the secrets of one request/response pair. Secrets sent in a body the service accepted (an
 * application's client_secret, a user state's tokens) may appear in no response at all; the ones the
 * service generates (an API credential's client_secret, an access token) only in the response that made them.
 */
export function auditExchange(request: { method: string; url: string; payload?: unknown }, response: { statusCode: number; body: string }) {
  if (!AUDIT_DIR) return;
  const responseId = auditResponse(request.method, request.url, response.statusCode, response.body);
  if (response.statusCode < 200 || response.statusCode >= 300) return;
  for (const [field, value] of secretFields(request.payload)) auditSecret(`request ${field}`, value);
  const path = request.url.split('?')[0];
  const createsSecret = /\/login(\/[^/]+)?$/.test(path) || /\/credentials_api3$/.test(path);
  if (request.method.toUpperCase() === 'POST' && createsSecret) {
    for (const [field, value] of secretFields(safeJson(response.body))) {
      auditSecret(`response ${field}`, value, { kind: 'response', responseId });
    }
  }
  // The OAuth connect's authorize answer carries the state in its URL: that response only, nowhere else.
  if (request.method.toUpperCase() === 'POST' && /\/external_oauth_applications\/[^/]+\/authorize$/.test(path)) {
    const answer = safeJson(response.body) as { authorization_url?: unknown } | null;
    const state = typeof answer?.authorization_url === 'string' ? safeUrl(answer.authorization_url)?.searchParams.get('state') : null;
    auditSecret('oauth state', state, { kind: 'response', responseId });
  }
  // The broker's access_token answer is the one response that may carry a user's access token (only that).
  if (request.method.toUpperCase() === 'POST' && /\/external_oauth_applications\/[^/]+\/access_token$/.test(path)) {
    const answer = safeJson(response.body) as { access_token?: unknown } | null;
    auditSecret('broker access_token answer', answer?.access_token, { kind: 'response', responseId });
  }
}

function secretFields(payload: unknown): Array<[string, unknown]> {
  let body = payload;
  if (typeof body === 'string') body = body.trimStart().startsWith('{') ? safeJson(body) : Object.fromEntries(new URLSearchParams(body));
  if (typeof body !== 'object' || body === null || Array.isArray(body) || Buffer.isBuffer(body)) return [];
  return SECRET_FIELDS.filter((f) => f in (body as object)).map((f) => [f, (body as Record<string, unknown>)[f]]);
}

function safeUrl(text: string): URL | null {
  try {
    return new URL(text);
  } catch {
    return null;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
