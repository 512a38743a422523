import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { TEST_MASTER_KEY, makeDataDir } from '../helpers/app.ts';
import { ROOT, runCli } from '../reliability/support.ts';
import { cli, cliAll } from './cli-process.ts';
import { KEY_FILE_NAME } from '../../src/crypto/master-key.ts';
import { SQLITE_FILE_NAME } from '../../src/store/database.ts';

/**
 * The command line never overwrites anything and never mistakes an option for a file name: whatever the
 * arguments, an existing path (the master key, a device, a link) is left exactly as it was.
 */
const SUBCOMMANDS = [['serve'], ['migrate'], ['doctor'], ['keys', 'rotate'], ['keys'], ['backup'], ['seed']];

/** A data directory holding a migrated SQLite store and its key file, as a running service leaves it. */
async function storeDir(): Promise<string> {
  const dataDir = makeDataDir();
  fs.writeFileSync(path.join(dataDir, KEY_FILE_NAME), `${TEST_MASTER_KEY}\n`, { mode: 0o600 });
  const run = await runCli(['migrate'], { EOA_DATA_DIR: dataDir }).done;
  assert.equal(run.code, 0, run.stderr);
  return dataDir;
}

function snapshot(file: string) {
  const stat = fs.lstatSync(file);
  return { mode: stat.mode, ino: stat.ino, size: stat.size, content: stat.isFile() ? fs.readFileSync(file, 'utf8') : null };
}

describe('command line', () => {
  test('no command prints the usage on stdout and exits 1, like git and npm; it starts nothing', async () => {
    const dataDir = path.join(makeDataDir(), 'never-created');
    const run = await cli([], { EOA_DATA_DIR: dataDir }).done;
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.match(run.stdout, /^usage: external-oauth-apps <command>/);
    for (const command of ['serve', 'migrate', 'doctor', 'keys rotate', 'backup FILE', 'seed']) assert.ok(run.stdout.includes(`\n  ${command}`), command);
    assert.equal(run.stderr, '');
    assert.equal(fs.existsSync(dataDir), false, 'no store was opened');
  });

  test('--help, -h and help COMMAND print a usage on stdout and exit 0, without reading the configuration', async () => {
    const dataDir = path.join(makeDataDir(), 'never-created');
    // A configuration that would fail to load: --help must not get that far.
    const env = { EOA_DATA_DIR: dataDir, EOA_MASTER_KEY: 'not-a-key', PORT: 'x' };
    const cases = [
      ...SUBCOMMANDS.map((command) => [...command, '--help']),
      // -h is read by the same code for every subcommand (args.ts): a few stand for all.
      ['backup', '-h'],
      ['keys', 'rotate', '-h'],
      ['serve', '-h'],
      ['help', 'seed'],
      ['--help'],
      ['-h'],
      ['help'],
    ];
    const runs = await cliAll(cases, env);
    for (const [i, run] of runs.entries()) {
      const args = cases[i];
      assert.equal(run.code, 0, `${args.join(' ')}: ${run.stdout}${run.stderr}`);
      const command = args[0] === 'help' ? args[1] : args[0].startsWith('-') ? undefined : args[0];
      assert.match(run.stdout, new RegExp(`^usage: external-oauth-apps ${command ?? '<command>'}`), args.join(' '));
      assert.equal(run.stderr, '');
    }
    assert.equal(fs.existsSync(dataDir), false, 'no data directory was created');
    assert.equal(fs.existsSync(path.join(ROOT, '--help')), false, 'no file named --help was written');
    const version = await cli(['--version'], env).done;
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
  });

  test('serve --help lists the exit codes of start-up failures', async () => {
    const run = await cli(['serve', '--help'], {}).done;
    for (const [code, what] of [[0, 'SIGTERM'], [2, 'bad command line'], [3, 'configuration'], [4, 'master key'], [5, 'database'], [6, 'listen'], [7, 'data directory']] as const) {
      assert.match(run.stdout, new RegExp(`^ {2}${code} {2}.*${what}`, 'm'), `${code} ${what}`);
    }
  });

  test('an unknown option, or an argument that starts with "-", is one line naming it and --help, exit code 2, on every subcommand', async () => {
    const dataDir = path.join(makeDataDir(), 'never-created');
    const cases: Array<[string[], string]> = [
      ...SUBCOMMANDS.map((command): [string[], string] => [[...command, '--bogus'], 'unknown option --bogus']),
      [['backup', '-o'], 'unknown option -o'],
      [['backup', '--', '--help', 'extra'], 'unexpected argument: extra'],
      [['backup'], 'missing FILE'],
      [['seed', '-5'], 'unknown option -5'],
      [['seed', 'many'], 'COUNT needs a whole number'],
      [['keys', 'rotate', '--pause-ms'], 'option --pause-ms needs a value'],
      [['doctor', '--verbose=yes'], 'option --verbose takes no value'],
      [['keys', 'spin'], 'unknown command spin'],
      [['--bogus'], 'unknown option --bogus'],
      [['frob'], 'unknown command frob'],
    ];
    const runs = await cliAll(cases.map(([args]) => args), { EOA_DATA_DIR: dataDir, EOA_MASTER_KEY: TEST_MASTER_KEY });
    for (const [i, run] of runs.entries()) {
      const [args, named] = cases[i];
      const label = `${args.join(' ')}: ${run.stdout}${run.stderr}`;
      assert.equal(run.code, 2, label);
      const command = args[0].startsWith('-') || args[0] === 'frob' ? 'external-oauth-apps' : `external-oauth-apps ${args[0]}`;
      assert.equal(run.stderr.split('\n').length, 2, `one line: ${label}`);
      assert.ok(run.stderr.startsWith(`${command}: ${named}`), label);
      assert.ok(run.stderr.endsWith(`See '${command} --help'.\n`), label);
      assert.equal(run.stdout, '', label);
    }
    assert.equal(fs.existsSync(dataDir), false, 'nothing ran: no data directory was created');
  });

  test('backup refuses every existing path with exit code 2 and leaves it as it was: the master key, a device, a link, a directory', async () => {
    const dataDir = await storeDir();
    const elsewhere = makeDataDir();
    const file = path.join(elsewhere, 'old-backup.sqlite');
    fs.writeFileSync(file, 'an older backup');
    const dangling = path.join(elsewhere, 'dangling');
    fs.symlinkSync(path.join(elsewhere, 'nowhere'), dangling);
    const targets = [path.join(dataDir, KEY_FILE_NAME), '/dev/null', file, dangling, elsewhere];
    const before = targets.map(snapshot);
    for (const target of targets) {
      const run = await runCli(['backup', target], { EOA_DATA_DIR: dataDir }).done;
      assert.equal(run.code, 2, `${target}: ${run.stdout}${run.stderr}`);
      assert.match(run.stderr, /already exists .*never overwrites/, target);
    }
    assert.deepEqual(targets.map(snapshot), before);
    assert.equal(fs.existsSync(path.join(elsewhere, 'nowhere')), false, 'the link was not followed');
    assert.deepEqual(fs.readdirSync(elsewhere).sort(), ['dangling', 'old-backup.sqlite'], 'no partial file left behind');
  });

  test('a backup is a new file with mode 0600, and a file name starting with "-" is given after --', async () => {
    const dataDir = await storeDir();
    const target = path.join(makeDataDir(), 'backup.sqlite');
    const run = await runCli(['backup', target], { EOA_DATA_DIR: dataDir }).done;
    assert.equal(run.code, 0, run.stderr);
    assert.equal(fs.statSync(target).mode & 0o777, 0o600);
    assert.deepEqual(fs.readdirSync(path.dirname(target)), ['backup.sqlite'], 'nothing else is left beside it');

    const dashed = path.join(makeDataDir(), '-x.sqlite');
    const relative = await runCli(['backup', '--', dashed], { EOA_DATA_DIR: dataDir }).done;
    assert.equal(relative.code, 0, relative.stderr);
    assert.equal(fs.statSync(dashed).mode & 0o777, 0o600);
    assert.equal(fs.existsSync(path.join(dataDir, SQLITE_FILE_NAME)), true);
  });
});
