import { pino } from 'pino';

/** Lines held in memory while the destination fails; past this, new lines are dropped, not queued. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

export interface LogDestinationStats {
  /** Lines thrown away because the destination could not take them (a metric reads this). */
  readonly droppedLines: number;
  /** Write errors the destination reported (ENOSPC, EIO, ...), each retried with the next line. */
  readonly writeErrors: number;
}

/**
 * The log must never take the service down. pino's asynchronous destination emits 'error' when a write
 * fails (ENOSPC on a full disk), and an 'error' nobody listens to ends the process. Here a failed write
 * keeps its lines buffered (at most MAX_BUFFERED_BYTES) and is tried again with the next line, so logging
 * resumes by itself once space returns; lines beyond the buffer are dropped and counted. One warning goes
 * to stderr when writing starts failing, and one when it works again.
 */
export function createLogDestination(fd: number, warn: (line: string) => void = writeStderr) {
  let droppedLines = 0;
  let writeErrors = 0;
  let failing = false;
  const stream = pino.destination({ dest: fd, sync: false, maxLength: MAX_BUFFERED_BYTES });

  stream.on('error', (error: NodeJS.ErrnoException) => {
    writeErrors += 1;
    if (failing) return;
    failing = true;
    warn(`external-oauth-apps: writing the log failed (${error.code ?? error.message}); lines are kept up to 1 MiB, then dropped and counted, until it works again\n`);
  });
  stream.on('drop', () => {
    droppedLines += 1;
  });
  stream.on('write', () => {
    if (!failing) return;
    failing = false;
    warn(`external-oauth-apps: writing the log works again; ${droppedLines} line(s) dropped so far\n`);
  });

  // pino flushes synchronously when the process exits; on a full disk that write throws, and an
  // exception while exiting would turn a clean shutdown into a crash report.
  const flushSync = stream.flushSync.bind(stream);
  stream.flushSync = () => {
    try {
      flushSync();
    } catch {
      writeErrors += 1;
    }
  };

  const stats: LogDestinationStats = {
    get droppedLines() {
      return droppedLines;
    },
    get writeErrors() {
      return writeErrors;
    },
  };
  return { stream, stats };
}

/**
 * stderr may sit on the same full disk: a warning that cannot be written is not worth a crash either
 * (a stderr redirected to a file reports a failed write as an 'error' event).
 */
function writeStderr(line: string) {
  if (process.stderr.listenerCount('error') === 0) process.stderr.on('error', () => {});
  try {
    process.stderr.write(line);
  } catch {
    // Nowhere left to say it.
  }
}
