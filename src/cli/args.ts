import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Config } from '../config.ts';

export const PROGRAM = 'external-oauth-apps';

/** Exit code of a command line refused before anything was done (bad option, a file that exists). */
export const USAGE_EXIT = 2;

type Parsed<T> = { kind: 'help' } | { kind: 'error'; message: string } | { kind: 'ok'; options: T };

/** A subcommand: its usage line, how it reads its arguments (no config needed), and what it does. */
export interface CliCommand<T> {
  /** As typed after the program's name: `seed`, `keys rotate`. */
  name: string;
  usage: string;
  parse(args: string[]): Parsed<T>;
  run(config: Config, options: T): Promise<number>;
}

/**
 * Every subcommand goes through this, so they all behave alike: `--help` prints the usage and does
 * nothing else (not even reading the configuration), a bad command line is exit code 2 and one line that
 * names what is wrong and where the usage is, and only a command line that parsed loads the configuration
 * and runs.
 */
export async function runCommand<T>(command: CliCommand<T>, args: string[], loadConfig: () => Config): Promise<number> {
  const parsed = command.parse(args);
  if (parsed.kind === 'help') {
    process.stdout.write(`${command.usage}\n`);
    return 0;
  }
  if (parsed.kind === 'error') {
    process.stderr.write(`${usageError(command.name, parsed.message)}\n`);
    return USAGE_EXIT;
  }
  return command.run(loadConfig(), parsed.options);
}

/** The one line a refused command line gets, like git's and npm's: what is wrong, then where help is. */
export function usageError(name: string | null, message: string): string {
  const command = name ? `${PROGRAM} ${name}` : PROGRAM;
  return `${command}: ${message}. See '${command} --help'.`;
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
  positionals: { min: number; max: number; name?: string },
): { kind: 'help' } | { kind: 'error'; message: string } | ({ kind: 'ok' } & Raw) {
  // Looked for before parsing, so `backup --help` or `seed 5 --bogus --help` never does anything.
  const end = args.indexOf('--');
  const beforeEnd = end === -1 ? args : args.slice(0, end);
  if (beforeEnd.includes('--help') || beforeEnd.includes('-h')) return { kind: 'help' };
  let parsed: Raw;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true }) as Raw;
  } catch (error) {
    return { kind: 'error', message: describeParseError(error as NodeJS.ErrnoException) };
  }
  const count = parsed.positionals.length;
  if (count < positionals.min) return { kind: 'error', message: `missing ${positionals.name ?? 'argument'}` };
  if (count > positionals.max) return { kind: 'error', message: `unexpected argument: ${parsed.positionals[positionals.max]}` };
  return { kind: 'ok', ...parsed };
}

/** node:util's messages are long and tell about `--`; ours name the option and nothing more. */
function describeParseError(error: NodeJS.ErrnoException): string {
  const option = /'(-[^' ]*)/.exec(error.message)?.[1];
  if (option && error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown option ${option}`;
  if (option && error.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    return /does not take an argument/.test(error.message) ? `option ${option} takes no value` : `option ${option} needs a value`;
  }
  return error.message.split('\n')[0];
}

/** A subcommand that takes no arguments at all, only `--help`. */
export function noArguments(name: string, usage: string, run: (config: Config) => Promise<number>): CliCommand<null> {
  return {
    name,
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
