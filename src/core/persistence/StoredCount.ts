import { SessionLimitReachedError, StoreUnavailableError } from '../errors.js';
import type { SessionStore } from '../store/SessionStore.js';

/**
 * @internal
 * `maxStoredSessions`: the store's count of records, taken at most once per `wakeIntervalMs`,
 * plus the starts admitted since, so that starts beyond the limit are refused.
 */
export class StoredCount {
  readonly #store: SessionStore;
  readonly #max: number | undefined;
  readonly #wakeIntervalMs: number;
  /** The store's last count, when it was taken, starts since. */
  #stored: { count: number; at: number; since: number } | undefined;
  #counting: Promise<void> | undefined;

  constructor(store: SessionStore, max: number | undefined, wakeIntervalMs: number) {
    this.#store = store;
    this.#max = max;
    this.#wakeIntervalMs = wakeIntervalMs;
  }

  /**
   * Brings the store's count up to date when it is older than `wakeIntervalMs` (asked once,
   * however many starts wait). Rejects with STORE_UNAVAILABLE.
   */
  async refresh(): Promise<void> {
    if (this.#max === undefined) return;
    const known = this.#stored;
    if (known && Date.now() - known.at < this.#wakeIntervalMs) return;
    this.#counting ??= (async () => {
      const since = this.#stored?.since ?? 0;
      try {
        const count = await this.#store.count!();
        // Starts made while the count was taken may or may not be in it: kept (err on the safe side).
        this.#stored = { count, at: Date.now(), since: (this.#stored?.since ?? 0) - since };
      } catch (cause) {
        throw new StoreUnavailableError(cause);
      }
    })().finally(() => {
      this.#counting = undefined;
    });
    await this.#counting;
  }

  /**
   * Admits one more session into the store, or throws SESSION_LIMIT_REACHED. Synchronous, so
   * starts in the same turn cannot overshoot.
   */
  admit(): void {
    const max = this.#max;
    if (max === undefined) return;
    const stored = (this.#stored ??= { count: 0, at: 0, since: 0 });
    if (stored.count + stored.since >= max)
      throw new SessionLimitReachedError(max, Math.max(1_000, this.#wakeIntervalMs));
    stored.since++;
  }
}
