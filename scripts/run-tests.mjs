// Runs the test files under test/ with node's test runner, TypeScript through tsx. node 20's --test
// takes no globs, so the files are listed here. Extra arguments narrow the run: `npm test -- users`.
// `--fast` (npm run test:fast) leaves out the files that start child processes (below), and runs the rest
// in TEST_CONCURRENCY long-lived processes instead of a process per file (in-process-runner.mjs).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runInProcess } from './in-process-runner.mjs';

/**
 * A file starts child processes (a server process, redis-server, chromium, the command line, a crash
 * test's workers) when it lives in one of these folders, or its source uses a helper or module that
 * starts one. Those are the slow files; everything else runs in-process (app.inject, an in-process OAuth
 * provider) and makes up `--fast`. Found from the source, so a new file is classified with no list to edit.
 */
const PROCESS_FOLDERS = ['e2e', 'reliability', 'cli'].map((folder) => `test${path.sep}${folder}${path.sep}`);
const STARTS_PROCESSES = /from 'node:child_process'|helpers\/(?:server-process|redis-server|browser)\.ts'|\brunCli\(/;

export function startsProcesses(file) {
  return PROCESS_FOLDERS.some((folder) => file.startsWith(folder)) || STARTS_PROCESSES.test(fs.readFileSync(file, 'utf8'));
}

function find(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return find(full);
    return entry.name.endsWith('.test.ts') ? [full] : [];
  });
}

const args = process.argv.slice(2);
const fast = args.includes('--fast');
const filters = args.filter((arg) => arg !== '--fast');
const matching = find('test')
  .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)))
  .sort();
const files = fast ? matching.filter((file) => !startsProcesses(file)) : matching;
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}${fast ? ' among the fast ones (npm test runs them all)' : ''}`);
  process.exit(1);
}
if (fast) console.log(`# test:fast: ${files.length} files in-process; ${matching.length - files.length} that start processes left out (npm test runs them)`);
// The edit-test loop fuzzes lightly (10 cases per endpoint unless EOA_FUZZ_RUNS says); `npm test` keeps the full count.
const fuzzRuns = fast && process.env.EOA_FUZZ_RUNS === undefined ? { EOA_FUZZ_RUNS: '10' } : {};
// test:fast runs one worker more than there are cores: its files spend a third of their time waiting on
// purpose (token expiry, Retry-After, an overlap), and a third worker's CPU fills those waits. npm test keeps
// two files at a time, as CI has always run it.
const concurrency = Number(process.env.TEST_CONCURRENCY ?? (fast ? os.availableParallelism() + 1 : 2));
// The test helpers record data dirs, logs, responses and secrets here; the audit reads them afterwards.
const auditDir = fs.mkdtempSync(path.join(os.tmpdir(), 'eoa-audit-'));
const env = { ...process.env, ...fuzzRuns, EOA_TEST_AUDIT_DIR: auditDir };
const passed = fast ? await runInProcess(files, concurrency, env) : runFileByFile(files, concurrency, env);
const auditResult = spawnSync(process.execPath, ['scripts/secret-audit.mjs', auditDir], { stdio: 'inherit' });
// The evidence holds the tests' secrets in the clear: it does not outlive the run.
fs.rmSync(auditDir, { recursive: true, force: true });
process.exit(passed && auditResult.status === 0 ? 0 : 1);

/** `npm test`: node's runner, each file in a process of its own, `concurrency` at a time. */
function runFileByFile(files, concurrency, env) {
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
    { stdio: 'inherit', env },
  );
  return result.status === 0;
}
