// The processes a bench run starts: the service (as `npm start` runs it), the bare node:http ceiling, the
// OAuth provider, and one-shot commands such as `seed`. Every one is tracked by the run that started it, so
// a failed or interrupted run stops them all.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './options.ts';

export interface Child {
  pid: number;
  url: string;
  /** The database's processes working for this one (PostgreSQL backends), whose CPU counts too. */
  databasePids?: () => Promise<number[]>;
  output(): string;
  stop(): Promise<void>;
}

/** The API credentials the service is bootstrapped with; the bench logs in with them. */
export interface Admin {
  client_id: string;
  client_secret: string;
}

export interface Processes {
  /** Starts a long-running process and waits until its output matches `ready` (group 1 is its URL). */
  start(label: string, argv: string[], env: Record<string, string>, ready: RegExp): Promise<Child>;
  /** Runs a command to its end, handing each line it writes (stdout and stderr) to `onLine`. */
  runToEnd(argv: string[], env: Record<string, string>, onLine: (line: string) => void): Promise<void>;
  /** Stops whatever is still running (a failed or interrupted run). */
  stopAll(): void;
  /** Removes the log directory; after every process has stopped. */
  dispose(): void;
}

/** A minimal environment: what a child inherits is stated, not leaked from the shell. */
function childEnv(env: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...(process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {}), ...env };
}

export function createProcesses(): Processes {
  const children = new Set<ChildProcess>();
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'eoa-bench-logs-'));
  let started = 0;

  return {
    /**
     * The process's output goes to a file (as a production log would), not through a pipe to this process:
     * autocannon shares this thread, and a pipe it does not drain would block the server.
     */
    async start(label, argv, env, ready) {
      started += 1;
      const logFile = path.join(logDir, `${label}-${started}.log`);
      const fd = fs.openSync(logFile, 'a');
      const child = spawn(process.execPath, argv, { cwd: ROOT, env: childEnv(env), stdio: ['ignore', fd, fd] });
      fs.closeSync(fd);
      children.add(child);
      const output = () => fs.readFileSync(logFile, 'utf8').slice(-20_000);
      const exited = new Promise<void>((resolve) => child.once('exit', () => (children.delete(child), resolve())));
      const since = Date.now();
      let url: string | null = null;
      while (url === null) {
        if (child.exitCode !== null) throw new Error(`${label} exited with ${child.exitCode}:\n${output()}`);
        if (Date.now() - since > 60_000) throw new Error(`${label} did not start within 60 s:\n${output()}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
        url = ready.exec(fs.readFileSync(logFile, 'utf8'))?.[1] ?? null;
      }
      return {
        pid: child.pid!,
        url,
        output,
        async stop() {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          await exited;
          fs.rmSync(logFile, { force: true });
        },
      };
    },

    async runToEnd(argv, env, onLine) {
      const child = spawn(process.execPath, argv, { cwd: ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
      children.add(child);
      let errors = '';
      // Results come on stdout and progress on stderr (src/cli/progress.ts): both are shown as they come.
      const linesOf = () => {
        let pending = '';
        return (chunk: Buffer) => {
          const lines = (pending + chunk.toString()).split('\n');
          pending = lines.pop() ?? '';
          for (const line of lines) if (line) onLine(line);
        };
      };
      child.stdout!.on('data', linesOf());
      const stderrLines = linesOf();
      child.stderr!.on('data', (chunk: Buffer) => {
        errors += chunk;
        stderrLines(chunk);
      });
      const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => (children.delete(child), resolve(c))));
      if (code !== 0) throw new Error(`${argv.join(' ')} exited with ${code}:\n${errors}`);
    },

    stopAll() {
      for (const child of children) child.kill('SIGTERM');
    },

    dispose() {
      fs.rmSync(logDir, { recursive: true, force: true });
    },
  };
}

export function benchAdmin(): Admin {
  return { client_id: 'bench-admin', client_secret: `bench-${randomBytes(12).toString('hex')}` };
}

/** The service's environment on a store: rate limits off, the bench's admin bootstrapped. */
export function serviceEnv(storeEnv: Record<string, string>, admin: Admin, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...storeEnv,
    PORT: '0',
    HOST: '127.0.0.1',
    EOA_BOOTSTRAP_CLIENT_ID: admin.client_id,
    EOA_BOOTSTRAP_CLIENT_SECRET: admin.client_secret,
    EOA_RATE_LIMIT_MAX: '0',
    EOA_LOGIN_GUARD_MAX: '100000',
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
    // glibc's malloc settings of `npm start` (package.json; docs/performance.md, "Memory").
    MALLOC_ARENA_MAX: '2',
    MALLOC_MMAP_THRESHOLD_: '131072',
    ...extra,
  };
}

export function startService(processes: Processes, storeEnv: Record<string, string>, admin: Admin, extra?: Record<string, string>): Promise<Child> {
  // As `npm start` runs it (package.json), with its V8 flag and, in serviceEnv, its malloc settings.
  return processes.start('service', ['--max-semi-space-size=4', '--import', 'tsx', 'src/main.ts', 'serve'], serviceEnv(storeEnv, admin, extra), /external-oauth-apps listening on (http:\/\/\S+)/);
}

/** A bare node:http server answering `getBytes` to GET and `postBytes` to POST (bench/ceiling-server.mjs). */
export function startCeiling(processes: Processes, getBytes: number, postBytes: number): Promise<Child> {
  return processes.start('ceiling', ['bench/ceiling-server.mjs'], { GET_BYTES: String(getBytes), POST_BYTES: String(postBytes) }, /ceiling listening on (http:\/\/\S+)/);
}

/** fastify with a request log line answering `getBytes` to any GET (bench/floor-server.mjs). */
export function startFloor(processes: Processes, getBytes: number): Promise<Child> {
  return processes.start('floor', ['bench/floor-server.mjs'], { GET_BYTES: String(getBytes) }, /floor listening on (http:\/\/\S+)/);
}
