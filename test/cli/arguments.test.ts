import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { TEST_MASTER_KEY, makeDataDir } from '../helpers/app.ts';
import { ROOT, runCli } from '../reliability/support.ts';
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
  test('--help on every subcommand prints its usage, exits 0 and does nothing, not even read the configuration', async () => {
    const dataDir = path.join(makeDataDir(), 'never-created');
    for (const command of SUBCOMMANDS) {
      for (const help of command[0] === 'backup' ? ['--help', '-h'] : ['--help']) {
        // A configuration that would fail to load: --help must not get that far.
        const run = await runCli([...command, help], { EOA_DATA_DIR: dataDir, EOA_MASTER_KEY: 'not-a-key', PORT: 'x' }).done;
        assert.equal(run.code, 0, `${command.join(' ')} ${help}: ${run.stdout}${run.stderr}`);
        assert.match(run.stdout, new RegExp(`^usage: external-oauth-apps ${command[0]}`), command.join(' '));
        assert.equal(run.stderr, '');
      }
    }
    assert.equal(fs.existsSync(dataDir), false, 'no data directory was created');
    assert.equal(fs.existsSync(path.join(ROOT, '--help')), false, 'no file named --help was written');
  });

  test('an unknown option, or an argument that starts with "-", is an error with exit code 2 on every subcommand', async () => {
    const dataDir = path.join(makeDataDir(), 'never-created');
    const cases = [
      ...SUBCOMMANDS.map((command) => [...command, '--bogus']),
      ['backup', '-o'],
      ['backup', '--', '--help', 'extra'],
      ['seed', '-5'],
      ['keys', 'spin'],
      ['--bogus'],
    ];
    for (const args of cases) {
      const run = await runCli(args, { EOA_DATA_DIR: dataDir, EOA_MASTER_KEY: TEST_MASTER_KEY }).done;
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stdout}${run.stderr}`);
      assert.match(run.stderr, /usage: external-oauth-apps/, args.join(' '));
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
