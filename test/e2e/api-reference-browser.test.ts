import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, type ServerProcess } from '../helpers/server-process.ts';
import { browserMissing } from '../helpers/browser.ts';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((file) => fs.existsSync(file));

/**
 * The API reference renders in a real browser under its Content-Security-Policy: Swagger UI's scripts run
 * (script-src 'self'), it fetches the document (connect-src 'self') and lists the operations. A CSP that
 * blocked any of that would leave the page empty. Skipped where no Chromium is installed.
 */
const skip = CHROMIUM ? false : browserMissing() ?? false;

describe('the API reference in a browser', () => {
  let server: ServerProcess;
  before(async () => {
    if (skip) return;
    server = await startServer();
  });
  after(() => server?.stop());

  test('Swagger UI renders every operation, with no CSP violation', { skip }, () => {
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'eoa-chromium-'));
    try {
      const result = spawnSync(
        CHROMIUM!,
        [
          '--headless=new',
          '--no-sandbox',
          '--disable-gpu',
          `--user-data-dir=${profile}`,
          '--enable-logging=stderr',
          '--v=0',
          // Virtual time: the page gets 10 s of (simulated) time to load and render, whatever the machine's speed.
          '--virtual-time-budget=10000',
          '--dump-dom',
          `${server.baseUrl}/api/4.0/docs`,
        ],
        { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024 },
      );
      assert.equal(result.status, 0, result.stderr);
      const paths = new Set([...result.stdout.matchAll(/data-path="([^"]+)"/g)].map((m) => m[1]));
      for (const expected of ['/api/4.0/login', '/api/4.0/external_oauth_applications', '/api/4.0/external_oauth_applications/{client_id}', '/versions']) {
        assert.ok(paths.has(expected), `${expected} rendered (rendered: ${[...paths].join(', ') || 'nothing'})`);
      }
      assert.ok(!/Refused to|Content Security Policy/i.test(result.stderr), result.stderr.split('\n').filter((l) => /Refused|Content Security/i.test(l)).join('\n'));
    } finally {
      fs.rmSync(profile, { recursive: true, force: true });
    }
  });
});
