/**
 * @internal
 * A fixed-window counter of session starts. Fixed rather than sliding: one integer compare per
 * start, and the `Retry-After` it gives (the end of the window) is exact.
 */
export class StartRateLimiter {
  readonly limit: number;
  readonly intervalMs: number;
  #windowStart = 0;
  #count = 0;

  constructor(limit: number, intervalMs: number) {
    if (!(limit > 0) || !(intervalMs > 0))
      throw new RangeError('startRate.limit and startRate.intervalMs must be > 0');
    this.limit = limit;
    this.intervalMs = intervalMs;
  }

  /** Takes a slot; returns 0 when allowed, else the milliseconds until the window closes. */
  take(now: number): number {
    if (now - this.#windowStart >= this.intervalMs) {
      this.#windowStart = now;
      this.#count = 0;
    }
    if (this.#count >= this.limit) return Math.max(1, this.#windowStart + this.intervalMs - now);
    this.#count++;
    return 0;
  }
}
