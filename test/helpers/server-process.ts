import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADMIN, TEST_MASTER_KEY, makeDataDir } from './app.ts';
import { testDatabaseUrl } from './database.ts';
import { auditDataDir, auditLog } from './audit.ts';
import { cli, type CliProcess } from '../cli/cli-process.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface ServerProcess {
  child: ChildProcess;
  baseUrl: string;
  dataDir: string;
  env: Record<string, string>;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** SIGTERM and wait for exit; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL, no draining: for crash tests. */
  kill(): Promise<void>;
}

/** What `serve` runs with in the tests: any free port on 127.0.0.1, the test master key and admin. */
function serveEnv(dataDir: string): Record<string, string> {
  return {
    PORT: '0',
    HOST: '127.0.0.1',
    EOA_DATA_DIR: dataDir,
    EOA_MASTER_KEY: TEST_MASTER_KEY,
    EOA_BOOTSTRAP_CLIENT_ID: ADMIN.client_id,
    EOA_BOOTSTRAP_CLIENT_SECRET: ADMIN.client_secret,
  };
}

/**
 * `serve` started but not waited for, for a test of start-up itself (a wait, a failure): read it with the
 * process's `waitFor` and `done`, which end when it ends; it is killed after three minutes. No database is
 * added: the test says which (none means SQLite). What it prints goes to the secret hygiene audit.
 */
export function spawnServe(env: Record<string, string>): CliProcess {
  const server = cli(['serve'], { ...serveEnv(makeDataDir()), ...env }, { killAfterMs: 180_000 });
  void server.done.then((run) => auditLog(`${run.stdout}${run.stderr}`));
  return server;
}

/**
 * Boots the real server the way `npm start` does (node --import tsx src/main.ts serve) on a free port and
 * waits for its "listening on" line. Pass `dataDir`/`env` to restart on the same data.
 */
export async function startServer(options: { env?: Record<string, string>; dataDir?: string } = {}): Promise<ServerProcess> {
  const dataDir = options.dataDir ?? makeDataDir();
  const databaseUrl = options.env?.DATABASE_URL ?? (await testDatabaseUrl());
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    ...serveEnv(dataDir),
    EOA_RATE_LIMIT_MAX: '0',
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    ...options.env,
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // Everything the process printed goes to the secret hygiene audit, as does its data directory.
  auditDataDir(dataDir);
  child.once('close', () => auditLog(output));

  const baseUrl = await new Promise<string>((resolve, reject) => {
    // A bound for a server that will never start, not a claim about speed: several servers starting at
    // once on a loaded 2-core machine have taken over 30 s.
    const timer = setTimeout(() => reject(new Error(`server did not start within 120 s:\n${output}`)), 120_000);
    const onData = () => {
      const match = /external-oauth-apps listening on (http:\/\/[^\s]+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${output}`));
    });
  });

  return {
    child,
    baseUrl,
    dataDir,
    env,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
