// `npm run bench -- --audit-cost [--db postgres]`
//
// The audit log's cost on a durable create, measured where the load of a shared machine cannot hide it:
// in one process, on one store, the same write path the service takes (group commit, the prepared insert)
// alternately without and with its audit event, several rounds each, medians compared. A full `npm run
// bench` measures the same thing end to end, but on a busy machine its run-to-run noise is larger than
// one extra row per commit.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { openStore } from '../src/store/database.ts';
import { migrateToLatest } from '../src/store/migrate.ts';
import { createRepositories } from '../src/store/repositories.ts';
import { createWriteBatcher } from '../src/store/write-batcher.ts';
import { auditService } from '../src/services/audit.ts';
import type { RequestContext } from '../src/services/request-context.ts';

const ROUNDS = 7;
const WRITES = 2000;
/** Writes in flight at once, as concurrent requests would queue them. */
const CONCURRENCY = 50;

export async function auditCost(db: 'sqlite' | 'postgres') {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'eoa-audit-cost-'));
  const databaseUrl = db === 'postgres' ? (process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres') : null;
  let dropDatabase = async () => {};
  let url = databaseUrl;
  if (databaseUrl) {
    const pg = (await import('pg')).default;
    const name = `eoa_bench_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    await admin.query(`create database ${name}`);
    const u = new URL(databaseUrl);
    u.pathname = `/${name}`;
    url = u.toString();
    dropDatabase = async () => {
      await admin.query(`drop database if exists ${name} with (force)`);
      await admin.end();
    };
  }
  const store = openStore({ databaseUrl: url, dataDir, database: { poolMax: 10, statementTimeoutMs: 0 } });
  try {
    await migrateToLatest(store);
    const repos = createRepositories(store.db);
    const writes = createWriteBatcher(store.db, store.engine);
    const audit = auditService(repos, writes, { retentionDays: 0, failedLoginEvents: 5, failedLoginWindowS: 60 });
    const context: RequestContext = { requestId: 'bench', address: '127.0.0.1', actor: { userId: '1', principalUserId: '1' } };
    let n = 0;

    const create = (withEvent: boolean) => {
      n += 1;
      const fields = { name: `cost-${n}`, client_id: `cost-${n}`, client_secret_sealed: `v1.k.${randomBytes(40).toString('base64url')}`, tenant_id: null, dialect_name: 'snowflake', bi_directional_data_access: null };
      return writes.run(async (tx) => {
        const record = await repos.externalOauthApplications.insert(fields, tx);
        if (withEvent) await audit.record(tx, context, { action: 'external_oauth_application.create', targetId: record.client_id });
        return record;
      });
    };

    const round = async (withEvent: boolean) => {
      const cpu = process.cpuUsage();
      const started = process.hrtime.bigint();
      let next = 0;
      await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
        while (next < WRITES) {
          next += 1;
          await create(withEvent);
        }
      }));
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const used = process.cpuUsage(cpu);
      return { perSecond: WRITES / seconds, cpuUsPerWrite: (used.user + used.system) / WRITES };
    };

    await round(false);
    await round(true);
    const without: Array<Awaited<ReturnType<typeof round>>> = [];
    const withEvents: Array<Awaited<ReturnType<typeof round>>> = [];
    for (let i = 0; i < ROUNDS; i += 1) {
      without.push(await round(false));
      withEvents.push(await round(true));
      process.stdout.write(`  round ${i + 1}/${ROUNDS}: ${without[i].perSecond.toFixed(0)} vs ${withEvents[i].perSecond.toFixed(0)} creates/s\n`);
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
    const result = {
      db: store.engine,
      writes: WRITES,
      rounds: ROUNDS,
      concurrency: CONCURRENCY,
      withoutEvent: { creationsPerS: median(without.map((r) => r.perSecond)), cpuUsPerCreate: median(without.map((r) => r.cpuUsPerWrite)) },
      withEvent: { creationsPerS: median(withEvents.map((r) => r.perSecond)), cpuUsPerCreate: median(withEvents.map((r) => r.cpuUsPerWrite)) },
      batches: writes.stats,
    };
    console.log(
      `\n| ${result.db}: ${WRITES} creates × ${ROUNDS} rounds, ${CONCURRENCY} in flight | creates/s (median) | CPU µs/create (median) |\n|---|---:|---:|\n` +
        `| without the audit event | ${result.withoutEvent.creationsPerS.toFixed(0)} | ${result.withoutEvent.cpuUsPerCreate.toFixed(0)} |\n` +
        `| with the audit event (as served) | ${result.withEvent.creationsPerS.toFixed(0)} | ${result.withEvent.cpuUsPerCreate.toFixed(0)} |\n` +
        `| cost | ${((1 - result.withEvent.creationsPerS / result.withoutEvent.creationsPerS) * 100).toFixed(1)} % fewer | +${(result.withEvent.cpuUsPerCreate - result.withoutEvent.cpuUsPerCreate).toFixed(0)} µs |`,
    );
    return result;
  } finally {
    await store.close();
    await dropDatabase();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
