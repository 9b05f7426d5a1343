/**
 * @internal
 * Session starts per client address, in fixed windows (as the core's global `startRate`): one
 * client cannot use up `maxSessions` for everyone (issue 14.7). The table holds at most
 * `maxClients` addresses; the oldest window is dropped first, which only ever forgets a limit,
 * never refuses someone who should pass.
 */
export class ClientStartLimiter {
  readonly limit: number;
  readonly intervalMs: number;
  readonly #maxClients: number;
  /** Insertion order is window-start order: a client re-enters at the end when its window resets. */
  readonly #windows = new Map<string, { start: number; count: number }>();

  constructor(limit: number, intervalMs: number, maxClients: number) {
    if (!(limit > 0) || !(intervalMs > 0))
      throw new RangeError('clientStartRate.limit and clientStartRate.intervalMs must be > 0');
    if (!(maxClients > 0)) throw new RangeError('clientStartRate.maxClients must be > 0');
    this.limit = limit;
    this.intervalMs = intervalMs;
    this.#maxClients = maxClients;
  }

  /** Takes a slot for `client`; 0 when allowed, else the milliseconds until its window closes. */
  take(client: string, now: number): number {
    let w = this.#windows.get(client);
    if (w === undefined || now - w.start >= this.intervalMs) {
      if (w !== undefined) this.#windows.delete(client);
      w = { start: now, count: 0 };
      this.#windows.set(client, w);
      this.#prune(now);
    }
    if (w.count >= this.limit) return Math.max(1, w.start + this.intervalMs - now);
    w.count++;
    return 0;
  }

  /** Clients tracked now (for tests and monitoring). */
  get size(): number {
    return this.#windows.size;
  }

  #prune(now: number): void {
    for (const [client, w] of this.#windows) {
      if (this.#windows.size <= this.#maxClients && now - w.start < this.intervalMs) break;
      this.#windows.delete(client);
    }
  }
}
