/**
 * In-process single flight: callers asking for the same key while a call for it is running share that
 * call's promise instead of starting their own. This is the first of two layers (oauth/refresh.ts): it
 * makes a thousand concurrent readers in one process one reader of the database and at most one caller
 * of the provider; the lease on the token row then makes the processes that share a database take turns.
 * The map holds only calls in flight, so it is bounded by the work running at that moment.
 */
export class SingleFlight<V> {
  private readonly running = new Map<string, Promise<V>>();

  run(key: string, work: () => Promise<V>): Promise<V> {
    const current = this.running.get(key);
    if (current) return current;
    const started = (async () => {
      try {
        return await work();
      } finally {
        this.running.delete(key);
      }
    })();
    this.running.set(key, started);
    return started;
  }

  /** Calls in flight, for tests. */
  get size(): number {
    return this.running.size;
  }
}
