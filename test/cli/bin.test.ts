import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { ADMIN, TEST_MASTER_KEY, makeDataDir } from '../helpers/app.ts';
import { ROOT } from '../reliability/support.ts';

/**
 * bin/external-oauth-apps.js, what `npx external-oauth-apps` runs: a supervisor's SIGTERM reaches the
 * wrapper only, and must reach the server behind it, which drains and exits 0; the exit code comes back.
 * The server gets glibc's malloc settings (docs/performance.md, "Memory") unless the operator set them.
 */
/**
 * `serve` started by `command` as an operator would, with a malloc setting of the operator's own
 * (MALLOC_ARENA_MAX=4) and the other left unset; resolves once it listens, with its URL.
 */
function startServing(command: string, args: string[]) {
  const child = spawn(command, args, {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      PORT: '0',
      EOA_DATA_DIR: makeDataDir(),
      EOA_MASTER_KEY: TEST_MASTER_KEY,
      EOA_BOOTSTRAP_CLIENT_ID: ADMIN.client_id,
      EOA_BOOTSTRAP_CLIENT_SECRET: ADMIN.client_secret,
      MALLOC_ARENA_MAX: '4',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const listening = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) resolve(match[1]);
    });
    child.stderr.on('data', (chunk) => (output += chunk));
    void exited.then((code) => reject(new Error(`exited ${code} before listening:\n${output}`)));
  });
  return { child, exited, listening, output: () => output };
}

test('the bin wrapper passes SIGTERM on to serve and returns its exit code', async () => {
  const { child, exited, listening, output } = startServing(process.execPath, ['bin/external-oauth-apps.js', 'serve']);
  const baseUrl = await listening;
  assert.equal((await fetch(`${baseUrl}/readyz`)).status, 200);
  // The server's environment, read before it stops and checked after (a failed check leaves nothing running).
  const serverEnv = () => {
    const [serverPid] = fs.readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(' ');
    return fs.readFileSync(`/proc/${serverPid}/environ`, 'utf8').split('\0');
  };
  const env = process.platform === 'linux' ? serverEnv() : null;
  child.kill('SIGTERM');
  assert.equal(await exited, 0, output());
  if (env) {
    assert.ok(env.includes('MALLOC_ARENA_MAX=4'), "the operator's value is kept");
    assert.ok(env.includes('MALLOC_MMAP_THRESHOLD_=131072'), 'the unset one gets the default');
  }
  // The server went with it: nothing answers at its address any more.
  await assert.rejects(fetch(`${baseUrl}/readyz`));
});

test('the bin wrapper with no command prints the usage and exits 1', async () => {
  const child = spawn(process.execPath, ['bin/external-oauth-apps.js'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.equal(code, 1);
  assert.match(stdout, /^usage: external-oauth-apps <command>/);
});

/** The processes under `pid`, each before its own children, read from /proc (Linux only). */
function descendants(pid: number): number[] {
  const children = fs
    .readdirSync(`/proc/${pid}/task`)
    .flatMap((task) => fs.readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number));
  return children.flatMap((child) => [child, ...descendants(child)]);
}

test('npm start keeps a malloc setting the operator gave and defaults the other', { skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
  const { child, exited, listening } = startServing('npm', ['start', '--silent']);
  try {
    await listening;
    // The node process itself, not the shell npm runs the script in (its command line names main.ts too).
    const server = descendants(child.pid!).find((pid) => {
      const [program, ...args] = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return program.endsWith('node') && args.includes('src/main.ts');
    });
    assert.ok(server, 'the server process is found under npm');
    const env = fs.readFileSync(`/proc/${server}/environ`, 'utf8').split('\0');
    assert.ok(env.includes('MALLOC_ARENA_MAX=4'), "the operator's value is kept");
    assert.ok(env.includes('MALLOC_MMAP_THRESHOLD_=131072'), 'the unset one gets the default');
  } finally {
    for (const pid of descendants(child.pid!).reverse()) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    child.kill('SIGTERM');
    await exited;
  }
});
