import type { Entry } from '../Entry.js';
import { isSessionError, StoreUnavailableError } from '../errors.js';
import { MAX_TIMEOUT_MS } from '../maxTimeout.js';
import type { SessionStore } from '../store/SessionStore.js';

/** @internal What the waker asks of persistence. */
export interface StoreWakerDeps {
  store: SessionStore;
  wakeIntervalMs: number;
  quarantineRetentionMs: number;
  /** Whether a session is in memory now. */
  resident(id: string): boolean;
  /** Brings a stored session into memory (quarantining a record that cannot be restored). */
  restore(id: string): Promise<Entry | undefined>;
  /** For a restore's SESSION_RESTORE_FAILED: whether its quarantine took the record out of the due index. */
  marked(error: object): Promise<boolean> | undefined;
  /** Telemetry of store trouble and of records that cannot be woken. */
  report(error: unknown, sessionId?: string): void;
}

/**
 * @internal
 * Wakes passivated sessions whose timers fall due (as Durable Objects' alarms do): asks the
 * store's due index a batch at a time, skips records written by a newer version, and deletes
 * quarantined records past their retention.
 */
export class StoreWaker {
  readonly #d: StoreWakerDeps;
  /**
   * Due records written by a newer version of a logic (SESSION_VERSION_AHEAD): left untouched for
   * a process that holds that version, skipped (and reported once) by this process's waker.
   */
  readonly #ahead = new Set<string>();
  /** When the waker next deletes quarantined records past `quarantineRetentionMs` (epoch ms). */
  #purgeAt = 0;
  /** Due times of sessions this process passivated, so the waker is on time for them. */
  readonly #hints = new Set<number>();
  #wakeTimer: NodeJS.Timeout | undefined;
  #nextWake = Number.POSITIVE_INFINITY;
  #waking = false;
  /** A wake timer fired while a wake was running. */
  #wakeAgain = false;
  #closed = false;

  constructor(deps: StoreWakerDeps) {
    this.#d = deps;
  }

  /** A session this process passivated is due at `dueAt` (epoch ms). */
  hint(dueAt: number): void {
    if (this.#hints.size < 100_000) this.#hints.add(dueAt);
    this.arm(dueAt - Date.now());
  }

  /** A record was quarantined at `at`: purge it once its retention is over. */
  quarantinedAt(at: number): void {
    this.#purgeAt = Math.min(this.#purgeAt, at + this.#d.quarantineRetentionMs);
  }

  /** The record is gone: no longer skipped as written by a newer version. */
  forget(id: string): void {
    this.#ahead.delete(id);
  }

  /** Stops waking (shutdown). */
  close(): void {
    this.#closed = true;
    if (this.#wakeTimer) clearTimeout(this.#wakeTimer);
    this.#wakeTimer = undefined;
  }

  /** Wakes due sessions in `inMs` at the latest (never later than `wakeIntervalMs`). */
  arm(inMs: number): void {
    if (this.#closed) return;
    const at = Date.now() + Math.max(0, Math.min(inMs, this.#d.wakeIntervalMs, MAX_TIMEOUT_MS));
    if (this.#wakeTimer && at >= this.#nextWake) return;
    if (this.#wakeTimer) clearTimeout(this.#wakeTimer);
    this.#nextWake = at;
    this.#wakeTimer = setTimeout(() => void this.#wake(), at - Date.now());
    this.#wakeTimer.unref();
  }

  async #wake(): Promise<void> {
    this.#wakeTimer = undefined;
    this.#nextWake = Number.POSITIVE_INFINITY;
    if (this.#closed) return;
    if (this.#waking) {
      // A wake fell due while one runs (a long batch): run it right after, never drop it.
      this.#wakeAgain = true;
      return;
    }
    this.#waking = true;
    let next = this.#d.wakeIntervalMs;
    const startedAt = Date.now();
    try {
      const now = startedAt;
      if (now >= this.#purgeAt)
        await this.#purge(now).catch((err: unknown) => {
          // Waking comes first: a store that cannot list or delete is asked again later.
          this.#purgeAt = now + PURGE_RETRY_MS;
          this.#d.report(new StoreUnavailableError(err));
        });
      // Records that this process leaves in the index (newer versions) must not take the batch.
      const limit = WAKE_BATCH + this.#ahead.size;
      const due = await this.#d.store.due(now, limit);
      let progress = 0;
      // Quarantines asked for in this batch, awaited together (a store may commit them as one).
      const marking: Promise<boolean>[] = [];
      for (const { id } of due) {
        if (this.#d.resident(id) || this.#ahead.has(id)) continue;
        // Restoring re-arms the session's timers at their due times (now, for those past) and
        // its idle and lifetime deadlines, which then fire as in a session never passivated.
        try {
          if (await this.#d.restore(id)) progress++;
        } catch (err) {
          if (isSessionError(err, 'SESSION_RESTORE_FAILED')) {
            // Quarantined (and reported) by the restore: out of the index, so the next batch
            // reaches the records behind it. (Not when the store failed to mark it: then the
            // next wake is the usual interval away, not a busy loop.)
            const marked = this.#d.marked(err);
            if (marked) marking.push(marked);
          } else if (isSessionError(err, 'SESSION_VERSION_AHEAD')) {
            // Skipped from now on, and the next query asks for that many more.
            if (this.#ahead.size < MAX_AHEAD) {
              this.#ahead.add(id);
              progress++;
            }
            this.#d.report(err, id);
          } else this.#d.report(err, id);
        }
      }
      for (const marked of await Promise.all(marking)) if (marked) progress++;
      if (due.length === limit && progress > 0) next = 0;
    } catch (err) {
      this.#d.report(new StoreUnavailableError(err));
    } finally {
      this.#waking = false;
      const now = Date.now();
      if (this.#wakeAgain) next = 0;
      this.#wakeAgain = false;
      for (const at of this.#hints) {
        if (at <= now) {
          this.#hints.delete(at);
          // Due after this wake's query was made: the next wake looks at once.
          if (at > startedAt) next = 0;
        } else if (at - now < next) next = at - now;
      }
      this.arm(next);
    }
  }

  /**
   * Deletes the quarantined records older than `quarantineRetentionMs`, a batch at a time, and
   * notes when the oldest one left will be due.
   */
  async #purge(now: number): Promise<void> {
    const retention = this.#d.quarantineRetentionMs;
    const rows = await this.#d.store.quarantined(WAKE_BATCH);
    let deleted = 0;
    for (const row of rows) {
      if (row.quarantinedAt + retention > now) break;
      await this.#d.store.delete(row.id);
      deleted++;
    }
    const oldest = rows[deleted];
    if (oldest) this.#purgeAt = oldest.quarantinedAt + retention;
    else if (deleted === WAKE_BATCH) this.#purgeAt = now;
    // Others' quarantines (another node, an earlier process) are looked for again within the hour.
    else this.#purgeAt = now + Math.min(retention, PURGE_CHECK_MS);
  }
}

/** Records the waker restores (or quarantines) per store query. */
const WAKE_BATCH = 256;
/** How many due records of a newer version the waker skips at most (then they take batches). */
const MAX_AHEAD = 10_000;
/** How often the waker looks for quarantined records past their retention that it did not mark. */
const PURGE_CHECK_MS = 60 * 60_000;
/** How long after a failed purge the waker tries again. */
const PURGE_RETRY_MS = 60_000;
