import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ROOT } from './support.ts';

/**
 * The suite-wide secret audit (scripts/secret-audit.mjs) passes only if it can fail: here it runs on
 * planted evidence and must report each kind of leak, and stay quiet about the allowed places.
 */
test('the secret audit finds a secret in a database file, a log or a response, and allows the issuing response', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eoa-audit-selftest-'));
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'eoa-audit-selftest-data-'));
  const stored = 'Pl4nted-secret-in-the-db-file-xyz';
  const logged = 'Pl4nted-secret-in-a-log-line-abc';
  const issued = 'Issued-api-secret-shown-once-QRS';
  const sentOnly = 'Sent-app-secret-never-returned-7';
  // A database page with a secret in the clear between other bytes, as SQLite would store it.
  fs.writeFileSync(path.join(dataDir, 'external-oauth-apps.sqlite-wal'), Buffer.concat([Buffer.alloc(100, 1), Buffer.from(`app1${stored}`), Buffer.alloc(100, 2)]));
  fs.mkdirSync(path.join(dir, 'logs'));
  fs.writeFileSync(path.join(dir, 'logs', 'p-1.log'), `{"level":30,"msg":"request","detail":"${logged}"}\n`);
  const entries = [
    { type: 'data-dir', path: dataDir },
    { type: 'secret', label: 'stored', value: stored, origin: { kind: 'request' } },
    { type: 'secret', label: 'logged', value: logged, origin: { kind: 'request' } },
    { type: 'secret', label: 'sent', value: sentOnly, origin: { kind: 'request' } },
    { type: 'secret', label: 'issued', value: issued, origin: { kind: 'response', responseId: 'p:1' } },
  ];
  fs.writeFileSync(path.join(dir, 'p.jsonl'), entries.map((e) => JSON.stringify(e)).join('\n'));
  const responses = [
    { id: 'p:1', method: 'POST', url: '/api/4.0/users/2/credentials_api3', status: 200, body: `{"client_secret":"${issued}"}` },
    { id: 'p:2', method: 'GET', url: '/api/4.0/users/2', status: 200, body: `{"echo":"${issued}"}` },
    { id: 'p:3', method: 'GET', url: '/api/4.0/external_oauth_applications', status: 200, body: '[]' },
  ];
  fs.writeFileSync(path.join(dir, 'p.responses.jsonl'), responses.map((r) => JSON.stringify(r)).join('\n'));

  const run = spawnSync(process.execPath, ['scripts/secret-audit.mjs', dir], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(run.status, 1, run.stdout + run.stderr);
  const findings = run.stderr.split('\n').filter((line) => line.startsWith('secret audit finding:'));
  assert.equal(findings.length, 3, run.stderr);
  assert.ok(findings.some((f) => f.includes('external-oauth-apps.sqlite-wal') && f.includes('stored')));
  assert.ok(findings.some((f) => f.includes('log p-1.log') && f.includes('logged')));
  assert.ok(findings.some((f) => f.includes('GET /api/4.0/users/2 200') && f.includes('issued')));
  assert.ok(!run.stderr.includes(stored) && !run.stdout.includes(stored), 'the audit names a secret by label, never prints it');
  assert.match(run.stdout, /secret audit: 4 secrets and tokens \(1 issued in a response\), 3 responses, 1 logs, 1 data dirs .*: 3 finding\(s\)/);
  fs.rmSync(dir, { recursive: true });
  fs.rmSync(dataDir, { recursive: true });
});
