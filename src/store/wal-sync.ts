import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { Database as BetterSqlite } from 'better-sqlite3';

/**
 * The group commit's fsync, off the event loop. With `synchronous=FULL` SQLite fsyncs the WAL inside
 * COMMIT, and better-sqlite3 runs COMMIT on the event loop: every batch stopped the whole process for one
 * disk flush (4–8 ms on the bench machines), during which no request was read or answered.
 *
 * The batch's transaction instead commits with `synchronous=NORMAL` (the WAL frames are written, not yet
 * flushed; SQLite still flushes the WAL header when it restarts the log and the WAL before every
 * checkpoint, so the database cannot be corrupted), and the WAL file is then fdatasync'ed on libuv's
 * thread pool, as SQLite itself would have done at the end of COMMIT. The batch's writes are acknowledged
 * only once that flush, begun after their COMMIT, has returned: every acknowledged write is on disk, as with
 * FULL. Meanwhile the event loop serves other requests and the next batch can already commit; one flush
 * covers every commit made before it started.
 *
 * The thread is a worker of its own, not libuv's pool: logins fill that pool with scrypt hashes, and an fsync
 * queued behind them would hold every write (and, through the fence below, every response) for as long.
 *
 * Why not a worker thread owning the write connection: the writes are closures over repositories that
 * read their own results (`returning`, a lookup before an insert), so every statement would cross threads
 * and back, and writes outside the group commit (logins, migrations) would contend with it for the write
 * lock. Here nothing moves but the fsync.
 *
 * One difference from FULL remains, and `pending()` closes it: a commit is visible to reads on this
 * connection before its flush returns. The HTTP layer holds every response until the flushes of all
 * commits made before it are done (http/response-headers.ts), so no client sees a row that a power cut
 * could still take back. Every other connection use (direct writes, reads, migrations) stays FULL: the
 * relaxed level is set only while the group commit holds the connection, and restored before it lets go.
 */
export interface WalSync {
  /**
   * Before the group commit's BEGIN, with the connection held and no transaction open. False when it stays
   * FULL (after a failed flush): SQLite then flushes inside COMMIT, and there is nothing to wait for after.
   */
  relax(): boolean;
  /** After its COMMIT or ROLLBACK, before the connection is let go. */
  restore(): void;
  /** Call right after a relaxed COMMIT: resolves once a flush begun after it is done (rejects if it failed). */
  committed(): Promise<void>;
  /** Null when every commit is flushed; otherwise a promise (never rejecting) for the flush of all of them. */
  pending(): Promise<void> | null;
  /** Waits for the flushes in flight; the store closes after. */
  close(): Promise<void>;
  readonly stats: { flushes: number };
}

interface Waiter {
  upTo: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export function createWalSync(connection: BetterSqlite, databaseFile: string): WalSync {
  const walFile = `${databaseFile}-wal`;
  let fd: number | null = null;
  let commits = 0;
  let flushedThrough = 0;
  let flushing = false;
  /** After a failed flush the page cache cannot be trusted to hold the frames: commits go back to FULL for good. */
  let failed = false;
  let relaxed = false;
  const waiters: Waiter[] = [];
  const stats = { flushes: 0 };
  let idle: (() => void) | null = null;

  function settle(upTo: number, error: unknown | null) {
    for (let i = waiters.length - 1; i >= 0; i -= 1) {
      if (waiters[i].upTo > upTo) continue;
      const [waiter] = waiters.splice(i, 1);
      if (error === null) waiter.resolve();
      else waiter.reject(error);
    }
  }

  function flush() {
    if (flushing || flushedThrough >= commits) {
      if (!flushing) idle?.();
      return;
    }
    flushing = true;
    const target = commits;
    const done = (error: NodeJS.ErrnoException | null) => {
      flushing = false;
      stats.flushes += 1;
      if (error) {
        failed = true;
        // Nothing after this commit count can be called durable; the next commits are FULL again.
        flushedThrough = target;
        settle(target, error);
      } else {
        flushedThrough = target;
        settle(target, null);
      }
      flush();
    };
    try {
      fd ??= fs.openSync(walFile, 'r');
    } catch (error) {
      done(error as NodeJS.ErrnoException);
      return;
    }
    fsyncer().sync(fd, (error, unlinked) => {
      if (error || !unlinked) return done(error);
      // SQLite deletes the WAL only when the last connection closes; should another process have done
      // so meanwhile, the frames are in the file that replaced it: flush that one as well.
      fs.closeSync(fd!);
      fd = null;
      try {
        fd = fs.openSync(walFile, 'r');
      } catch (openError) {
        return done(openError as NodeJS.ErrnoException);
      }
      fsyncer().sync(fd, (again) => done(again));
    });
  }

  let thread: Fsyncer | null = null;
  const fsyncer = () => (thread ??= startFsyncer());

  return {
    stats,
    relax() {
      if (failed) return false;
      // exec, not pragma(): no statement object per call (twice a batch). Nor a statement prepared once:
      // SQLite applies this pragma while preparing it, so running it again would change nothing.
      connection.exec('pragma synchronous = NORMAL');
      relaxed = true;
      return true;
    },
    restore() {
      if (!relaxed) return;
      // A transaction left open (it cannot be, inTransaction always ends it) would refuse the pragma.
      if (connection.inTransaction) connection.exec('rollback');
      connection.exec('pragma synchronous = FULL');
      relaxed = false;
    },
    committed() {
      commits += 1;
      const upTo = commits;
      return new Promise<void>((resolve, reject) => {
        waiters.push({ upTo, resolve, reject });
        flush();
      });
    },
    pending() {
      if (flushedThrough >= commits) return null;
      const upTo = commits;
      return new Promise<void>((resolve) => {
        waiters.push({ upTo, resolve, reject: () => resolve() });
        flush();
      });
    },
    async close() {
      if (flushing || flushedThrough < commits) await new Promise<void>((resolve) => (idle = resolve));
      if (fd !== null) fs.closeSync(fd);
      fd = null;
      await thread?.stop();
      thread = null;
    },
  };
}

interface Fsyncer {
  /** fdatasync(fd) on the thread; `unlinked` when the file has no name left (fstat nlink 0). */
  sync(fd: number, done: (error: NodeJS.ErrnoException | null, unlinked?: boolean) => void): void;
  stop(): Promise<void>;
}

/** One worker thread doing nothing but fdatasync, in order; file descriptors are the process's, so it syncs ours. */
const FSYNC_WORKER = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
parentPort.on('message', ({ id, fd }) => {
  try {
    fs.fdatasyncSync(fd);
    parentPort.postMessage({ id, error: null, unlinked: fs.fstatSync(fd).nlink === 0 });
  } catch (error) {
    parentPort.postMessage({ id, error: { message: error.message, code: error.code, errno: error.errno, syscall: error.syscall } });
  }
});
`;

function startFsyncer(): Fsyncer {
  const worker = new Worker(FSYNC_WORKER, { eval: true });
  // Keeps the process alive only while a flush is awaited (a CLI command waits for its write's flush).
  worker.unref();
  const callbacks = new Map<number, (error: NodeJS.ErrnoException | null, unlinked?: boolean) => void>();
  let next = 0;
  const failAll = (error: Error) => {
    for (const callback of callbacks.values()) callback(Object.assign(error, { code: 'EIO' }));
    callbacks.clear();
  };
  worker.on('message', ({ id, error, unlinked }: { id: number; error: { message: string; code?: string } | null; unlinked?: boolean }) => {
    const callback = callbacks.get(id);
    callbacks.delete(id);
    if (callbacks.size === 0) worker.unref();
    callback?.(error ? Object.assign(new Error(error.message), error) : null, unlinked);
  });
  worker.on('error', (error) => failAll(error));
  worker.on('exit', () => failAll(new Error('the WAL flush thread exited')));
  return {
    sync(fd, done) {
      next += 1;
      if (callbacks.size === 0) worker.ref();
      callbacks.set(next, done);
      worker.postMessage({ id: next, fd });
    },
    async stop() {
      await worker.terminate();
    },
  };
}
