import fs from 'node:fs';
import { loadConfig, type Config } from './config.ts';
import { buildServer } from './server.ts';
import { openStore } from './store/database.ts';
import { migrateToLatest } from './store/migrate.ts';
import { keysRotateCommand } from './cli/keys-rotate.ts';
import { backupCommand } from './cli/backup.ts';
import { doctorCommand } from './cli/doctor.ts';
import { seedCommand } from './cli/seed.ts';
import { firstStartBanner, reachableUrl } from './cli/first-start-banner.ts';
import { EXIT, ListenError, describeStartupFailure } from './cli/startup-failures.ts';
import { PROGRAM, USAGE_EXIT, noArguments, runCommand, usageError, type CliCommand } from './cli/args.ts';

const USAGE = `usage: ${PROGRAM} <command> [options]

commands:
  serve         run the API server and the console
  migrate       bring the database schema up to date and exit
  doctor        check that every stored secret opens with the configured master keys
  keys rotate   re-seal every stored secret under the active (first) master key
  backup FILE   write a consistent online snapshot of the SQLite store to FILE
  seed [COUNT]  load COUNT (default 1,000,000) generated applications, for benchmarks

Run '${PROGRAM} <command> --help' for a command's options ('serve --help' lists the exit codes).
Configuration is read from the environment (docs/configuration.md). Results go to stdout; progress,
warnings and errors to stderr.`;

const SERVE_USAGE = `usage: ${PROGRAM} serve

Runs the API server and the web console until SIGTERM or SIGINT, then drains in-flight requests and
exits. Configuration is read from the environment (docs/configuration.md). On an empty store it creates
the first admin and prints its API credentials once, on stdout, with a login command to paste. Once it
serves it prints "${PROGRAM} listening on <url>" on stdout; the log (JSON lines) goes to stdout too.

Exit codes (a start-up failure is one line on stderr):
  ${EXIT.ok}  stopped by SIGTERM or SIGINT after draining
  ${EXIT.failure}  unexpected error (printed with its stack trace), or draining took too long
  ${EXIT.usage}  bad command line
  ${EXIT.config}  invalid configuration (every problem in the line)
  ${EXIT.masterKey}  master key: the key file is not a key, or the keys do not open the stored secrets
  ${EXIT.database}  database unreachable (after EOA_DB_WAIT_S seconds) or unusable
  ${EXIT.listen}  cannot listen on HOST:PORT (in use, not permitted, not an address of this machine)
  ${EXIT.dataDir}  the data directory (EOA_DATA_DIR) cannot be created or written
The other commands exit with the same codes for the same failures.`;

async function serve(config: Config) {
  const app = await buildServer(config);

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down: draining in-flight requests');
    // Hard stop if draining hangs (a client holding a request open past the request timeout).
    setTimeout(() => process.exit(EXIT.failure), config.http.requestTimeoutMs + 5000).unref();
    await app.close();
    process.exit(EXIT.ok);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  // The store is migrated (buildServer) and the first admin exists before the port opens: nothing is
  // served before then, so a client that logs in as soon as the port answers finds its admin.
  const bootstrap = await app.services.users.bootstrapAdmin(config.bootstrap);
  if (bootstrap && !bootstrap.generatedSecret) app.log.info({ userId: bootstrap.userId }, 'created the first admin from EOA_BOOTSTRAP_CLIENT_ID');
  const showCredentials = () => {
    // The generated secret is shown once, on stdout, never through the logger.
    if (bootstrap?.generatedSecret) {
      process.stdout.write(firstStartBanner(bootstrap.clientId, bootstrap.generatedSecret, reachableUrl(app.server.address(), config.host, config.port)));
    }
  };
  let address: string;
  try {
    address = await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    // A generated secret exists nowhere else: it is shown even when the port cannot be had.
    showCredentials();
    throw new ListenError(config.host, config.port, error as NodeJS.ErrnoException);
  }
  showCredentials();
  // A plain line on stdout that scripts (and the e2e tests, with PORT=0) can read the address from.
  process.stdout.write(`${PROGRAM} listening on ${address}\n`);
}

async function migrate(config: Config) {
  const store = openStore(config);
  try {
    const applied = await migrateToLatest(store);
    process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'schema is up to date\n');
  } finally {
    await store.close();
  }
}

const COMMANDS: Record<string, CliCommand<unknown>> = {
  serve: noArguments('serve', SERVE_USAGE, async (config) => {
    await serve(config);
    return -1;
  }),
  migrate: noArguments('migrate', `usage: ${PROGRAM} migrate\n\nBrings the database schema up to date and exits.`, async (config) => {
    await migrate(config);
    return 0;
  }),
  doctor: doctorCommand,
  keys: keysRotateCommand,
  backup: backupCommand,
  seed: seedCommand,
};

function version(): string {
  return (JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/** The configuration, once a command loaded it: a start-up failure is described with it. */
let loaded: Config | null = null;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  // Like git and npm: no command prints the usage on stdout and exits 1, since nothing asked was done;
  // a script that lost its command fails instead of starting a server nobody meant to start.
  if (command === undefined) {
    process.stdout.write(`${USAGE}\n`);
    return EXIT.failure;
  }
  if (command === 'help' || command === '--help' || command === '-h') {
    const about = rest[0] !== undefined && Object.hasOwn(COMMANDS, rest[0]) ? COMMANDS[rest[0]].usage : USAGE;
    process.stdout.write(`${about}\n`);
    return EXIT.ok;
  }
  if (command === '--version' || command === '-V') {
    process.stdout.write(`${version()}\n`);
    return EXIT.ok;
  }
  const known = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!known) {
    process.stderr.write(`${usageError(null, `${command.startsWith('-') ? 'unknown option' : 'unknown command'} ${command}`)}\n`);
    return USAGE_EXIT;
  }
  return runCommand(known, rest, () => (loaded = loadConfig()));
}

/** process.exit drops what a pipe has not taken yet (a long `doctor --verbose` would be cut): flush first. */
function exitWhenFlushed(code: number) {
  let pending = 2;
  const flushed = () => {
    pending -= 1;
    if (pending === 0) process.exit(code);
  };
  process.stdout.write('', flushed);
  process.stderr.write('', flushed);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) exitWhenFlushed(code);
  },
  (error) => {
    const failure = describeStartupFailure(error, loaded);
    if (failure) process.stderr.write(`${failure.message}\n`);
    // Not one we know: a bug, and its stack is what a report of it needs.
    else process.stderr.write(`${PROGRAM}: unexpected error: ${error instanceof Error ? error.stack : String(error)}\n`);
    exitWhenFlushed(failure ? failure.code : EXIT.failure);
  },
);
