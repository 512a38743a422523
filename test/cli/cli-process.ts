import { spawn } from 'node:child_process';
import { ROOT } from '../reliability/support.ts';
import { shellQuote } from '../../src/cli/first-start-banner.ts';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliProcess {
  done: Promise<CliResult>;
  /** Resolves once stdout or stderr (as chosen) matches; rejects if the process ends first. */
  waitFor(pattern: RegExp, stream?: 'stdout' | 'stderr'): Promise<RegExpExecArray>;
  kill(signal?: NodeJS.Signals): void;
}

export interface CliOptions {
  /** Run under script(1) in a pseudo-terminal (below). */
  tty?: boolean;
  /** Run as this user id (and the group of the same number); only root may ask. */
  user?: number;
  /** SIGKILL after this long: a hung command ends with code null instead of hanging the run. */
  killAfterMs?: number;
}

/**
 * `external-oauth-apps <args>` in its own process, as an operator runs it (node --import tsx src/main.ts),
 * with only the environment given. With `tty`, it runs under script(1) in a pseudo-terminal, as in an
 * interactive shell: stdout and stderr are then the same terminal and both land in `stdout`, with the
 * terminal's \r\n line ends.
 */
export function cli(args: string[], env: Record<string, string>, options: CliOptions = {}): CliProcess {
  const { tty = false, user, killAfterMs = 300_000 } = options;
  const argv = [process.execPath, '--import', 'tsx', 'src/main.ts', ...args];
  const ids = user === undefined ? {} : { uid: user, gid: user };
  const child = tty
    ? spawn('script', ['-qfec', argv.map(shellQuote).join(' '), '/dev/null'], { cwd: ROOT, env: baseEnv(env), stdio: ['pipe', 'pipe', 'pipe'], ...ids })
    : spawn(argv[0], argv.slice(1), { cwd: ROOT, env: baseEnv(env), stdio: ['ignore', 'pipe', 'pipe'], ...ids });
  const output = { stdout: '', stderr: '' };
  const watchers = new Set<() => void>();
  const collect = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
    output[stream] += chunk;
    for (const wake of watchers) wake();
  };
  child.stdout!.on('data', collect('stdout'));
  child.stderr!.on('data', collect('stderr'));
  // A hung command fails its test instead of hanging the run (generous: the test machines are shared).
  const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  let ended = false;
  const done = new Promise<CliResult>((resolve) =>
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      ended = true;
      for (const wake of watchers) wake();
      resolve({ code, signal, ...output });
    }),
  );
  return {
    done,
    waitFor: (pattern, stream = 'stderr') =>
      new Promise((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(output[stream]);
          if (match) {
            watchers.delete(check);
            resolve(match);
          } else if (ended) {
            watchers.delete(check);
            reject(new Error(`command ended before printing ${pattern} on ${stream}:\n${output.stdout}${output.stderr}`));
          }
        };
        watchers.add(check);
        check();
      }),
    kill: (signal = 'SIGKILL') => child.kill(signal),
  };
}

function baseEnv(env: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'warn', ...env };
}

/** Lines of text, without the empty one after the last line end. */
export function lines(text: string): string[] {
  return text.split(/\r?\n/).filter((line, i, all) => line !== '' || i < all.length - 1);
}

/** Runs the commands a few at a time (a machine of two shared cores), results in the order given. */
export async function cliAll(cases: string[][], env: Record<string, string>, parallel = 3): Promise<CliResult[]> {
  const results: CliResult[] = new Array(cases.length);
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const i = next++;
      results[i] = await cli(cases[i], env).done;
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, cases.length) }, worker));
  return results;
}
