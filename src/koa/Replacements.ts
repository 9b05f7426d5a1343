import type { SessionHandle, SessionSupervisor } from '../index.js';

interface Replacement {
  readonly starting: Promise<SessionHandle>;
  readonly until: number;
  id: string | undefined;
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
  offer(deadId: string, starting: Promise<SessionHandle>): void {
    const now = Date.now();
    this.#prune(now);
    const entry: Replacement = { starting, until: now + this.#ttlMs, id: undefined };
    this.#byDeadId.delete(deadId);
    this.#byDeadId.set(deadId, entry);
    starting.then(
      (handle) => {
        entry.id = handle.id;
        if (this.#byDeadId.get(deadId) === entry) this.#byId.set(handle.id, deadId);
      },
      () => {
        if (this.#byDeadId.get(deadId) === entry) this.#byDeadId.delete(deadId);
      },
    );
  }

  /** The running fresh process of `deadId`, waiting for its start; `undefined` when there is none. */
  async join(deadId: string, sessions: SessionSupervisor): Promise<SessionHandle | undefined> {
    const entry = this.#byDeadId.get(deadId);
    if (entry === undefined) return undefined;
    if (entry.until <= Date.now()) {
      this.#delete(deadId, entry);
      return undefined;
    }
    let handle: SessionHandle;
    try {
      handle = await entry.starting;
    } catch {
      return undefined; // refused or failed: the joiner tries a start of its own
    }
    return sessions.get(handle.id);
  }

  /** The ID of `deadId`'s fresh process if it has started and runs, without waiting. */
  live(deadId: string, sessions: SessionSupervisor): string | undefined {
    const entry = this.#byDeadId.get(deadId);
    if (entry?.id === undefined || entry.until <= Date.now()) return undefined;
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
    if (entry.id !== undefined && this.#byId.get(entry.id) === deadId) this.#byId.delete(entry.id);
  }

  #prune(now: number): void {
    for (const [deadId, entry] of this.#byDeadId) {
      if (entry.until > now && this.#byDeadId.size < this.#maxEntries) break;
      this.#delete(deadId, entry);
    }
  }
}
