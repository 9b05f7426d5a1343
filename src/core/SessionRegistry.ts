import type { Entry } from './Entry.js';
import {
  RateLimitedError,
  SessionAlreadyStartedError,
  SessionLimitReachedError,
  SessionRotatedError,
} from './errors.js';
import { StartRateLimiter } from './StartRateLimiter.js';

/** @internal The registry's options, resolved. */
export interface RegistryOptions {
  maxSessions: number;
  startRate: { limit: number; intervalMs: number } | false;
  rotatedIdTtlMs: number;
}

/**
 * @internal
 * The sessions in memory by ID, the IDs recently rotated away (tombstones), and admission: the
 * session limit and the start rate.
 */
export class SessionRegistry {
  readonly #sessions = new Map<string, Entry>();
  /** IDs rotated away, with the time each tombstone lapses (insertion order = expiry order). */
  readonly #rotated = new Map<string, number>();
  readonly #rate: StartRateLimiter | undefined;
  readonly #maxSessions: number;
  readonly #rotatedIdTtlMs: number;

  constructor(options: RegistryOptions) {
    this.#maxSessions = options.maxSessions;
    this.#rotatedIdTtlMs = options.rotatedIdTtlMs;
    const rate = options.startRate;
    this.#rate = rate === false ? undefined : new StartRateLimiter(rate.limit, rate.intervalMs);
  }

  get size(): number {
    return this.#sessions.size;
  }

  get(id: string): Entry | undefined {
    return this.#sessions.get(id);
  }

  has(id: string): boolean {
    return this.#sessions.has(id);
  }

  values(): IterableIterator<Entry> {
    return this.#sessions.values();
  }

  /** The sessions in memory from the `offset`-th, at most `limit` of them, in start order. */
  page(offset = 0, limit = Number.POSITIVE_INFINITY): Entry[] {
    const out: Entry[] = [];
    let i = 0;
    for (const entry of this.#sessions.values()) {
      if (i++ < offset) continue;
      if (out.length >= limit) break;
      out.push(entry);
    }
    return out;
  }

  /** Sessions in memory, per logic name. */
  byLogic(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const entry of this.#sessions.values())
      out[entry.logicName] = (out[entry.logicName] ?? 0) + 1;
    return out;
  }

  add(entry: Entry): void {
    this.#sessions.set(entry.id, entry);
  }

  /** Removes the entry if it is the one registered under its ID. */
  remove(entry: Entry): void {
    if (this.#sessions.get(entry.id) === entry) this.#sessions.delete(entry.id);
  }

  /** Throws SESSION_ROTATED while `id` was rotated away less than `rotatedIdTtlMs` ago. */
  checkRotated(id: string): void {
    if (this.#rotated.size === 0) return;
    const until = this.#rotated.get(id);
    if (until === undefined) return;
    if (until > Date.now()) throw new SessionRotatedError(id);
    this.#rotated.delete(id);
  }

  /** Whether `id` was rotated away less than `rotatedIdTtlMs` ago (nothing changes). */
  isRotated(id: string): boolean {
    const until = this.#rotated.get(id);
    return until !== undefined && until > Date.now();
  }

  /** Moves a registered entry to a new ID and leaves a tombstone under the old one. */
  rename(entry: Entry, newId: string): void {
    const oldId = entry.id;
    this.#sessions.delete(oldId);
    entry.id = newId;
    this.#sessions.set(newId, entry);
    if (this.#rotatedIdTtlMs === 0) return;
    const now = Date.now();
    for (const [old, until] of this.#rotated) {
      if (until > now) break;
      this.#rotated.delete(old);
    }
    this.#rotated.delete(newId);
    this.#rotated.set(oldId, now + this.#rotatedIdTtlMs);
  }

  /**
   * Whether a new session may start under `id` now: not taken, not just rotated away, within
   * `maxSessions` and the start rate. Throws the refusal; `onRefused` counts it first.
   */
  admit(
    id: string,
    now: number,
    retryAfter: () => number | undefined,
    onRefused: (error: SessionLimitReachedError | RateLimitedError) => void,
  ): void {
    if (this.#sessions.has(id)) throw new SessionAlreadyStartedError(id);
    this.checkRotated(id);
    if (this.#sessions.size >= this.#maxSessions) {
      const head = retryAfter();
      const err = new SessionLimitReachedError(
        this.#maxSessions,
        head === undefined ? 1_000 : Math.max(1_000, head - now),
      );
      onRefused(err);
      throw err;
    }
    if (this.#rate) {
      const wait = this.#rate.take(now);
      if (wait > 0) {
        const err = new RateLimitedError(this.#rate.limit, this.#rate.intervalMs, wait);
        onRefused(err);
        throw err;
      }
    }
  }
}
