// The bench's database: a fresh SQLite file or a fresh PostgreSQL database per store, dropped at the end,
// filled through the service's own `seed` command, and read directly only to count rows and pick samples.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import type { Processes } from './processes.ts';

export type Counted = 'external_oauth_applications' | 'audit_events' | 'oauth_application_user_states' | 'users';

export interface StoreTarget {
  /** EOA_DATA_DIR, EOA_MASTER_KEY and (PostgreSQL) DATABASE_URL: what the service and `seed` run on. */
  env: Record<string, string>;
  /** Rows in a table; 0 before the first seed has created the schema. */
  count(table?: Counted): Promise<number>;
  /** A read-only query, for samples; `?` placeholders on both engines. */
  rows<T>(sql: string, params?: unknown[]): Promise<T[]>;
  /** PostgreSQL: the pids of the backends serving this database (the service's pool); SQLite: none. */
  backendPids(): Promise<number[]>;
  dispose(): Promise<void>;
}

export async function prepareStore(db: 'sqlite' | 'postgres'): Promise<StoreTarget> {
  const masterKey = randomBytes(32).toString('base64');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'eoa-bench-'));
  const base = { EOA_DATA_DIR: dataDir, EOA_MASTER_KEY: masterKey };
  if (db === 'sqlite') {
    const file = path.join(dataDir, 'external-oauth-apps.sqlite');
    const rows = async <T>(sql: string, params: unknown[] = []) => {
      const handle = new SqliteDatabase(file, { readonly: true });
      try {
        return handle.prepare(sql).all(...params) as T[];
      } finally {
        handle.close();
      }
    };
    return {
      env: base,
      async count(table: Counted = 'external_oauth_applications') {
        if (!fs.existsSync(file)) return 0;
        return (await rows<{ n: number }>(`select count(*) as n from ${table}`))[0].n;
      },
      rows,
      async backendPids() {
        return [];
      },
      async dispose() {
        fs.rmSync(dataDir, { recursive: true, force: true });
      },
    };
  }
  const adminUrl = process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `eoa_bench_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 1 });
  // An idle connection ended from outside (the database dropped with force, a restart) is not the bench's
  // failure: the next query opens another.
  pool.on('error', () => {});
  const rows = async <T>(sql: string, params: unknown[] = []) => {
    let n = 0;
    return (await pool.query(sql.replace(/\?/g, () => `$${++n}`), params)).rows as T[];
  };
  return {
    env: { ...base, DATABASE_URL: url.toString() },
    async count(table: Counted = 'external_oauth_applications') {
      const [exists] = await rows<{ name: string | null }>('select to_regclass(?) as name', [table]);
      if (exists.name === null) return 0;
      return (await rows<{ n: number }>(`select count(*)::int as n from ${table}`))[0].n;
    },
    rows,
    async backendPids() {
      const found = await rows<{ pid: number }>('select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()');
      return found.map((r) => r.pid);
    },
    async dispose() {
      await pool.end();
      await admin.query(`drop database if exists ${name} with (force)`);
      await admin.end();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Seeds through the service's `seed` command (src/cli/seed.ts), as an operator would: `applications`
 * applications and, with `userStates`, that many users' sealed tokens for them.
 */
export async function seed(processes: Processes, store: StoreTarget, what: { applications: number; userStates?: number; prefix: string }) {
  if (what.applications <= 0) return;
  const started = Date.now();
  let last = '';
  const argv = ['--import', 'tsx', 'src/main.ts', 'seed', String(what.applications), '--prefix', what.prefix];
  if (what.userStates) argv.push('--user-states', String(what.userStates));
  await processes.runToEnd(argv, store.env, (line) => {
    last = line;
    process.stdout.write(`\r    ${line}`.padEnd(80));
  });
  process.stdout.write(`\r    ${last} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}
