import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { sql } from 'kysely';
import { openStore, type Store } from '../../src/store/database.ts';
import { migrateToLatest } from '../../src/store/migrate.ts';
import { createRepositories, type Repositories } from '../../src/store/repositories.ts';
import { createWriteBatcher, type WriteBatcher } from '../../src/store/write-batcher.ts';
import { uniqueViolationColumn } from '../../src/store/unique-violation.ts';
import { testDatabaseUrl } from '../helpers/database.ts';

let serial = 0;
const app = (name = `app-${++serial}`) => ({
  name,
  client_id: `client-${name}`,
  client_secret_sealed: 'v1.test.sealed',
  tenant_id: null,
  dialect_name: null,
  bi_directional_data_access: null,
});

describe('write batcher', () => {
  let store: Store;
  let repos: Repositories;
  let batcher: WriteBatcher;
  before(async () => {
    const databaseUrl = await testDatabaseUrl();
    store = openStore({ dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'eoa-batch-')), databaseUrl, database: { poolMax: 10, statementTimeoutMs: 15_000 } });
    await migrateToLatest(store);
    repos = createRepositories(store.db);
    batcher = createWriteBatcher(store.db, store.engine);
  });
  after(() => store.close());

  const insert = (fields: ReturnType<typeof app>) => batcher.run((tx) => repos.externalOauthApplications.insert(fields, tx));
  const stored = async (name: string) => (await repos.externalOauthApplications.list({ name })).length === 1;

  test('a batch with one conflicting insert: that write fails as a unique violation on name, the others succeed', async () => {
    const taken = app();
    await insert(taken);
    const before = { ...batcher.stats };
    const batch = [app(), app(), { ...app(), name: taken.name }, app(), app()];
    const results = await Promise.allSettled(batch.map(insert));

    if (store.engine === 'sqlite') assert.equal(batcher.stats.batches - before.batches, 1, 'the five writes shared one transaction');
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
    );
    assert.equal(uniqueViolationColumn((results[2] as PromiseRejectedResult).reason), 'name');
    for (const [i, fields] of batch.entries()) {
      if (i === 2) continue;
      assert.equal((results[i] as PromiseFulfilledResult<{ name: string }>).value.name, fields.name, 'each write gets its own answer');
      assert.equal(await stored(fields.name), true);
    }
    assert.equal((await repos.externalOauthApplications.list({ client_id: batch[2].client_id })).length, 0);
  });

  test('a failed write rolls back only its own statements', async () => {
    const ok = app();
    const half = app();
    const results = await Promise.allSettled([
      insert(ok),
      batcher.run(async (tx) => {
        await repos.externalOauthApplications.insert(half, tx);
        throw new Error('second step failed');
      }),
    ]);
    assert.equal(results[0].status, 'fulfilled');
    assert.equal(results[1].status, 'rejected');
    assert.equal(await stored(ok.name), true);
    assert.equal(await stored(half.name), false, 'the first statement of the failed write was undone');
  });

  test('nothing is acknowledged before COMMIT: a write is unsettled and invisible to another connection while its batch runs', async (t) => {
    if (store.engine !== 'sqlite') return t.skip('SQLite batches; PostgreSQL commits each write alone');
    const first = app();
    let firstSettled = false;
    let seenFromOutside: unknown;
    const outside = new SqliteDatabase(store.sqliteFile!, { readonly: true });
    try {
      const p1 = insert(first).then(() => (firstSettled = true));
      const p2 = batcher.run(async (tx) => {
        // Runs after the first write, in the same batch: let every pending microtask run first.
        await new Promise<void>((resolve) => queueMicrotask(resolve));
        seenFromOutside = outside.prepare('select count(*) as n from external_oauth_applications where name = ?').get(first.name);
        return { settledDuringBatch: firstSettled, ...(await repos.externalOauthApplications.insert(app(), tx)) };
      });
      const [, second] = await Promise.all([p1, p2]);
      assert.equal(second.settledDuringBatch, false, 'the first write was not acknowledged before its batch committed');
      assert.deepEqual(seenFromOutside, { n: 0 }, 'nor was it visible outside the transaction');
      assert.deepEqual(outside.prepare('select count(*) as n from external_oauth_applications where name = ?').get(first.name), { n: 1 });
    } finally {
      outside.close();
    }
  });

  test('a failing COMMIT rejects every write of the batch and stores none of them', async (t) => {
    if (store.engine !== 'sqlite') return t.skip('needs a deferred constraint, which only the SQLite schema can defer');
    const a = app();
    const b = app();
    const results = await Promise.allSettled([
      insert(a),
      batcher.run(async (tx) => {
        // A foreign key checked only at COMMIT, pointing nowhere: the COMMIT itself fails.
        await sql`pragma defer_foreign_keys = on`.execute(tx);
        await sql`insert into oauth_application_user_states
          (user_id, oauth_application_id, access_token_sealed, access_token_expires_at, created_at, updated_at)
          values (999999, 999999, 'x', 'x', 'x', 'x')`.execute(tx);
      }),
      insert(b),
    ]);
    assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected', 'rejected']);
    assert.match(String((results[0] as PromiseRejectedResult).reason), /FOREIGN KEY/);
    assert.equal(await stored(a.name), false);
    assert.equal(await stored(b.name), false);
    // The connection is usable again afterwards.
    const c = app();
    await insert(c);
    assert.equal(await stored(c.name), true);
  });

  test('when SQLite ends the transaction itself (a full disk), every write of the batch is told the real cause', async (t) => {
    if (store.engine !== 'sqlite') return t.skip('SQLite batches; PostgreSQL commits each write alone');
    // What SQLite does on SQLITE_FULL while writing the WAL: it rolls the whole transaction back on its own.
    const diskFull = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    const a = app();
    const b = app();
    const results = await Promise.allSettled([
      insert(a),
      batcher.run(async (tx) => {
        await repos.externalOauthApplications.insert(b, tx);
        await sql`rollback`.execute(tx);
        throw diskFull;
      }),
    ]);
    for (const result of results) {
      assert.equal(result.status, 'rejected');
      assert.equal((result as PromiseRejectedResult).reason, diskFull, 'the cause, not "cannot rollback - no transaction is active"');
    }
    assert.equal(await stored(a.name), false);
    assert.equal(await stored(b.name), false);
    const c = app();
    await insert(c);
    assert.equal(await stored(c.name), true, 'the next batch works');
  });

  test('writes that keep arriving while a batch commits form the next batch', async (t) => {
    if (store.engine !== 'sqlite') return t.skip('SQLite batches; PostgreSQL commits each write alone');
    const before = { ...batcher.stats };
    const first = insert(app());
    // Queued once the first batch has started (after setImmediate), so it cannot be part of it.
    const second = new Promise((resolve) => setImmediate(() => resolve(insert(app()))));
    await Promise.all([first, second]);
    assert.equal(batcher.stats.writes - before.writes, 2);
    assert.equal(batcher.stats.batches - before.batches, 2);
  });

  test('with the WAL flushed off the event loop, a write settles only after a flush begun after its COMMIT, and every other use of the connection stays synchronous=FULL', async (t) => {
    if (store.engine !== 'sqlite') return t.skip('SQLite only');
    const walSync = store.walSync!;
    const relaxed = createWriteBatcher(store.db, store.engine, { walSync });
    const level = async () => (await sql<{ synchronous: number }>`pragma synchronous`.execute(store.db)).rows[0].synchronous;
    const flushes = walSync.stats.flushes;
    const levelsInside: number[] = [];
    const written = relaxed.run(async (tx) => {
      levelsInside.push((await sql<{ synchronous: number }>`pragma synchronous`.execute(tx)).rows[0].synchronous);
      return repos.externalOauthApplications.insert(app(), tx);
    });
    let settledAt: number | null = null;
    void written.then(() => (settledAt = walSync.stats.flushes));
    await written;
    assert.deepEqual(levelsInside, [1], 'the batch commits at NORMAL (1): its fsync is the flush below');
    assert.ok(settledAt !== null && settledAt > flushes, 'acknowledged after the WAL flush');
    assert.equal(walSync.pending(), null, 'nothing left unflushed');
    assert.equal(await level(), 2, 'back at FULL (2) for everything outside the batch');
    // A batch whose COMMIT fails also leaves the connection at FULL.
    const failing = await Promise.allSettled([relaxed.run(async () => { throw new Error('no'); })]);
    assert.equal(failing[0].status, 'rejected');
    assert.equal(await level(), 2);
  });

  test('the filtered list read outside a transaction neither sees a batch before its COMMIT nor waits for it, and sees it after', async (t) => {
    if (store.engine !== 'sqlite') return t.skip('SQLite reads the filtered list on a connection of its own');
    const written = app();
    let listedDuringBatch: unknown[] | null = null;
    await batcher.run(async (tx) => {
      await repos.externalOauthApplications.insert(written, tx);
      // Inside the batch's open transaction: the list outside it answers now, from the last commit.
      listedDuringBatch = await repos.externalOauthApplications.list({ client_id: written.client_id });
      assert.equal((await repos.externalOauthApplications.list({ client_id: written.client_id }, tx)).length, 1, 'the transaction sees its own write');
    });
    assert.deepEqual(listedDuringBatch, []);
    const [listed] = await repos.externalOauthApplications.list({ client_id: written.client_id });
    assert.equal(listed.name, written.name);
  });

  test('a one-statement write (runStatement) is stored when it settles, and its failure rejects it', async () => {
    const ok = app();
    const stored1 = await batcher.runStatement((db) => repos.externalOauthApplications.insert(ok, db));
    assert.equal(stored1.name, ok.name);
    assert.equal(await stored(ok.name), true);
    const clash = batcher.runStatement((db) => repos.externalOauthApplications.insert({ ...app(), name: ok.name }, db));
    await assert.rejects(clash, (error) => uniqueViolationColumn(error) === 'name');
  });

  test('on PostgreSQL a one-statement write is sent alone, with no BEGIN before it', async (t) => {
    if (store.engine !== 'postgres') return t.skip('SQLite runs it in a group commit');
    // Inside a transaction opened by BEGIN, transaction_timestamp() is BEGIN's time, not this statement's.
    const { rows } = await batcher.runStatement((db) => sql<{ alone: boolean }>`select transaction_timestamp() = statement_timestamp() as alone`.execute(db));
    assert.deepEqual(rows, [{ alone: true }]);
    const inRun = await batcher.run((tx) => sql<{ alone: boolean }>`select transaction_timestamp() = statement_timestamp() as alone`.execute(tx));
    assert.deepEqual(inRun.rows, [{ alone: false }], 'the check tells a transaction apart');
  });
});
