#!/usr/bin/env node
// Runs the TypeScript entry point through tsx, so the CLI works from a clone without a build step.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
// The memory settings of `npm start` (docs/performance.md, "Memory"): glibc's malloc, unless told otherwise,
// with few arenas and large blocks (scrypt's 16 MB) given back on free rather than kept per thread (other C
// libraries ignore these); V8's young generation at 4 MB a half instead of 16.
const env = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072', ...process.env };
const argv = ['--max-semi-space-size=4', '--import', 'tsx', path.join(root, 'src/main.ts'), ...process.argv.slice(2)];
const child = spawn(process.execPath, argv, {
  stdio: 'inherit',
  env,
});
// A supervisor signals this process, not the child: pass the signal on, so `serve` drains and exits.
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => {
  if (signal) {
    // Die of the same signal, so whoever started us sees what the child saw.
    for (const name of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.removeAllListeners(name);
    process.kill(process.pid, signal);
    return;
  }
  process.exit(code ?? 1);
});
