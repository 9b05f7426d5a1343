import { DeadlineQueue } from './DeadlineQueue.js';
import type { Entry } from './Entry.js';

/** @internal The expiry options, resolved. */
export interface ExpiryOptions {
  idleTimeoutMs: number;
  maxLifetimeMs: number | undefined;
  subscribersKeepAlive: boolean;
}

/** @internal Why a session expired. */
export type ExpiryCause = 'idle' | 'lifetime';

/**
 * @internal
 * Idle timeout and absolute lifetime: each session expires at its own deadline, to the
 * millisecond, with one timer per queue (see {@link DeadlineQueue}).
 */
export class Expiry {
  readonly #idle: DeadlineQueue<Entry>;
  readonly #lifetime: DeadlineQueue<Entry>;
  readonly #idleTimeoutMs: number;
  readonly #maxLifetimeMs: number | undefined;
  readonly #subscribersKeepAlive: boolean;

  constructor(options: ExpiryOptions, expire: (entry: Entry, cause: ExpiryCause) => void) {
    this.#idleTimeoutMs = options.idleTimeoutMs;
    this.#maxLifetimeMs = options.maxLifetimeMs;
    this.#subscribersKeepAlive = options.subscribersKeepAlive;
    this.#idle = new DeadlineQueue((entry) => expire(entry, 'idle'));
    this.#lifetime = new DeadlineQueue((entry) => expire(entry, 'lifetime'));
  }

  get idleTimeoutMs(): number {
    return this.#idleTimeoutMs;
  }

  /** The earliest idle deadline (for `Retry-After` when the session limit is reached). */
  get nextIdleDeadline(): number | undefined {
    return this.#idle.headDeadline;
  }

  /** Arms a new (or restored) session's deadlines, counted from its `startedAt`/`lastActiveAt`. */
  begin(entry: Entry): void {
    if (this.#maxLifetimeMs !== undefined) {
      entry.lifetime ??= DeadlineQueue.node(entry);
      this.#lifetime.push(entry.lifetime, entry.startedAt + this.#maxLifetimeMs);
    }
    this.#armIdle(entry);
  }

  /** A call, cast or touch: the idle deadline moves (in O(1)). */
  activity(entry: Entry, now: number): void {
    entry.lastActiveAt = now;
    if (entry.queued) this.#idle.push(entry, now + this.#idleTimeoutMs);
  }

  /** The first subscriber arrived, or the last one left. */
  occupancy(entry: Entry, occupied: boolean, now: number): void {
    entry.lastActiveAt = now;
    if (!this.#subscribersKeepAlive) return;
    if (occupied) this.#idle.remove(entry);
    else this.#armIdle(entry);
  }

  /** Re-arms the idle deadline from now (after a rename, say). */
  rearm(entry: Entry): void {
    this.#armIdle(entry);
  }

  #armIdle(entry: Entry): void {
    if (this.#idleTimeoutMs === 0) return;
    if (this.#subscribersKeepAlive && entry.subscribers?.size) return;
    this.#idle.push(entry, entry.lastActiveAt + this.#idleTimeoutMs);
  }

  /** The session's deadlines, or `undefined` for none (what the store indexes as due). */
  deadlineOf(entry: Entry): number | undefined {
    const idle = entry.queued ? entry.deadline : undefined;
    const life = entry.lifetime?.queued ? entry.lifetime.deadline : undefined;
    if (idle === undefined) return life;
    return life === undefined ? idle : Math.min(idle, life);
  }

  remove(entry: Entry): void {
    this.#idle.remove(entry);
    if (entry.lifetime) this.#lifetime.remove(entry.lifetime);
  }

  clear(): void {
    this.#idle.clear();
    this.#lifetime.clear();
  }
}
