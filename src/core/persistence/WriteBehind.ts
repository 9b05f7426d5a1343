import type { Entry } from '../Entry.js';
import { StoreUnavailableError } from '../errors.js';
import type { SessionStore, StoreWrite } from '../store/SessionStore.js';

/** @internal What the writer asks of the supervisor. */
export interface WriteHooks {
  /** The record of a session as it is now. */
  encode(entry: Entry): { data: string; dueAt: number | null };
  /** The store refused a write because someone else wrote the session (another node). */
  conflict(entry: Entry): void;
  /** The store failed; it is retried. */
  failed(error: unknown): void;
  /** `encode` refused the session's record (RECORD_TOO_LARGE): it was not written. */
  tooLarge(entry: Entry, error: unknown): void;
}

interface Waiter {
  version: number;
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * @internal
 * Saves changed sessions behind the scenes: every change marks its session dirty, and one
 * flusher writes all dirty sessions in one `store.save` (a group commit: one transaction, one
 * fsync for many sessions), so at most one write per session is in flight and a session that
 * changes ten times while a write is out is written once more, not ten times. `durable` calls
 * wait on {@link whenSaved}. Deletes go through the same queue, after the writes before them.
 */
export class WriteBehind {
  readonly #store: SessionStore;
  readonly #hooks: WriteHooks;
  readonly #dirty = new Set<Entry>();
  readonly #deletes = new Map<string, Array<() => void>>();
  readonly #waiters = new Map<Entry, Waiter[]>();
  #flushing: Promise<void> | undefined;
  #scheduled = false;
  #gathering: NodeJS.Timeout | undefined;
  /** A session never written yet is dirty: no gathering window for this batch. */
  #fresh = false;
  #retryMs = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  /** Whether the last write failed, and with what. */
  #failed = false;
  #lastError: unknown;
  /** The sessions of the write in flight. */
  #inFlight: Entry[] = [];
  #closed = false;

  readonly #gatherMs: number;

  /**
   * @param gatherMs how long changes gather before a write: 0 (one turn of the event loop) when
   *   callers wait for their change to be saved; a few milliseconds otherwise, so a session that
   *   changes often is written once per window rather than once per change
   */
  constructor(store: SessionStore, hooks: WriteHooks, gatherMs = 0) {
    this.#store = store;
    this.#hooks = hooks;
    this.#gatherMs = gatherMs;
  }

  /** Sessions waiting to be written. */
  get backlog(): number {
    return this.#dirty.size;
  }

  /** The session changed: write it soon (a new session at once: its existence is not deferred). */
  mark(entry: Entry): void {
    this.#dirty.add(entry);
    if (entry.storedVersion === 0) this.#fresh = true;
    this.#schedule();
  }

  /** Resolves once the session's current version is saved (at once when it already is). */
  whenSaved(entry: Entry): Promise<void> | undefined {
    if (entry.storedVersion >= entry.version && !this.#dirty.has(entry)) return undefined;
    return new Promise<void>((resolve, reject) => {
      let list = this.#waiters.get(entry);
      if (!list) this.#waiters.set(entry, (list = []));
      list.push({ version: entry.version, resolve, reject });
      this.#dirty.add(entry);
      this.#schedule();
    });
  }

  /** Stops writing the session (it ended or left this node); its waiters are rejected. */
  drop(entry: Entry, error: () => unknown): void {
    this.#dirty.delete(entry);
    const waiters = this.#waiters.get(entry);
    if (!waiters) return;
    this.#waiters.delete(entry);
    for (const w of waiters) w.reject(error());
  }

  /** Deletes a session's record, after any write of it that is in flight. */
  delete(id: string): Promise<void> {
    return new Promise<void>((resolve) => {
      let list = this.#deletes.get(id);
      if (!list) this.#deletes.set(id, (list = []));
      list.push(resolve);
      this.#schedule();
    });
  }

  /**
   * Writes everything that is dirty now and waits for it (shutdown), until `deadline` (epoch
   * milliseconds) at the latest. A failed write is retried after its backoff, on a timer: a
   * store that fails synchronously (libsql on a full disk) must not become a loop of microtasks
   * that starves every timer and signal handler of the process. Whether everything was saved;
   * {@link unsaved} lists what was not.
   */
  async flush(deadline = Number.POSITIVE_INFINITY): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'expired'>((resolve) => {
      if (Number.isFinite(deadline))
        timer = setTimeout(() => resolve('expired'), Math.max(0, deadline - Date.now()));
    });
    try {
      while (this.#dirty.size || this.#deletes.size || this.#flushing) {
        let step: Promise<unknown>;
        if (this.#flushing) step = this.#flushing;
        else if (this.#retryTimer) {
          // Backing off after a failure: wait it out here (a timer the caller waits on).
          clearTimeout(this.#retryTimer);
          this.#retryTimer = undefined;
          step = new Promise((r) => {
            const wait = setTimeout(r, this.#retryMs);
            // The deadline's timer keeps the process up meanwhile; this one must not outlive it.
            if (timer) wait.unref();
          });
        } else step = this.#run();
        if ((await Promise.race([step, expired])) === 'expired') return false;
        if (Date.now() >= deadline) return false;
      }
      return true;
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  /** Sessions whose latest change is not saved (dirty, or written and not yet answered). */
  unsaved(): Entry[] {
    const out = new Set<Entry>(this.#inFlight);
    for (const entry of this.#dirty) out.add(entry);
    return [...out].filter((e) => !e.ended && !e.left && e.storedVersion < e.version);
  }

  /** The store's last failure, while it has not succeeded since. */
  get lastError(): unknown {
    return this.#failed ? this.#lastError : undefined;
  }

  #schedule(): void {
    if (this.#closed || this.#flushing || this.#retryTimer) return;
    const urgent =
      this.#gatherMs === 0 || this.#fresh || this.#waiters.size > 0 || this.#deletes.size > 0;
    if (this.#scheduled && !(urgent && this.#gathering)) return;
    if (this.#gathering) clearTimeout(this.#gathering);
    this.#gathering = undefined;
    this.#scheduled = true;
    const run = () => {
      this.#scheduled = false;
      this.#gathering = undefined;
      if (!this.#flushing) void this.#run();
    };
    // Every change of this turn of the event loop (or of the gathering window) joins the batch;
    // a caller waiting for its save does not wait for the window.
    if (urgent) setImmediate(run);
    else {
      this.#gathering = setTimeout(run, this.#gatherMs);
      this.#gathering.unref();
    }
  }

  #run(): Promise<void> {
    const run = this.#write().finally(() => {
      this.#flushing = undefined;
      if ((this.#dirty.size || this.#deletes.size) && !this.#retryTimer) this.#schedule();
    });
    this.#flushing = run;
    return run;
  }

  async #write(): Promise<void> {
    this.#fresh = false;
    const entries = [...this.#dirty];
    this.#dirty.clear();
    const writes: StoreWrite[] = [];
    const written: Entry[] = [];
    let refused: Array<[Entry, unknown]> | undefined;
    for (const entry of entries) {
      if (entry.ended || entry.left) continue;
      let encoded: { data: string; dueAt: number | null };
      try {
        encoded = this.#hooks.encode(entry);
      } catch (error) {
        (refused ??= []).push([entry, error]);
        continue;
      }
      const { data, dueAt } = encoded;
      const version = Math.max(entry.version, entry.storedVersion + 1);
      // The state encoded now is `version` from now on: a change made while this write is on
      // its way counts above it, so that its answer never settles a wait for that change (a
      // change marked without a count of its own, a migration on restore, would otherwise share
      // the version of the next one, acknowledged by the write of the state before it).
      if (entry.version < version) entry.version = version;
      entry.attempted.push(version);
      writes.push({ id: entry.id, version, expectedVersion: entry.storedVersion, data, dueAt });
      written.push(entry);
    }
    // Never written: whoever waits for the save hears why, before anything is acknowledged.
    for (const [entry, error] of refused ?? []) {
      const waiters = this.#waiters.get(entry);
      this.#waiters.delete(entry);
      for (const w of waiters ?? []) w.reject(error);
      this.#hooks.tooLarge(entry, error);
    }
    this.#inFlight = written;
    try {
      if (writes.length) {
        const results = await this.#store.save(writes);
        for (let i = 0; i < written.length; i++) {
          const entry = written[i]!;
          const write = writes[i]!;
          if (entry.id !== write.id) {
            // Renamed while this write was on its way: it wrote the old ID's record (deleted
            // after it), not the new one's, which is still to be written from version 0.
            if (!entry.ended && !entry.left) this.#dirty.add(entry);
            continue;
          }
          if (results[i] === 'ok') {
            entry.storedVersion = write.version;
            this.#settle(entry, write.version);
          } else {
            await this.#conflict(entry, write.version);
          }
        }
      }
      const deletes = [...this.#deletes];
      this.#deletes.clear();
      for (const [id, done] of deletes) {
        await this.#store.delete(id);
        for (const d of done) d();
      }
      this.#retryMs = 0;
      this.#failed = false;
      this.#lastError = undefined;
    } catch (cause) {
      // The store is down: the changes stay dirty and are retried with backoff; callers that
      // wait for durability hear STORE_UNAVAILABLE now rather than hanging.
      for (const entry of written) {
        if (!entry.ended) this.#dirty.add(entry);
        const waiters = this.#waiters.get(entry);
        if (waiters) {
          this.#waiters.delete(entry);
          for (const w of waiters) w.reject(new StoreUnavailableError(cause, entry.id));
        }
      }
      this.#failed = true;
      this.#lastError = cause;
      this.#hooks.failed(cause);
      this.#retryMs = Math.min(2_000, this.#retryMs ? this.#retryMs * 2 : 50);
      this.#armRetry();
    } finally {
      this.#inFlight = [];
    }
  }

  #armRetry(): void {
    if (this.#closed) return;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#schedule();
    }, this.#retryMs);
    this.#retryTimer.unref();
  }

  /**
   * A write found another version than it expected. When that version is one of ours (a write
   * that failed on our side, a timeout, but reached the store), it is adopted and the session
   * written again; otherwise someone else wrote the session and the supervisor is told.
   */
  async #conflict(entry: Entry, version: number): Promise<void> {
    const stored = await this.#store.load(entry.id);
    if (stored && entry.attempted.includes(stored.version) && stored.version < version) {
      entry.storedVersion = stored.version;
      entry.attempted = entry.attempted.filter((v) => v > stored.version);
      this.#dirty.add(entry);
      return;
    }
    this.#hooks.conflict(entry);
  }

  #settle(entry: Entry, version: number): void {
    entry.attempted = entry.attempted.filter((v) => v > version);
    const waiters = this.#waiters.get(entry);
    if (!waiters) return;
    const rest = waiters.filter((w) => {
      if (w.version > version) return true;
      w.resolve();
      return false;
    });
    if (rest.length) this.#waiters.set(entry, rest);
    else this.#waiters.delete(entry);
  }

  /** Stops the retry timer and writes nothing more (shutdown). */
  close(): void {
    this.#closed = true;
    if (this.#gathering) clearTimeout(this.#gathering);
    this.#gathering = undefined;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
  }
}
