// Runs every test file under test/ with node's test runner, TypeScript through tsx. node 20's --test
// takes no globs, so the files are listed here. Extra arguments narrow the run: `npm test -- users`.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

function find(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return find(full);
    return entry.name.endsWith('.test.ts') ? [full] : [];
  });
}

const filters = process.argv.slice(2);
const files = find('test')
  .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
// The test helpers record data dirs, logs, responses and secrets here; the audit reads them afterwards.
const auditDir = fs.mkdtempSync(path.join(os.tmpdir(), 'eoa-audit-'));
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
  { stdio: 'inherit', env: { ...process.env, EOA_TEST_AUDIT_DIR: auditDir } },
);
const auditResult = spawnSync(process.execPath, ['scripts/secret-audit.mjs', auditDir], { stdio: 'inherit' });
// The evidence holds the tests' secrets in the clear: it does not outlive the run.
fs.rmSync(auditDir, { recursive: true, force: true });
process.exit(result.status === 0 && auditResult.status === 0 ? 0 : (result.status || 1));
