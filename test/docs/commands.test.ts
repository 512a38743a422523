// The commands in README.md and docs/*.md, run against a real server process so that they cannot rot.
// How a block says whether and where it runs: test/docs/code-blocks.ts, docs/development.md; the
// convention itself is checked, without a server, in test/docs/code-blocks.test.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADMIN } from '../helpers/app.ts';
import { auditDataDir, auditSecret } from '../helpers/audit.ts';
import { startServer, type ServerProcess } from '../helpers/server-process.ts';
import { documentationPages, parseBlocks, RUN_LANGS, type CodeBlock } from './code-blocks.ts';
import { freePort } from '../helpers/free-port.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The variables every block finds set (docs/development.md lists them). */
const VARIABLES = ['BACKUP_DIR', 'BASE', 'CLIENT_ID', 'CLIENT_SECRET', 'TOKEN', 'ADMIN_TOKEN', 'USER_TOKEN', 'APP_CLIENT_ID', 'SECRET_2', 'METRICS_TOKEN', 'LOOKERSDK_BASE_URL', 'LOOKERSDK_CLIENT_ID', 'LOOKERSDK_CLIENT_SECRET'];

/** The engine of this pass: the server and the command line use PostgreSQL when TEST_DATABASE_URL is set. */
const ENGINE = process.env.TEST_DATABASE_URL?.trim() ? 'postgres' : 'sqlite';

const PRELUDE = [
  'set -euo pipefail',
  // An HTTP error is a failed command: a documented request that answers 4xx or 5xx fails the test.
  'curl() { command curl --fail-with-body --max-time 30 "$@"; }',
  '',
].join('\n');

const pages = documentationPages(ROOT).map((page) => ({ page, blocks: parseBlocks(page, fs.readFileSync(path.join(ROOT, page), 'utf8')) }));
const runnable = (block: CodeBlock) => RUN_LANGS.has(block.lang);

describe('the commands in the docs run, against one real server', () => {
  let server: ServerProcess;
  let env: Record<string, string>;
  let backupDir = '';
  const replacements: [string, string][] = [];
  /** One new project per page, made when a page first needs one. */
  const projects = new Map<string, string>();

  before(async () => {
    // The pages use these; a missing one is named here rather than found as a failing block.
    const tools = ['bash', 'curl', 'jq', 'npm', ...(ENGINE === 'postgres' ? ['pg_dump'] : [])];
    const missing = tools.filter((tool) => !(process.env.PATH ?? '').split(path.delimiter).some((dir) => fs.existsSync(path.join(dir, tool))));
    assert.deepEqual(missing, [], `the docs' commands need ${missing.join(', ')} on PATH (Debian packages: bash, curl, jq, npm, postgresql-client)`);
    // The public URL must be known before start (the broker's redirect URI): pick the port first.
    const port = await freePort();
    const baseUrl = `http://127.0.0.1:${port}`;
    const metricsToken = secret('EOA_METRICS_TOKEN');
    server = await startServer({
      env: { PORT: String(port), EOA_PUBLIC_URL: baseUrl, EOA_RETURN_TO_ORIGINS: 'https://bi.example.com', EOA_METRICS_TOKEN: metricsToken },
    });
    assert.equal(server.baseUrl, baseUrl);
    const fixture = await prepare(baseUrl);
    backupDir = fs.mkdtempSync(path.join(os.tmpdir(), 'eoa-docs-backups-'));
    auditDataDir(backupDir); // a backup holds sealed secrets only: the audit checks that too
    env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      // The instance's own environment, for the command line (`npm run cli -- migrate`, …).
      EOA_DATA_DIR: server.env.EOA_DATA_DIR,
      EOA_MASTER_KEY: server.env.EOA_MASTER_KEY,
      ...(server.env.DATABASE_URL ? { DATABASE_URL: server.env.DATABASE_URL } : {}),
      BACKUP_DIR: backupDir,
      BASE: baseUrl,
      CLIENT_ID: ADMIN.client_id,
      CLIENT_SECRET: ADMIN.client_secret,
      TOKEN: fixture.adminToken,
      ADMIN_TOKEN: fixture.adminToken,
      USER_TOKEN: fixture.userToken,
      APP_CLIENT_ID: fixture.appClientId,
      SECRET_2: secret('SECRET_2'),
      METRICS_TOKEN: metricsToken,
      LOOKERSDK_BASE_URL: baseUrl,
      LOOKERSDK_VERIFY_SSL: 'false',
      LOOKERSDK_CLIENT_ID: ADMIN.client_id,
      LOOKERSDK_CLIENT_SECRET: ADMIN.client_secret,
    };
    assert.deepEqual(VARIABLES.filter((name) => !(name in env)), []);
    replacements.push(
      ['http://127.0.0.1:19999', baseUrl],
      ['https://eoa.example.com', baseUrl],
      ['<client_id>', ADMIN.client_id],
      ['<client_secret>', ADMIN.client_secret],
      ['<OAUTH_CLIENT_ID>', `docs-oauth-${randomBytes(4).toString('hex')}`],
      ['<OAUTH_CLIENT_SECRET>', secret('<OAUTH_CLIENT_SECRET>')],
    );
  });

  after(async () => {
    await server?.stop();
    for (const dir of projects.values()) fs.rmSync(dir, { recursive: true, force: true });
    // The secret audit reads the backups after the suite; without it they go now.
    if (backupDir && !process.env.EOA_TEST_AUDIT_DIR) fs.rmSync(backupDir, { recursive: true, force: true });
  });

  for (const { page, blocks } of pages) {
    const toRun = blocks.filter(runnable);
    if (toRun.length === 0) continue;

    describe(page, () => {
      for (const block of toRun) {
        const name = `${page}:${block.line} ${block.lang}${block.file ? ` file=${block.file}` : ''}`;
        if (block.noTest !== null) {
          test(name, { skip: `no-test: ${block.noTest}` }, () => {});
          continue;
        }
        if (block.engine !== null && block.engine !== ENGINE) {
          test(name, { skip: `for ${block.engine} only; this pass is ${ENGINE}` }, () => {});
          continue;
        }
        test(name, async () => {
          const code = replacements.reduce((text, [from, to]) => text.split(from).join(to), block.code);
          const inProject = block.lang !== 'sh' || block.inProject;
          if (inProject && !projects.has(page)) projects.set(page, await newProject());
          const cwd = inProject ? projects.get(page)! : ROOT;
          if (block.file) {
            fs.writeFileSync(path.join(cwd, block.file), code);
            return;
          }
          let result: RunResult;
          if (block.lang === 'sh') {
            // A shell block sets LOOKERSDK_* itself when it runs the SDK: the test's must not hide a wrong one.
            const shellEnv = Object.fromEntries(Object.entries(env).filter(([name]) => !name.startsWith('LOOKERSDK_')));
            result = await run('bash', ['-c', PRELUDE + code], cwd, shellEnv);
          } else {
            const file = path.join(cwd, `block-${block.line}.${block.lang === 'ts' ? 'mts' : 'js'}`);
            fs.writeFileSync(file, code);
            result = await run(process.execPath, [...(block.lang === 'ts' ? ['--import', 'tsx'] : []), file], cwd, env);
          }
          assert.equal(result.code, 0, `exit code ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`);
        });
      }
    });
  }
});

/** The first admin's token, a user with the User role, and an application where the admin holds a live token. */
async function prepare(baseUrl: string) {
  const call = async (method: string, url: string, token: string | null, body?: unknown) => {
    const response = await fetch(`${baseUrl}/api/4.0${url}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    assert.ok(response.ok, `${method} ${url}: ${response.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  const adminToken = (await call('POST', '/login', null, ADMIN)).access_token as string;
  const user = await call('POST', '/users', adminToken, { first_name: 'Docs', last_name: 'Reader' });
  await call('PUT', `/users/${user.id}/roles`, adminToken, ['2']);
  const credentials = await call('POST', `/users/${user.id}/credentials_api3`, adminToken);
  const userToken = (await call('POST', '/login', null, { client_id: credentials.client_id, client_secret: credentials.client_secret })).access_token as string;
  const appClientId = 'docs-snowflake';
  const app = await call('POST', '/external_oauth_applications', adminToken, {
    name: 'Docs Snowflake',
    client_id: appClientId,
    client_secret: secret('the application client_secret'),
    dialect_name: 'snowflake',
    provider_url: 'https://acme-xy12345.snowflakecomputing.com',
  });
  await call('POST', '/external_oauth_applications/user_state', adminToken, {
    user_id: '1',
    oauth_application_id: app.id,
    access_token: secret('the admin user state access_token'),
    access_token_expires_at: new Date(Date.now() + 3_600_000).toISOString(),
  });
  return { adminToken, userToken, appClientId };
}

/** A random secret, handed to the secret hygiene audit: it must show up in no log and no database file. */
function secret(label: string): string {
  const value = randomBytes(24).toString('hex');
  auditSecret(`docs commands: ${label}`, value);
  return value;
}

/** A new, default project as `npm init -y` makes one; its node_modules is this checkout's (no download). */
async function newProject(): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eoa-docs-project-'));
  const init = await run('npm', ['init', '-y'], dir, { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' });
  assert.equal(init.code, 0, init.stderr);
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  return dir;
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], cwd: string, env: Record<string, string>): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    // Its own process group, so that a hung command is killed with everything it started (npm → node).
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    // A command that hangs is a failure, not a stuck suite.
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 120_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
