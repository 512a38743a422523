import path from 'node:path';
import type { Config } from '../config.ts';
import { ConfigError } from '../config.ts';
import { KEY_FILE_NAME } from '../crypto/master-key.ts';
import { SecretBoxError } from '../crypto/secret-box.ts';
import { MissingMasterKeysError } from '../store/sealed-columns.ts';
import { DatabaseUnavailableError } from '../store/wait-for-database.ts';

/**
 * Exit codes, one per kind of failure an operator fixes in a different place (`serve --help` lists them),
 * so a supervisor or a script can tell "fix the configuration" from "the database is not up yet".
 */
export const EXIT = {
  ok: 0,
  /** A command's check failed (doctor, keys rotate), or an unexpected error. */
  failure: 1,
  usage: 2,
  config: 3,
  masterKey: 4,
  database: 5,
  listen: 6,
  dataDir: 7,
} as const;

/** The server could not take its address; the message says why in the operator's terms. */
export class ListenError extends Error {
  constructor(host: string, port: number, cause: NodeJS.ErrnoException) {
    const where = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    const why: Record<string, string> = {
      EADDRINUSE: 'the port is in use by another process (stop it, or set PORT)',
      EACCES: 'not permitted (a port below 1024 needs privileges; set PORT)',
      EADDRNOTAVAIL: `${host} is not an address of this machine (set HOST)`,
      ENOTFOUND: `${host} does not resolve (set HOST)`,
      EAI_AGAIN: `${host} does not resolve (set HOST)`,
    };
    const code = cause.code ?? 'error';
    super(`cannot listen on ${where}: ${why[code] ?? cause.message.split('\n')[0]} [${code}]`);
    this.name = 'ListenError';
  }
}

/**
 * The one line and exit code for a failure we know how to explain (configuration, master key, database,
 * address, data directory), or null for anything else: that is a bug, and main prints its stack.
 */
export function describeStartupFailure(error: unknown, config: Config | null): { code: number; message: string } | null {
  if (error instanceof ConfigError) return { code: EXIT.config, message: `invalid configuration: ${error.problems.join('; ')}` };
  if (error instanceof MissingMasterKeysError) return { code: EXIT.masterKey, message: error.message };
  if (error instanceof SecretBoxError) {
    // EOA_MASTER_KEY is checked with the configuration (a ConfigError): this is the key file.
    const source = config && config.masterKey === null ? `the master key file ${path.join(config.dataDir, KEY_FILE_NAME)}` : 'the master key';
    return { code: EXIT.masterKey, message: `${source} is not usable: ${error.message}` };
  }
  if (error instanceof DatabaseUnavailableError) return { code: EXIT.database, message: error.message };
  if (error instanceof ListenError) return { code: EXIT.listen, message: error.message };
  if (!(error instanceof Error)) return null;

  const { code, path: file } = error as NodeJS.ErrnoException;
  if (config && typeof code === 'string' && typeof file === 'string' && onDataDirectoryPath(file, config.dataDir)) {
    return { code: EXIT.dataDir, message: `cannot use the data directory ${config.dataDir} (EOA_DATA_DIR): ${dataDirectoryProblem(code, file, error.message)}` };
  }
  if (error.name === 'SqliteError' && typeof code === 'string') {
    return { code: EXIT.database, message: `cannot use the SQLite store${config ? ` in ${config.dataDir}` : ''}: ${code}: ${firstLine(error.message)}` };
  }
  // node-postgres' server errors carry a severity and a SQLSTATE; their text never holds the connection string.
  if ('severity' in error && typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) {
    return { code: EXIT.database, message: `the database refused: ${code}: ${firstLine(error.message)}` };
  }
  return null;
}

/** Why a file or directory under EOA_DATA_DIR failed, in the words an operator fixes it by. */
function dataDirectoryProblem(code: string, file: string, message: string): string {
  const why: Record<string, string> = {
    // mkdir of a path that is a file says EEXIST, which reads as the opposite of the problem.
    EEXIST: `${file} is not a directory`,
    ENOTDIR: `a parent of ${file} is not a directory`,
    // makeDataDirectory's last word: the parent exists but takes no new directory (procfs says so this way).
    ENOENT: `${file} cannot be created in ${path.dirname(file)}`,
    EACCES: `${file}: permission denied`,
    EPERM: `${file}: operation not permitted`,
    EROFS: `${file}: read-only file system`,
    ENOSPC: `${file}: no space left on the device`,
  };
  return Object.hasOwn(why, code) ? `${why[code]} [${code}]` : firstLine(message);
}

/** The file is in the data directory, or is one of the parents made on the way to it (mkdir -p). */
function onDataDirectoryPath(file: string, dataDir: string): boolean {
  return isInside(file, dataDir) || isInside(dataDir, file);
}

function isInside(file: string, dir: string): boolean {
  const relative = path.relative(dir, path.resolve(file));
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

function firstLine(text: string): string {
  return text.split('\n')[0].slice(0, 300);
}
