import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, startProgress, type ProgressStream } from '../../src/cli/progress.ts';
import { testConfig } from '../helpers/app.ts';
import { storeEnv } from '../reliability/support.ts';
import { cli, lines } from './cli-process.ts';

/** What a stream was given, and a clock the test moves. */
function recorder(isTTY: boolean) {
  const written: string[] = [];
  const stream: ProgressStream = { isTTY, write: (text: string) => written.push(text) };
  let now = 0;
  return { stream, written, clock: { now: () => now, advance: (ms: number) => (now += ms) } };
}

describe('progress lines', () => {
  test('without a terminal: a line per tenth of the work at most, then one summary', () => {
    const { stream, written, clock } = recorder(false);
    const progress = startProgress({ label: 'work', total: 100_000, unit: 'rows', stream, now: clock.now });
    for (let done = 100; done <= 100_000; done += 100) {
      clock.advance(10);
      progress.update(done);
    }
    progress.finish();
    assert.equal(written.length, 10, written.join(''));
    assert.ok(written.every((line) => line.endsWith('\n') && !line.includes('\r')));
    assert.equal(written[0], 'work: 10% (10,000 of 100,000 rows), 10,000 rows/s, 9.0 s left\n');
    assert.equal(written[8], 'work: 90% (90,000 of 100,000 rows), 10,000 rows/s, 1.0 s left\n');
    assert.equal(written[9], 'work: done, 100,000 rows in 10 s, 10,000 rows/s\n');
  });

  test('without a terminal, a slow job still shows a line every 30 s', () => {
    const { stream, written, clock } = recorder(false);
    const progress = startProgress({ label: 'slow', total: 1000, unit: 'rows', stream, now: clock.now });
    for (let minute = 1; minute <= 3; minute += 1) {
      clock.advance(60_000);
      progress.update(minute);
    }
    assert.equal(written.length, 3);
    assert.match(written[2], /^slow: 0% \(3 of 1,000 rows\), 0 rows\/s, 16 h 37 min left\n$/);
  });

  test('on a terminal: one line redrawn in place, at most ten times a second, ended by the summary', () => {
    const { stream, written, clock } = recorder(true);
    stream.columns = 40;
    const progress = startProgress({ label: 'work', total: 1000, unit: 'rows', stream, now: clock.now });
    for (let done = 1; done <= 1000; done += 1) {
      clock.advance(1);
      progress.update(done);
    }
    progress.finish();
    // 1000 updates over 1 s: one draw per 100 ms, and the summary.
    assert.equal(written.length, 11, JSON.stringify(written));
    for (const draw of written.slice(0, -1)) {
      assert.ok(draw.startsWith('\r') && draw.endsWith('\x1b[K') && !draw.includes('\n'), JSON.stringify(draw));
      assert.ok(draw.length - '\r\x1b[K'.length < 40, 'cut to the width of the terminal');
    }
    assert.equal(written.at(-1), '\rwork: done, 1,000 rows in 1.0 s, 1,000 rows/s\x1b[K\n');
  });

  test('durations read as people say them', () => {
    assert.deepEqual([0.42, 42, 185, 7620].map(formatDuration), ['0.4 s', '42 s', '3 min 05 s', '2 h 07 min']);
  });
});

describe('progress of the real commands', () => {
  const OLD = Buffer.alloc(32, 21).toString('base64');
  const NEW = `new:${Buffer.alloc(32, 22).toString('base64')}`;
  const APPS = 3000;
  let env: (key: string) => Record<string, string>;

  before(async () => {
    const config = await testConfig();
    env = (key) => storeEnv(config, key);
    const seeded = await cli(['seed', String(APPS), '--prefix', 'progress-'], env(OLD)).done;
    assert.equal(seeded.code, 0, seeded.stderr);
    // The result alone on stdout, for a script; progress and its summary on stderr.
    assert.equal(seeded.stdout, `seeded ${APPS} applications, names progress-1 to progress-${APPS}\n`);
    assert.match(lines(seeded.stderr).at(-1)!, /^seeding applications: done, 3,000 applications in /);
  });

  test('keys rotate piped: about ten progress lines on stderr for 3,000 values, the result on stdout', async () => {
    const run = await cli(['keys', 'rotate', '--batch-size', '100'], env(`${NEW},${OLD}`)).done;
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const progress = lines(run.stderr);
    assert.ok(progress.length >= 2 && progress.length <= 11, run.stderr);
    assert.ok(progress.slice(0, -1).every((line) => /^re-sealing stored secrets: \d+% \([\d,]+ of 3,000 values\), [\d,]+ values\/s, /.test(line)), run.stderr);
    assert.match(progress.at(-1)!, /^re-sealing stored secrets: done, 3,000 values in /);
    assert.equal(lines(run.stdout).length, 3, run.stdout);
    assert.match(run.stdout, /examined 3000, re-sealed 3000/);
  });

  test('doctor piped: progress on stderr; 10 failing values named unless --verbose, which names all', async () => {
    const summary = await cli(['doctor'], env(OLD)).done;
    assert.equal(summary.code, 1, summary.stdout + summary.stderr);
    assert.match(lines(summary.stderr).at(-1)!, /^checking stored secrets: done, 3,000 values in /);
    assert.match(summary.stdout, /^first 10 of 3000 \(--verbose lists all\) that do not open:$/m);
    assert.equal(summary.stdout.match(/^ {2}external_oauth_applications\.client_secret id=/gm)?.length, 10);
    assert.ok(lines(summary.stdout).length < 20, summary.stdout);

    const verbose = await cli(['doctor', '--verbose'], env(OLD)).done;
    assert.equal(verbose.code, 1);
    assert.match(verbose.stdout, /^the 3000 that do not open:$/m);
    assert.equal(verbose.stdout.match(/^ {2}external_oauth_applications\.client_secret id=/gm)?.length, APPS);
  });

  test('keys rotate on a terminal: one line redrawn with \\r, with percentage, rate and time left', async () => {
    // Back to OLD: there is work to show again.
    const run = await cli(['keys', 'rotate', '--batch-size', '100'], env(`${OLD},${NEW}`), { tty: true }).done;
    assert.equal(run.code, 0, run.stdout);
    const progressLines = lines(run.stdout).filter((line) => line.includes('re-sealing stored secrets'));
    assert.equal(progressLines.length, 1, `one terminal line, redrawn: ${JSON.stringify(run.stdout)}`);
    const draws = progressLines[0].split('\r').filter(Boolean);
    assert.match(draws[0], /^re-sealing stored secrets: \d+% \([\d,]+ of 3,000 values\), [\d,]+ values\/s, (.+ left|time left not known yet)\x1b\[K$/);
    assert.match(draws.at(-1)!, /^re-sealing stored secrets: done, 3,000 values in .*\x1b\[K$/);
    assert.match(run.stdout, /examined 3000, re-sealed 3000/);
  });
});
