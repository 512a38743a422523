/**
 * Progress of a long command, on stderr so that stdout stays the command's result (what a script reads).
 * On a terminal: one line redrawn in place (`\r`) with the percentage, the rate and the time left. Piped
 * or in a log: a plain line at each tenth of the work (and one at least every 30 s, so a slow job shows it
 * is alive), about ten lines however big the job; the last line says how much was done and how long it took.
 */
interface ProgressOptions {
  /** What is being done, e.g. "re-sealing stored secrets". */
  label: string;
  /** Items expected; the count can grow meanwhile (a busy service), the percentage stops at 100. */
  total: number;
  /** Plural name of an item: "values", "applications". */
  unit: string;
  stream?: ProgressStream;
  now?: () => number;
}

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

interface Progress {
  /** `done` items so far (not the increment). */
  update(done: number): void;
  /** Prints the final line; nothing after it. */
  finish(done?: number): void;
}

/** A terminal is redrawn at most this often: faster only costs time. */
const REDRAW_MS = 100;
/** Without a terminal, a line at least this often while the job runs. */
const QUIET_MAX_MS = 30_000;

const numbers = new Intl.NumberFormat('en-US');

export function startProgress({ label, total, unit, stream = process.stderr, now = Date.now }: ProgressOptions): Progress {
  const started = now();
  const tty = stream.isTTY === true;
  let lastDone = 0;
  let lastDrawn = -Infinity;
  let lastStep = 0;
  let finished = false;

  const line = (done: number) => {
    const elapsedS = (now() - started) / 1000;
    const percent = total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 100;
    const rate = elapsedS > 0 ? done / elapsedS : 0;
    const left = rate > 0 && elapsedS >= 1 ? `${formatDuration(Math.max(0, total - done) / rate)} left` : 'time left not known yet';
    return `${label}: ${percent}% (${numbers.format(done)} of ${numbers.format(total)} ${unit}), ${numbers.format(Math.round(rate))} ${unit}/s, ${left}`;
  };

  return {
    update(done) {
      if (finished) return;
      lastDone = done;
      const at = now();
      if (tty) {
        if (at - lastDrawn < REDRAW_MS) return;
        lastDrawn = at;
        // \x1b[K clears what a longer previous line left; the line is cut to the width so it never wraps.
        stream.write(`\r${fit(line(done), stream.columns)}\x1b[K`);
        return;
      }
      const step = total > 0 ? Math.floor((done / total) * 10) : 0;
      // The last tenth is the final line's job.
      if ((step > lastStep && step < 10) || at - Math.max(lastDrawn, started) >= QUIET_MAX_MS) {
        lastStep = Math.max(lastStep, step);
        lastDrawn = at;
        stream.write(`${line(done)}\n`);
      }
    },
    finish(done = lastDone) {
      if (finished) return;
      finished = true;
      const elapsedS = (now() - started) / 1000;
      const rate = elapsedS > 0 ? `, ${numbers.format(Math.round(done / elapsedS))} ${unit}/s` : '';
      stream.write(`${tty ? '\r' : ''}${label}: done, ${numbers.format(done)} ${unit} in ${formatDuration(elapsedS)}${rate}${tty ? '\x1b[K' : ''}\n`);
    },
  };
}

/** "0.4 s", "42 s", "3 min 05 s", "2 h 07 min". */
export function formatDuration(seconds: number): string {
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

function fit(text: string, columns: number | undefined): string {
  return columns && columns > 1 && text.length >= columns ? text.slice(0, columns - 1) : text;
}
