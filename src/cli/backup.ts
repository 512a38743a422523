import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import type { Config } from '../config.ts';
import { SQLITE_FILE_NAME } from '../store/database.ts';
import { USAGE_EXIT, readArgs, type CliCommand } from './args.ts';

class BackupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackupError';
  }
}

/** FILE names something that exists: refused like a bad command line, before anything is written. */
class BackupTargetExists extends BackupError {}

interface BackupReport {
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
 * linked into place once it passed an integrity check, so FILE is never a half-written backup.
 *
 * FILE is never replaced, whatever it is (the master key, a device, an older backup): the temporary file
 * is created with O_EXCL and mode 0600 (the copy holds sealed secrets and must be as private as the
 * store), and link(2), unlike rename(2), fails when FILE exists, so a FILE created after our first check
 * is not replaced either.
 * PostgreSQL has its own tools for this (pg_dump); the command refuses there rather than pretend.
 */
export async function backupStore(config: Pick<Config, 'databaseUrl' | 'dataDir'>, target: string): Promise<BackupReport> {
  if (config.databaseUrl) {
    throw new BackupError('backup copies the SQLite store only; with DATABASE_URL (PostgreSQL) use pg_dump or your provider\'s snapshots');
  }
  const source = path.join(config.dataDir, SQLITE_FILE_NAME);
  const file = path.resolve(target);
  if ([source, `${source}-wal`, `${source}-shm`].includes(file)) {
    throw new BackupError('the backup file must not be the live store itself');
  }
  refuseExisting(file);
  if (!fs.existsSync(source)) throw new BackupError(`no store to back up at ${source}`);
  if (!fs.existsSync(path.dirname(file))) throw new BackupError(`directory ${path.dirname(file)} does not exist`);

  const partial = `${file}.partial-${randomBytes(6).toString('hex')}`;
  // SQLite writes into the file we created (an empty file is an empty database), so it keeps our mode.
  fs.closeSync(fs.openSync(partial, 'wx', 0o600));
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
    try {
      fs.linkSync(partial, file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') refuseExisting(file);
      throw error;
    }
    fsyncFile(path.dirname(file));
    return { file, bytes: fs.statSync(file).size, ...counts };
  } finally {
    fs.rmSync(partial, { force: true });
  }
}

/** lstat, not exists: a dangling symbolic link is a name that exists too, and is not followed. */
function refuseExisting(file: string) {
  let kind: string;
  try {
    const stat = fs.lstatSync(file);
    kind = stat.isFile() ? 'a file' : stat.isDirectory() ? 'a directory' : stat.isSymbolicLink() ? 'a symbolic link' : 'a device or special file';
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  throw new BackupTargetExists(`${file} already exists (${kind}); backup never overwrites: name a new file`);
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

const BACKUP_USAGE = `usage: external-oauth-apps backup FILE

Writes a consistent snapshot of the SQLite store to FILE (a new file, created with mode 0600; an
existing path is never overwritten). A FILE that starts with "-" is given after "--".
The copy is one step (one read transaction), so there is no progress to show.

Exit code: 0 written, 1 failed (nothing left behind), 2 bad command line or FILE exists.`;

/** `backup FILE`: prints what was copied; the master key is not in the copy and must be kept apart. */
export const backupCommand: CliCommand<{ file: string }> = {
  name: 'backup',
  usage: BACKUP_USAGE,
  parse(args) {
    const read = readArgs(args, {}, { min: 1, max: 1, name: 'FILE' });
    return read.kind === 'ok' ? { kind: 'ok', options: { file: read.positionals[0] } } : read;
  },
  async run(config, { file }) {
    try {
      const report = await backupStore(config, file);
      process.stdout.write(
        `backup written to ${report.file} (${report.bytes} bytes): ${report.applications} application(s), ` +
          `${report.userStates} user state(s)\n` +
          'the master key is not in the backup: restoring needs the same EOA_MASTER_KEY (or master.key file)\n',
      );
      return 0;
    } catch (error) {
      if (!(error instanceof BackupError)) throw error;
      process.stderr.write(`backup refused: ${error.message}\n`);
      return error instanceof BackupTargetExists ? USAGE_EXIT : 1;
    }
  },
};
