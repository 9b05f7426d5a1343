import type { SessionHandle, SessionSupervisor } from '../index.js';

/** @internal One dead ID's fresh process: its ID (known before it has started) and its start. */
export interface Replacement {
  readonly id: string;
  readonly starting: Promise<SessionHandle>;
  readonly until: number;
}

/**
 * @internal
 * The fresh process started for an ID that ended (expired, terminated, crashed), by that ID, for
 * `ttlMs`. A browser sends its requests concurrently, all with the same cookie: without this each
 * request carrying the dead ID would start its own fresh process and set its own cookie, and
 * whatever the requests whose cookie lost did (an item added) would be lost with it. With it they
 * share one. Only holders of the dead ID's signed cookie reach the entry, and the process it leads
 * to is a fresh one: nothing of the ended session is reachable through it.
 */
export class Replacements {
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  /** By dead ID; insertion order is expiry order (one TTL for all). */
  readonly #byDeadId = new Map<string, Replacement>();
  /** Dead ID by replacement ID, to forget an entry whose process a failed request undid. */
  readonly #byId = new Map<string, string>();

  constructor(ttlMs = 30_000, maxEntries = 10_000) {
    this.#ttlMs = ttlMs;
    this.#maxEntries = maxEntries;
  }

  /** Records the start of `deadId`'s fresh process (the first request to need one). */
  offer(deadId: string, id: string, starting: Promise<SessionHandle>): void {
    const now = Date.now();
    this.#prune(now);
    const entry: Replacement = { id, starting, until: now + this.#ttlMs };
    const previous = this.#byDeadId.get(deadId);
    if (previous) this.#delete(deadId, previous);
    this.#byDeadId.set(deadId, entry);
    this.#byId.set(id, deadId);
    starting.then(
      () => {},
      () => {
        if (this.#byDeadId.get(deadId) === entry) this.#byDeadId.delete(deadId);
      },
    );
  }

  /**
   * The start of `deadId`'s fresh process, if one is under way or done, else `undefined`.
   * Synchronous on purpose: a request that finds nothing offers its own start before it yields,
   * so concurrent requests cannot all find nothing.
   */
  find(deadId: string): Replacement | undefined {
    const entry = this.#byDeadId.get(deadId);
    if (entry === undefined) return undefined;
    if (entry.until <= Date.now()) {
      this.#delete(deadId, entry);
      return undefined;
    }
    return entry;
  }

  /** The ID of `deadId`'s fresh process if it has started and runs, without waiting. */
  live(deadId: string, sessions: SessionSupervisor): string | undefined {
    const entry = this.#byDeadId.get(deadId);
    if (entry === undefined || entry.until <= Date.now()) return undefined;
    return sessions.started(entry.id) ? entry.id : undefined;
  }

  /** Forgets the entry leading to process `id` (its request failed and ended it). */
  forget(id: string): void {
    const deadId = this.#byId.get(id);
    if (deadId === undefined) return;
    const entry = this.#byDeadId.get(deadId);
    if (entry) this.#delete(deadId, entry);
    this.#byId.delete(id);
  }

  /** Entries held now. */
  get size(): number {
    return this.#byDeadId.size;
  }

  #delete(deadId: string, entry: Replacement): void {
    this.#byDeadId.delete(deadId);
    if (this.#byId.get(entry.id) === deadId) this.#byId.delete(entry.id);
  }

  #prune(now: number): void {
    for (const [deadId, entry] of this.#byDeadId) {
      if (entry.until > now && this.#byDeadId.size < this.#maxEntries) break;
      this.#delete(deadId, entry);
    }
  }
}
