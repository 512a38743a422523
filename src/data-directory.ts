import fs from 'node:fs';
import path from 'node:path';

/**
 * `mkdir -p` of the data directory, mode 0700, failing instead of spinning. Node's own
 * `mkdirSync(dir, { recursive: true })` takes every ENOENT to mean "the parent is missing", makes the parent
 * (EEXIST: it is there) and tries again, for ever: on procfs (`/proc/x`), whose directories refuse a new
 * child with ENOENT, start-up hung at 100% CPU. Here a child that still fails once its parent exists is final.
 * The errors keep their code and path, for the start-up failure's one line (src/cli/startup-failures.ts).
 */
export function makeDataDirectory(dir: string): void {
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (error) {
    const { code } = error as NodeJS.ErrnoException;
    if (code === 'EEXIST') {
      // A file or a dangling link by that name is not a directory: keep mkdir's EEXIST for the message.
      if (!isDirectory(dir)) throw error;
      return;
    }
    const parent = path.dirname(dir);
    if (code !== 'ENOENT' || parent === dir) throw error;
    makeDataDirectory(parent);
    try {
      fs.mkdirSync(dir, { mode: 0o700 });
    } catch (again) {
      // Another process made it in between: fine. Any other failure, ENOENT included, is final.
      if ((again as NodeJS.ErrnoException).code !== 'EEXIST' || !isDirectory(dir)) throw again;
    }
  }
}

function isDirectory(dir: string): boolean {
  try {
    return fs.statSync(dir).isDirectory();
  } catch {
    return false;
  }
}
