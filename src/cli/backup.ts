import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import type { Config } from '../config.ts';
import { SQLITE_FILE_NAME } from '../store/database.ts';

export class BackupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackupError';
  }
}

export interface BackupReport {
  file: string;
  bytes: number;
  applications: number;
  userStates: number;
}

/**
 * `external-oauth-apps backup FILE`: a consistent snapshot of the SQLite store taken while the service
 * keeps serving. SQLite's online backup API runs on a connection of its own; all pages are copied in one
 * step, i.e. inside one read transaction, so the copy is the store as of one commit, whatever the server
 * writes meanwhile (WAL lets it keep writing). The copy goes to a temporary file beside FILE and is
 * renamed into place once it passed an integrity check, so FILE is never a half-written backup.
 * PostgreSQL has its own tools for this (pg_dump); the command refuses there rather than pretend.
 */
export async function backupStore(config: Pick<Config, 'databaseUrl' | 'dataDir'>, target: string): Promise<BackupReport> {
  if (config.databaseUrl) {
    throw new BackupError('backup copies the SQLite store only; with DATABASE_URL (PostgreSQL) use pg_dump or your provider\'s snapshots');
  }
  const source = path.join(config.dataDir, SQLITE_FILE_NAME);
  if (!fs.existsSync(source)) throw new BackupError(`no store to back up at ${source}`);
  const file = path.resolve(target);
  if ([source, `${source}-wal`, `${source}-shm`].includes(file)) {
    throw new BackupError('the backup file must not be the live store itself');
  }
  if (!fs.existsSync(path.dirname(file))) throw new BackupError(`directory ${path.dirname(file)} does not exist`);

  const partial = `${file}.partial-${process.pid}`;
  const connection = new SqliteDatabase(source, { fileMustExist: true });
  try {
    connection.pragma('busy_timeout = 5000');
    // Returning a page count larger than the store copies everything in the next step: one snapshot.
    await connection.backup(partial, { progress: () => 0x7fffffff });
  } catch (error) {
    fs.rmSync(partial, { force: true });
    throw error;
  } finally {
    connection.close();
  }

  try {
    const counts = checkBackup(partial);
    fsyncFile(partial);
    fs.renameSync(partial, file);
    fsyncFile(path.dirname(file));
    return { file, bytes: fs.statSync(file).size, ...counts };
  } catch (error) {
    fs.rmSync(partial, { force: true });
    throw error;
  }
}

/** Opens the copy on its own, as a restore would, and refuses one that SQLite does not find intact. */
function checkBackup(file: string): { applications: number; userStates: number } {
  const copy = new SqliteDatabase(file, { fileMustExist: true });
  try {
    // The copy keeps the source's WAL mode; a single self-contained file is easier to move around.
    copy.pragma('journal_mode = DELETE');
    const integrity = copy.pragma('integrity_check', { simple: true });
    if (integrity !== 'ok') throw new BackupError(`the copy failed SQLite's integrity check: ${String(integrity)}`);
    const count = (table: string) => (copy.prepare(`select count(*) as n from ${table}`).get() as { n: number }).n;
    return { applications: count('external_oauth_applications'), userStates: count('oauth_application_user_states') };
  } finally {
    copy.close();
  }
}

function fsyncFile(file: string) {
  const fd = fs.openSync(file, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** `backup FILE`: prints what was copied; the master key is not in the copy and must be kept apart. */
export async function backupCommand(config: Config, args: string[]): Promise<number> {
  if (args.length !== 1) {
    process.stderr.write('usage: external-oauth-apps backup FILE\n');
    return 2;
  }
  try {
    const report = await backupStore(config, args[0]);
    process.stdout.write(
      `backup written to ${report.file} (${report.bytes} bytes): ${report.applications} application(s), ` +
        `${report.userStates} user state(s)\n` +
        'the master key is not in the backup: restoring needs the same EOA_MASTER_KEY (or master.key file)\n',
    );
    return 0;
  } catch (error) {
    if (!(error instanceof BackupError)) throw error;
    process.stderr.write(`backup refused: ${error.message}\n`);
    return 1;
  }
}
