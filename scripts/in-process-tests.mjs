// One worker of `npm run test:fast` (scripts/run-tests.mjs starts TEST_CONCURRENCY of them): runs test files in this
// one process, asking the runner for the next file whenever the last one is done, so tsx and the server's
// modules load once per worker instead of once per file. Run as
// `node --import tsx --test-reporter=spec scripts/in-process-tests.mjs`, with an IPC channel to the runner.
import { describe, test } from 'node:test';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** The runner answers each request with a file, or null when there is none left. */
function nextFile() {
  return new Promise((resolve) => {
    process.once('message', resolve);
    process.send('next');
  });
}

for (let file = await nextFile(); file; file = await nextFile()) {
  // A describe per file: the file's top-level before/after hooks attach to it, not to the shared root,
  // so they run around that file's tests only, as they would in a process of its own.
  await describe(file, async () => {
    try {
      await import(pathToFileURL(path.resolve(file)).href);
    } catch (error) {
      // A file that does not load is one failed test, as `node --test` counts it, not a silent zero.
      test('loads', () => {
        throw error;
      });
    }
  });
}
// Without the channel nothing keeps this process up: node's runner reports when the event loop is empty.
process.disconnect();
