import { ConfigError, loadConfig, type Config } from './config.ts';
import { buildServer } from './server.ts';
import { openStore } from './store/database.ts';
import { migrateToLatest } from './store/migrate.ts';
import { MissingMasterKeysError } from './store/sealed-columns.ts';
import { keysRotateCommand } from './cli/keys-rotate.ts';
import { backupCommand } from './cli/backup.ts';
import { doctorCommand } from './cli/doctor.ts';
import { seedCommand } from './cli/seed.ts';
import { USAGE_EXIT, noArguments, runCommand, type CliCommand } from './cli/args.ts';
import { DatabaseUnavailableError } from './store/wait-for-database.ts';

const USAGE = `usage: external-oauth-apps [command]

commands:
  serve         run the API server (default)
  migrate       bring the database schema up to date and exit
  doctor        check that every stored secret opens with the configured master keys
  keys rotate   re-seal every stored secret under the active (first) master key
  backup FILE   write a consistent online snapshot of the SQLite store to FILE
  seed [COUNT]  load COUNT (default 1,000,000) generated applications, for benchmarks

Every command takes --help. Configuration is read from the environment; see README.md.`;

async function serve(config: Config) {
  const app = await buildServer(config);

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down: draining in-flight requests');
    // Hard stop if draining hangs (a client holding a request open past the request timeout).
    setTimeout(() => process.exit(1), config.http.requestTimeoutMs + 5000).unref();
    await app.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  // The store is migrated (buildServer) and the first admin exists before the port opens: nothing is
  // served before then, so a client that logs in as soon as the port answers finds its admin.
  const bootstrap = await app.services.users.bootstrapAdmin(config.bootstrap);
  if (bootstrap && !bootstrap.generatedSecret) app.log.info({ userId: bootstrap.userId }, 'created the first admin from EOA_BOOTSTRAP_CLIENT_ID');
  let address: string;
  try {
    address = await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    // A generated secret exists nowhere else: it is shown even when the port cannot be had.
    if (bootstrap?.generatedSecret) printBootstrapCredentials(bootstrap.clientId, bootstrap.generatedSecret, `http://${config.host}:${config.port}`);
    throw error;
  }
  if (bootstrap?.generatedSecret) printBootstrapCredentials(bootstrap.clientId, bootstrap.generatedSecret, address);
  // A plain line on stdout that scripts (and the e2e tests, with PORT=0) can read the address from.
  process.stdout.write(`external-oauth-apps listening on ${address}\n`);
}

/** The generated secret is shown once, on stdout, never through the logger. */
function printBootstrapCredentials(clientId: string, clientSecret: string, address: string) {
  process.stdout.write(
    [
      '',
      '================================================================================',
      ' First start: created user 1 (Admin) with these API credentials.',
      ' They are shown once and cannot be recovered: store the secret now.',
      '',
      `   client_id:     ${clientId}`,
      `   client_secret: ${clientSecret}`,
      '',
      ' Log in:  curl -d "client_id=<client_id>&client_secret=<client_secret>" \\',
      `              ${address}/api/4.0/login`,
      '================================================================================',
      '',
    ].join('\n'),
  );
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
  serve: noArguments('usage: external-oauth-apps serve\n\nRuns the API server; configuration is read from the environment (see README.md).', async (config) => {
    await serve(config);
    return -1;
  }),
  migrate: noArguments('usage: external-oauth-apps migrate\n\nBrings the database schema up to date and exits.', async (config) => {
    await migrate(config);
    return 0;
  }),
  doctor: doctorCommand,
  keys: keysRotateCommand,
  backup: backupCommand,
  seed: seedCommand,
};

async function main(argv: string[]): Promise<number> {
  const [command = 'serve', ...rest] = argv;
  if (command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const known = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!known) {
    process.stderr.write(`unknown ${command.startsWith('-') ? 'option' : 'command'}: ${command}\n\n${USAGE}\n`);
    return USAGE_EXIT;
  }
  return runCommand(known, rest, () => loadConfig());
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (error) => {
    if (error instanceof ConfigError || error instanceof MissingMasterKeysError || error instanceof DatabaseUnavailableError) {
      process.stderr.write(`${error.message}\n`);
    }
    else process.stderr.write(`fatal: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
