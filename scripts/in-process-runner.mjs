// `npm run test:fast`: the in-process test files, run by a few long-lived workers
// (scripts/in-process-tests.mjs) instead of a process per file. Starting a process per file cost more
// than the tests: loading tsx and the server's modules is over a second of CPU, paid 57 times. Node 20's
// runner has no option to run files in one process, hence these two scripts.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** How long each file took last time, so the longest start first and no worker is left with a long tail. */
const TIMINGS = path.join('node_modules', '.cache', 'eoa-test-timings.json');
const SUMMARY = /^ℹ (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) (\d+(?:\.\d+)?)$/;
const FILE_RESULT = /^([✔✖﹣]) (\S+) \((\d+(?:\.\d+)?)ms\)/;
const ANSI = /\x1b\[[0-9;]*m/g;

/** Runs `files` on `workers` processes; prints node's spec output file by file and one summary. True if all passed. */
export async function runInProcess(files, workers, env) {
  const started = Date.now();
  const timings = readTimings();
  const queue = [...files].sort((a, b) => expectedMs(b, timings) - expectedMs(a, timings));
  const results = new Map();
  const totals = {};
  const held = [];
  const codes = await Promise.all(
    Array.from({ length: Math.max(1, Math.min(workers, files.length)) }, () => runWorker(queue, env, { files: new Set(files), results, totals, held })),
  );
  for (const line of held) process.stdout.write(`${line}\n`);

  const unfinished = files.filter((file) => !results.has(file));
  const failedFiles = files.filter((file) => results.get(file)?.ok === false);
  console.log(`ℹ files ${files.length} in ${codes.length} processes`);
  // The per-file describes are the runner's, not the tests': left out so suites counts as `npm test` does.
  for (const key of ['tests', 'suites', 'pass', 'fail', 'cancelled', 'skipped', 'todo']) {
    console.log(`ℹ ${key} ${(totals[key] ?? 0) - (key === 'suites' ? results.size : 0)}`);
  }
  console.log(`ℹ duration_ms ${Date.now() - started}`);
  if (unfinished.length > 0) console.log(`✖ no result for ${unfinished.join(', ')} (a worker stopped early)`);
  if (failedFiles.length > 0) console.log(`✖ failed: ${failedFiles.join(', ')}`);

  writeTimings(timings, results);
  return codes.every((code) => code === 0) && unfinished.length === 0 && failedFiles.length === 0 && !totals.fail && !totals.cancelled;
}

function runWorker(queue, env, state) {
  const child = spawn(process.execPath, ['--import', 'tsx', '--test-reporter=spec', 'scripts/in-process-tests.mjs'], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    env: process.stdout.isTTY && env.NO_COLOR === undefined ? { FORCE_COLOR: '1', ...env } : env,
  });
  child.on('message', () => {
    if (child.connected) child.send(queue.shift() ?? null);
  });
  // A file's lines are printed together once it is done, so two workers' output never interleaves.
  let block = [];
  let partial = '';
  let summarised = false;
  const onLine = (line) => {
    const plain = line.replace(ANSI, '');
    const total = SUMMARY.exec(plain);
    if (total) {
      state.totals[total[1]] = (state.totals[total[1]] ?? 0) + Number(total[2]);
      summarised = true;
      return;
    }
    // After its summary a worker lists its failures again: kept for the end, next to the run's summary.
    if (summarised) return state.held.push(line);
    block.push(line);
    const result = FILE_RESULT.exec(plain);
    if (result && state.files.has(result[2]) && !state.results.has(result[2])) {
      state.results.set(result[2], { ok: result[1] !== '✖', ms: Number(result[3]) });
      process.stdout.write(`${block.join('\n')}\n`);
      block = [];
    }
  };
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop();
    lines.forEach(onLine);
  });
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      if (partial) onLine(partial);
      if (block.length > 0) process.stdout.write(`${block.join('\n')}\n`);
      if (code !== 0) console.log(`✖ a test worker exited with ${signal ?? `code ${code}`}`);
      resolve(code ?? 1);
    });
  });
}

function expectedMs(file, timings) {
  // Never timed (a new file, a fresh checkout): its size stands in, roughly a millisecond per 10 bytes.
  return timings[file] ?? fs.statSync(file).size / 10;
}

function readTimings() {
  try {
    return JSON.parse(fs.readFileSync(TIMINGS, 'utf8'));
  } catch {
    return {};
  }
}

function writeTimings(timings, results) {
  try {
    for (const [file, { ms }] of results) timings[file] = Math.round(ms);
    fs.mkdirSync(path.dirname(TIMINGS), { recursive: true });
    fs.writeFileSync(TIMINGS, `${JSON.stringify(timings, null, 2)}\n`);
  } catch {
    // Only an ordering hint: a read-only checkout runs in size order.
  }
}
