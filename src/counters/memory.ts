import type { Counters, Hit } from './index.ts';

interface MemoryCountersOptions {
  /** Bound on live keys; past it the oldest window is dropped (forgetting a count, never growing without end). */
  maxKeys?: number;
  /** Injectable clock (milliseconds) for tests; Date.now otherwise. */
  now?: () => number;
}

interface Window {
  count: number;
  resetAt: number;
}

/**
 * Counters in this process's memory: the default without Redis, and the fallback while Redis is down.
 * Expired windows are swept lazily (on access, and in batches when the map is full), so no timer runs.
 */
export function memoryCounters({ maxKeys = 100_000, now = Date.now }: MemoryCountersOptions = {}): Counters {
  const windows = new Map<string, Window>();

  function live(key: string, at: number): Window | null {
    const window = windows.get(key);
    if (window && window.resetAt > at) return window;
    if (window) windows.delete(key);
    return null;
  }

  function makeRoom(at: number) {
    if (windows.size < maxKeys) return;
    for (const [key, window] of windows) if (window.resetAt <= at) windows.delete(key);
    // Map iteration is insertion order: the first key is the oldest window.
    while (windows.size >= maxKeys) windows.delete(windows.keys().next().value as string);
  }

  return {
    async hit(key: string, windowMs: number): Promise<Hit> {
      const at = now();
      let window = live(key, at);
      if (!window) {
        makeRoom(at);
        window = { count: 0, resetAt: at + windowMs };
        windows.set(key, window);
      }
      window.count += 1;
      return { count: window.count, resetMs: window.resetAt - at };
    },
    async undo(key: string) {
      const window = live(key, now());
      if (window && window.count > 0) window.count -= 1;
    },
    async close() {
      windows.clear();
    },
  };
}
