import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { pino } from 'pino';
import { createLogDestination } from '../src/log-destination.ts';

/**
 * /dev/full fails every write with ENOSPC, as a full disk does. The destination must swallow that (an
 * unhandled 'error' would end this very test process), warn once, and count what it dropped. Resuming
 * when space returns is proven on a real filesystem by test/reliability/full-disk.test.ts.
 */
test('a log destination on a full disk warns once, drops and counts lines past its buffer, and never throws', { skip: fs.existsSync('/dev/full') ? false : 'needs /dev/full' }, async () => {
  const warnings: string[] = [];
  const fd = fs.openSync('/dev/full', 'w');
  const { stream, stats } = createLogDestination(fd, (line) => warnings.push(line));
  const logger = pino(stream);
  const filler = 'x'.repeat(500);
  // Over the 8 MiB kept in memory while writing fails.
  for (let i = 0; i < 16_000; i++) logger.info({ i, filler }, 'a line that cannot be written');
  // Let the failed asynchronous writes come back.
  for (let i = 0; i < 100 && stats.writeErrors === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));

  assert.ok(stats.writeErrors > 0, 'the writes failed');
  assert.ok(stats.droppedLines > 0 && stats.droppedLines < 16_000, `lines past the buffer were dropped and counted (${stats.droppedLines})`);
  assert.equal(warnings.length, 1, warnings.join(''));
  assert.match(warnings[0], /writing the log failed \(ENOSPC\)/);
  // What the process does on exit: flushing what is left cannot throw either.
  assert.doesNotThrow(() => stream.flushSync());
  fs.closeSync(fd);
});
