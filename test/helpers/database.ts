import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import pg from 'pg';
import { auditPostgresDatabase } from './audit.ts';

/** Every database this test process created; dropped when the process is about to exit. */
const created: string[] = [];
let cleanupRegistered = false;

/**
 * The database a test app or server process should use. TEST_DATABASE_URL unset: null, and the caller
 * uses SQLite in a temporary directory. Set (CI's PostgreSQL pass, e.g.
 * postgres://postgres@127.0.0.1:5432/test): a fresh, empty database per call, so tests never see each
 * other's rows, and the URL that reaches it. The TEST_DATABASE_URL database itself is only the admin
 * connection's landing place; nothing is written to it.
 *
 * Clean-up: this process drops its databases when its event loop drains (`beforeExit`, WITH (FORCE) so a
 * pool left open does not block it); a test process killed before that leaves `eoa_t_*` databases
 * behind, and `.ci/run` sweeps those of its own run (TEST_DATABASE_PREFIX) after its PostgreSQL pass.
 */
export async function testDatabaseUrl(): Promise<string | null> {
  const adminUrl = process.env.TEST_DATABASE_URL?.trim();
  if (!adminUrl) return null;
  const name = `${databasePrefix()}${randomBytes(8).toString('hex')}`;
  await withAdmin(adminUrl, (client) => client.query(`create database ${name}`));
  created.push(name);
  registerCleanup(adminUrl);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** `eoa_t_` unless TEST_DATABASE_PREFIX narrows it (.ci/run adds its process id, to sweep only its own). */
function databasePrefix(): string {
  const prefix = process.env.TEST_DATABASE_PREFIX?.trim() || 'eoa_t_';
  if (!/^[a-z_][a-z0-9_]{0,40}$/.test(prefix)) throw new Error('TEST_DATABASE_PREFIX must be a short lower-case identifier');
  return prefix;
}

async function withAdmin<T>(adminUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

function registerCleanup(adminUrl: string) {
  if (cleanupRegistered) return;
  cleanupRegistered = true;
  // 'beforeExit' (unlike 'exit') lets async work run; it fires again once that work is done, by which
  // time `created` is empty and nothing more is scheduled.
  process.on('beforeExit', () => {
    if (created.length === 0) return;
    const names = created.splice(0);
    void withAdmin(adminUrl, async (client) => {
      for (const name of names) {
        // The secret hygiene audit reads what the database held, since it has no file to scan.
        const url = new URL(adminUrl);
        url.pathname = `/${name}`;
        await auditPostgresDatabase(url.toString(), name).catch(() => {});
        await client.query(`drop database if exists ${name} with (force)`);
      }
    }).catch((error) => {
      process.stderr.write(`test databases left for .ci/run to drop (${names.join(', ')}): ${String(error)}\n`);
    });
  });
}

/**
 * `skip` for tests that only mean something on PostgreSQL (advisory locks, lost connections, several
 * instances on one database). They run whenever TEST_DATABASE_URL is set, as in .ci/run's PostgreSQL
 * pass; `npm test` stays free of set-up and says why they were skipped. Give it to each `test`, not to
 * the `describe` (whose hooks return early when it is set): node's runner counts the tests of a skipped
 * describe nowhere, so the summary would say "skipped 0".
 */
export const POSTGRES_ONLY: false | string = process.env.TEST_DATABASE_URL?.trim()
  ? false
  : 'needs PostgreSQL: set TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres (.ci/run does)';

/** One statement on the admin connection (TEST_DATABASE_URL), e.g. to terminate a test database's backends. */
export async function adminQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
  const adminUrl = process.env.TEST_DATABASE_URL?.trim();
  if (!adminUrl) throw new Error('adminQuery needs TEST_DATABASE_URL');
  return withAdmin(adminUrl, async (client) => (await client.query<R>(text, values)).rows);
}

/** The database name in a PostgreSQL URL. */
export function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.slice(1));
}

/**
 * Runs `work` while PostgreSQL's backend `pid` is stopped (SIGSTOP): its connection stays open and
 * silent, as a hung backend or a network cut without FIN or RST leaves it. The backend is always let go
 * again (SIGCONT). Needs the right to signal PostgreSQL's processes (root, or the postgres user, on the
 * database's machine): without it the test is skipped with a message and false is returned, `work` not run.
 */
export async function whileBackendStopped(t: TestContext, pid: number, work: () => Promise<void>): Promise<boolean> {
  try {
    process.kill(pid, 'SIGSTOP');
  } catch (error) {
    t.skip(`cannot stop PostgreSQL's backend ${pid} (${(error as NodeJS.ErrnoException).code}): run as root or postgres, on the database's machine`);
    return false;
  }
  try {
    await work();
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  return true;
}
