import fs from 'node:fs';
import { pino } from 'pino';

/**
 * Lines held in memory while the destination is slow or failing; past this, new lines are dropped, not
 * queued: memory stays bounded whatever happens to stdout. Room for a few seconds of a busy instance.
 */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

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
    warn(`external-oauth-apps: writing the log failed (${error.code ?? error.message}); lines are kept up to 8 MiB, then dropped and counted, until it works again\n`);
  });
  stream.on('drop', () => {
    droppedLines += 1;
  });
  stream.on('write', () => {
    if (!failing) return;
    failing = false;
    warn(`external-oauth-apps: writing the log works again; ${droppedLines} line(s) dropped so far\n`);
  });

  // pino flushes synchronously when the process exits, with SonicBoom's flushSync, which retries a
  // failed write forever (it sleeps and loops on ENOSPC): on a full disk the process would never exit.
  // This one writes what is buffered once and drops the rest at the first failure.
  stream.flushSync = () => {
    for (const chunk of takeBuffered(stream)) {
      try {
        writeFully(fd, chunk);
      } catch {
        writeErrors += 1;
        return;
      }
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

/** SonicBoom's internals (sonic-boom 4, pinned through pino): what is queued and not being written. */
interface SonicBoomQueue {
  _bufs: string[];
  _writingBuf: string;
  _writing: boolean;
  _len: number;
}

/** Empties the queue and returns it; a chunk an asynchronous write is busy with stays its own. */
function takeBuffered(stream: object): Buffer[] {
  const queue = stream as SonicBoomQueue;
  const chunks = queue._writing ? [...queue._bufs] : [queue._writingBuf, ...queue._bufs];
  queue._bufs = [];
  if (!queue._writing) queue._writingBuf = '';
  queue._len = queue._writing ? Buffer.byteLength(queue._writingBuf) : 0;
  return chunks.filter((chunk) => chunk.length > 0).map((chunk) => Buffer.from(chunk));
}

function writeFully(fd: number, chunk: Buffer) {
  for (let offset = 0; offset < chunk.length; ) offset += fs.writeSync(fd, chunk, offset);
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
