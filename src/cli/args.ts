import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Config } from '../config.ts';

/** Exit code of a command line refused before anything was done (bad option, a file that exists). */
export const USAGE_EXIT = 2;

export type Parsed<T> = { kind: 'help' } | { kind: 'error'; message: string } | { kind: 'ok'; options: T };

/** A subcommand: its usage line, how it reads its arguments (no config needed), and what it does. */
export interface CliCommand<T> {
  usage: string;
  parse(args: string[]): Parsed<T>;
  run(config: Config, options: T): Promise<number>;
}

/**
 * Every subcommand goes through this, so they all behave alike: `--help` prints the usage and does
 * nothing else (not even reading the configuration), a bad command line is exit code 2 with the usage,
 * and only a command line that parsed loads the configuration and runs.
 */
export async function runCommand<T>(command: CliCommand<T>, args: string[], loadConfig: () => Config): Promise<number> {
  const parsed = command.parse(args);
  if (parsed.kind === 'help') {
    process.stdout.write(`${command.usage}\n`);
    return 0;
  }
  if (parsed.kind === 'error') {
    process.stderr.write(`${parsed.message}\n${command.usage}\n`);
    return USAGE_EXIT;
  }
  return command.run(loadConfig(), parsed.options);
}

type Options = NonNullable<ParseArgsConfig['options']>;
type Raw = { values: Record<string, string | boolean | undefined>; positionals: string[] };

/**
 * One strict reading of a subcommand's arguments: anything that starts with `-` is an option (never a
 * file name or a count), an unknown option is an error, and `--help`/`-h` anywhere asks for the usage and
 * nothing else. A positional that really starts with `-` can still be given after `--`.
 */
export function readArgs(
  args: string[],
  options: Options,
  positionals: { min: number; max: number },
): { kind: 'help' } | { kind: 'error'; message: string } | ({ kind: 'ok' } & Raw) {
  // Looked for before parsing, so `backup --help` or `seed 5 --bogus --help` never does anything.
  const end = args.indexOf('--');
  const beforeEnd = end === -1 ? args : args.slice(0, end);
  if (beforeEnd.includes('--help') || beforeEnd.includes('-h')) return { kind: 'help' };
  let parsed: Raw;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true }) as Raw;
  } catch (error) {
    return { kind: 'error', message: (error as Error).message };
  }
  const count = parsed.positionals.length;
  if (count < positionals.min) return { kind: 'error', message: 'missing argument' };
  if (count > positionals.max) return { kind: 'error', message: `unexpected argument: ${parsed.positionals[positionals.max]}` };
  return { kind: 'ok', ...parsed };
}

/** A subcommand that takes no arguments at all, only `--help`. */
export function noArguments(usage: string, run: (config: Config) => Promise<number>): CliCommand<null> {
  return {
    usage,
    parse(args) {
      const read = readArgs(args, {}, { min: 0, max: 0 });
      return read.kind === 'ok' ? { kind: 'ok', options: null } : read;
    },
    run,
  };
}

/** A whole number option within bounds, or an error message naming the option. */
export function wholeNumber(name: string, raw: string | boolean | undefined, fallback: number, min: number, max: number): number | string {
  if (raw === undefined) return fallback;
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    return `${name} needs a whole number from ${min} to ${max}`;
  }
  return Number(raw);
}
