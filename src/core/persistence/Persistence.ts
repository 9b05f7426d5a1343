import type { AnyActorRef } from 'xstate';
import { DeadlineQueue } from '../DeadlineQueue.js';
import type { Entry } from '../Entry.js';
import { isSessionError, SessionRestoreFailedError, StoreUnavailableError } from '../errors.js';
import type { SessionStore, StoredSession } from '../store/SessionStore.js';
import type { Durability } from '../types.js';
import type { IndexedScheduler } from '../xstateInternals.js';
import { checkRecord, parseRecord, RECORD_FORMAT, type SessionRecord } from './record.js';
import { WriteBehind } from './WriteBehind.js';
import { MAX_TIMEOUT_MS } from '../maxTimeout.js';

/** @internal What persistence asks of the supervisor. */
export interface PersistenceHooks {
  /** Builds and starts a session from a checked record; throws what went wrong. */
  revive(record: SessionRecord, storedVersion: number): Entry;
  /** Whether a session is in memory now. */
  resident(id: string): boolean;
  /** Takes a quiet session out of memory (its record is saved and stays). */
  passivate(entry: Entry): void;
  /** The session's idle/lifetime deadline, if any (part of its due time). */
  deadlineOf(entry: Entry): number | undefined;
  /** Telemetry of store trouble, and conflicts (another node wrote the session). */
  report(error: unknown, sessionId?: string): void;
  conflict(entry: Entry): void;
}

/** @internal The resolved persistence options. */
export interface PersistenceOptions {
  store: SessionStore;
  durability: Durability;
  passivateAfterMs: number | undefined;
  migrate: ((record: SessionRecord) => SessionRecord) | undefined;
  wakeIntervalMs: number;
  logicVersion: (logic: string) => string | undefined;
}

/**
 * @internal
 * Sessions that outlive memory: the write-behind of changes, restores (sessions are virtual
 * actors: they come back on first use), passivation of quiet sessions, and waking passivated
 * sessions whose timers fall due (as Durable Objects' alarms do).
 */
export class Persistence {
  readonly store: SessionStore;
  readonly durability: Durability;
  readonly writer: WriteBehind;
  readonly #o: PersistenceOptions;
  readonly #hooks: PersistenceHooks;
  readonly #scheduler: IndexedScheduler;
  readonly #quiet: DeadlineQueue<Entry> | undefined;
  readonly #restoring = new Map<string, Promise<Entry | undefined>>();
  readonly #unrestorable = new Set<string>();
  /** Due times of sessions this process passivated, so the waker is on time for them. */
  readonly #hints = new Set<number>();
  #wakeTimer: NodeJS.Timeout | undefined;
  #nextWake = Number.POSITIVE_INFINITY;
  #waking = false;
  #closed = false;
  passivated = 0;
  restored = 0;
  /** Changes dropped unsaved (see `SupervisorStats.store.lost`); written by {@link dropped}. */
  lost = 0;

  constructor(options: PersistenceOptions, scheduler: IndexedScheduler, hooks: PersistenceHooks) {
    this.#o = options;
    this.store = options.store;
    this.durability = options.durability;
    this.#scheduler = scheduler;
    this.#hooks = hooks;
    this.writer = new WriteBehind(
      options.store,
      {
        encode: (entry) => this.#encode(entry),
        conflict: (entry) => hooks.conflict(entry),
        failed: (error) => hooks.report(unavailable(error)),
      },
      // `eventual`: changes gather for 10 ms, so a busy session is written once per window.
      options.durability === 'durable' ? 0 : 10,
    );
    if (options.passivateAfterMs !== undefined)
      this.#quiet = new DeadlineQueue((entry) => this.#passivate(entry));
    // Sessions whose timers fell due while no process ran them are woken at once.
    this.#armWake(0);
  }

  // ---- writing ----------------------------------------------------------------------------

  /** The session changed (or was created): save it as the durability says. */
  changed(entry: Entry): void {
    if (this.durability !== 'none') this.writer.mark(entry);
  }

  /** With `durable`: resolves once the session's current state is saved. */
  gate(entry: Entry): Promise<void> | undefined {
    return this.durability === 'durable' ? this.writer.whenSaved(entry) : undefined;
  }

  #encode(entry: Entry): { data: string; dueAt: number | null } {
    const actor = entry.actor as AnyActorRef & { getPersistedSnapshot(): unknown };
    const timers = [];
    let dueAt = this.#hooks.deadlineOf(entry) ?? Number.POSITIVE_INFINITY;
    for (const t of this.#scheduler.pending(actor)) {
      if (t.target !== actor) continue; // only a session's own delayed events come back
      timers.push({ id: t.id, event: t.event, dueAt: t.dueAt });
      if (t.dueAt < dueAt) dueAt = t.dueAt;
    }
    const record: SessionRecord = {
      format: RECORD_FORMAT,
      id: entry.id,
      logic: entry.logicName,
      logicVersion: this.#o.logicVersion(entry.logicName),
      input: entry.input,
      startedAt: entry.startedAt,
      lastActiveAt: entry.lastActiveAt,
      version: Math.max(entry.version, entry.storedVersion + 1),
      snapshot: actor.getPersistedSnapshot(),
      timers,
    };
    return { data: JSON.stringify(record), dueAt: Number.isFinite(dueAt) ? dueAt : null };
  }

  // ---- restoring --------------------------------------------------------------------------

  /** Brings a stored session into memory (once, however many ask at the same time). */
  restore(id: string): Promise<Entry | undefined> {
    let pending = this.#restoring.get(id);
    if (pending) return pending;
    pending = (async () => {
      let stored: StoredSession | undefined;
      try {
        stored = await this.store.load(id);
      } catch (cause) {
        throw unavailable(cause, id);
      }
      if (stored === undefined || this.#hooks.resident(id)) return undefined;
      return this.#revive(id, stored);
    })().finally(() => this.#restoring.delete(id));
    this.#restoring.set(id, pending);
    return pending;
  }

  /** The same without waiting, for stores that load synchronously; `undefined` otherwise. */
  restoreSync(id: string): Entry | undefined {
    const load = this.store.loadSync;
    if (load === undefined || this.#restoring.has(id)) return undefined;
    let stored: StoredSession | undefined;
    try {
      stored = load.call(this.store, id);
    } catch (cause) {
      throw unavailable(cause, id);
    }
    return stored === undefined ? undefined : this.#revive(id, stored);
  }

  /** Whether the store holds the session (synchronous stores only; else `undefined`). */
  storedSync(id: string): boolean | undefined {
    const load = this.store.loadSync;
    if (load === undefined) return undefined;
    try {
      return load.call(this.store, id) !== undefined;
    } catch {
      return false;
    }
  }

  /** Whether the store holds the session. */
  async stored(id: string): Promise<boolean> {
    try {
      return (await this.store.load(id)) !== undefined;
    } catch (cause) {
      throw unavailable(cause, id);
    }
  }

  #revive(id: string, stored: StoredSession): Entry {
    let record: SessionRecord;
    try {
      record = parseRecord(stored.data);
      if (this.#o.migrate) record = this.#o.migrate(record);
      checkRecord(record, id);
    } catch (cause) {
      throw new SessionRestoreFailedError(id, cause);
    }
    const entry = this.#hooks.revive(record, stored.version);
    this.restored++;
    return entry;
  }

  /** Re-arms a revived session's delayed events at their original due times. */
  rearm(entry: Entry, record: SessionRecord): void {
    this.#scheduler.rearm(entry.actor, record.timers);
  }

  // ---- passivation ------------------------------------------------------------------------

  /** Activity: the session's quiet deadline moves. */
  active(entry: Entry, now: number): void {
    if (!this.#quiet) return;
    entry.passivation ??= DeadlineQueue.node(entry);
    this.#quiet.push(entry.passivation, now + this.#o.passivateAfterMs!);
  }

  /** A session leaves memory or stops for good: count the changes it takes along unsaved. */
  dropped(entry: Entry): void {
    if (entry.version > entry.storedVersion) this.lost += entry.version - entry.storedVersion;
  }

  /** The session left memory or ended: forget its quiet deadline. */
  forget(entry: Entry): void {
    if (entry.passivation) this.#quiet?.remove(entry.passivation);
  }

  #passivate(entry: Entry): void {
    if (entry.ended || entry.subscribers?.size || entry.calls?.size) {
      // Busy: look again after another quiet period.
      if (!entry.ended) this.active(entry, Date.now());
      return;
    }
    const since = entry.lastActiveAt;
    const saved = this.writer.whenSaved(entry);
    const leave = () => {
      if (entry.ended || entry.lastActiveAt !== since || entry.subscribers?.size) return;
      if (entry.storedVersion < entry.version) return; // changed meanwhile: next quiet period
      const { dueAt } = this.#encode(entry);
      this.#hooks.passivate(entry);
      this.passivated++;
      if (dueAt !== null) {
        if (this.#hints.size < 100_000) this.#hints.add(dueAt);
        this.#armWake(dueAt - Date.now());
      }
    };
    if (saved) saved.then(leave, () => this.active(entry, Date.now()));
    else leave();
  }

  // ---- waking -----------------------------------------------------------------------------

  #armWake(inMs: number): void {
    if (this.#closed) return;
    const at = Date.now() + Math.max(0, Math.min(inMs, this.#o.wakeIntervalMs, MAX_TIMEOUT_MS));
    if (this.#wakeTimer && at >= this.#nextWake) return;
    if (this.#wakeTimer) clearTimeout(this.#wakeTimer);
    this.#nextWake = at;
    this.#wakeTimer = setTimeout(() => void this.#wake(), at - Date.now());
    this.#wakeTimer.unref();
  }

  async #wake(): Promise<void> {
    this.#wakeTimer = undefined;
    this.#nextWake = Number.POSITIVE_INFINITY;
    if (this.#waking || this.#closed) return;
    this.#waking = true;
    let next = this.#o.wakeIntervalMs;
    try {
      const due = await this.store.due(Date.now(), 256);
      let woken = 0;
      for (const { id } of due) {
        if (this.#hooks.resident(id) || this.#unrestorable.has(id)) continue;
        // Restoring re-arms the session's timers at their due times (now, for those past) and
        // its idle and lifetime deadlines, which then fire as in a session never passivated.
        try {
          if (await this.restore(id)) woken++;
        } catch (err) {
          // Reported once; the record stays for inspection and is not retried by the waker.
          if (this.#unrestorable.size < 10_000) this.#unrestorable.add(id);
          this.#hooks.report(err, id);
        }
      }
      if (due.length === 256 && woken > 0) next = 0;
    } catch (err) {
      this.#hooks.report(new StoreUnavailableError(err));
    } finally {
      this.#waking = false;
      const now = Date.now();
      for (const at of this.#hints) {
        if (at <= now) this.#hints.delete(at);
        else if (at - now < next) next = at - now;
      }
      this.#armWake(next);
    }
  }

  /**
   * Saves everything and stops the timers (shutdown), giving up at `deadline` (epoch ms): each
   * session whose latest change could not be saved by then is reported, with the store's own
   * error as the cause (or, for a store that never answered, a timeout).
   */
  async close(deadline: number, timeoutMs: number): Promise<void> {
    this.#closed = true;
    if (this.#wakeTimer) clearTimeout(this.#wakeTimer);
    this.#wakeTimer = undefined;
    this.#quiet?.clear();
    const saved = await this.writer.flush(deadline);
    const unsaved = saved ? [] : this.writer.unsaved();
    this.writer.close();
    if (unsaved.length === 0) return;
    for (const entry of unsaved) this.dropped(entry);
    const cause =
      this.writer.lastError ??
      new Error(`the store did not answer within shutdownTimeoutMs (${timeoutMs} ms)`);
    // One report per session (its ID is what an operator needs), bounded: a dead store with
    // 100,000 sessions must not turn shutdown into 100,000 log lines.
    for (const entry of unsaved.slice(0, UNSAVED_REPORTS))
      this.#hooks.report(unavailable(cause, entry.id), entry.id);
    if (unsaved.length > UNSAVED_REPORTS)
      this.#hooks.report(
        unavailable(
          new Error(`${unsaved.length - UNSAVED_REPORTS} more sessions not saved at shutdown`, {
            cause,
          }),
        ),
      );
  }
}

/** How many sessions that shutdown could not save are reported one by one. */
const UNSAVED_REPORTS = 100;

/**
 * A store's failure as the caller sees it: STORE_UNAVAILABLE, except a SessionError the store
 * chose to answer with (a cluster store's SESSION_ROTATED for an ID rotated away on another node).
 */
function unavailable(cause: unknown, id?: string): unknown {
  if (isSessionError(cause) && cause.code !== 'STORE_UNAVAILABLE') return cause;
  return new StoreUnavailableError(cause, id);
}
