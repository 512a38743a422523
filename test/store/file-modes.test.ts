import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeDataDir } from '../helpers/app.ts';
import { openStore, SQLITE_FILE_NAME } from '../../src/store/database.ts';
import { migrateToLatest } from '../../src/store/migrate.ts';

const mode = (file: string) => fs.statSync(file).mode & 0o777;

/**
 * Issue 10 #11: the SQLite files hold hashes and sealed secrets; like the data directory and the master
 * key they are the owner's alone (0600): the database, and the -wal and -shm files SQLite creates beside
 * it, now or later. SQLite only (PostgreSQL keeps its own files).
 */
test('the SQLite database and its -wal and -shm files are created 0600, whatever the umask', async () => {
  const dataDir = makeDataDir();
  const previous = process.umask(0o022);
  try {
    const store = openStore({ dataDir, databaseUrl: null, database: { poolMax: 1, statementTimeoutMs: 0 } } as never);
    await migrateToLatest(store);
    const file = path.join(dataDir, SQLITE_FILE_NAME);
    for (const name of [file, `${file}-wal`, `${file}-shm`]) {
      assert.ok(fs.existsSync(name), name);
      assert.equal(mode(name).toString(8), '600', name);
    }
    await store.close();
  } finally {
    process.umask(previous);
  }
});

test('files an older version left 0644 are narrowed to 0600 when the store opens', async () => {
  const dataDir = makeDataDir();
  const file = path.join(dataDir, SQLITE_FILE_NAME);
  const first = openStore({ dataDir, databaseUrl: null } as never);
  await migrateToLatest(first);
  fs.chmodSync(file, 0o644);
  // Held open by another connection, so the -wal and -shm files stay, as they would beside a running process.
  for (const name of [`${file}-wal`, `${file}-shm`]) if (fs.existsSync(name)) fs.chmodSync(name, 0o644);
  const second = openStore({ dataDir, databaseUrl: null } as never);
  await migrateToLatest(second);
  for (const name of [file, `${file}-wal`, `${file}-shm`]) {
    if (fs.existsSync(name)) assert.equal(mode(name).toString(8), '600', name);
  }
  await second.close();
  await first.close();
});
