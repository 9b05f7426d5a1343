import type { AnyActorRef } from 'xstate';
import { DeadlineQueue } from '../DeadlineQueue.js';
import type { Entry } from '../Entry.js';
import {
  isSessionError,
  SessionRestoreFailedError,
  StoreUnavailableError,
  TooManyTimersError,
} from '../errors.js';
import type {
  QuarantinedSession,
  SessionStore,
  StoredSession,
  StoreWriteResult,
} from '../store/SessionStore.js';
import type { Durability } from '../types.js';
import type { MigrationProblem, VersionChain } from '../versions/VersionChain.js';
import type { IndexedScheduler } from '../xstateInternals.js';
import type { RecordCodec } from './RecordCodec.js';
import { checkRecord, RECORD_FORMAT, type SessionRecord, type StoredTimer } from './record.js';
import { StoredCount } from './StoredCount.js';
import { StoreWaker } from './StoreWaker.js';
import { unavailable } from './unavailable.js';
import { versionAhead } from './versionAhead.js';
import { WriteBehind } from './WriteBehind.js';

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
  /** What a migration dropped (timers, children, history entries), reported through `onError`. */
  dropped(problems: readonly MigrationProblem[], sessionId: string, from: string): void;
  conflict(entry: Entry): void;
  /**
   * The session's record is over `maxRecordBytes` and was not written: the session goes back to
   * its last saved record (it leaves memory), its waiting calls fail with `error`.
   */
  tooLarge(entry: Entry, error: unknown): void;
}

/** @internal The resolved persistence options. */
export interface PersistenceOptions {
  store: SessionStore;
  durability: Durability;
  passivateAfterMs: number | undefined;
  migrate: ((record: SessionRecord) => SessionRecord) | undefined;
  wakeIntervalMs: number;
  quarantineRetentionMs: number;
  logicVersion: (logic: string) => string | undefined;
  /** The versions of a logic made by `machineVersions`. */
  versionsOf: (logic: string) => VersionChain | undefined;
  /** Encodes and decodes records: `maxRecordBytes`, `recordKey`. */
  codec: RecordCodec;
  /** A stored record with more timers is not restored. */
  maxTimers: number;
  /** Starts beyond this many records in the store are refused. */
  maxStoredSessions: number | undefined;
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
  /**
   * Quarantines this process has asked the store for and not yet heard back about; each settles
   * to whether the record left the due index (marked by this process or, before it, by another).
   */
  readonly #quarantining = new Map<string, Promise<boolean>>();
  /** The same outcome by the error the restore failed with (the waker reads it after the fact). */
  readonly #marking = new WeakMap<object, Promise<boolean>>();
  /** Wakes passivated sessions whose timers fall due. */
  readonly #waker: StoreWaker;
  /** With `maxStoredSessions`: the store's count and the starts since. */
  readonly #count: StoredCount;
  passivated = 0;
  restored = 0;
  /** Records migrated on restore, by the version they came from. */
  readonly migrated: Record<string, number> = {};
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
        tooLarge: (entry, error) => hooks.tooLarge(entry, error),
        failed: (error) => hooks.report(unavailable(error)),
      },
      // `eventual`: changes gather for 10 ms, so a busy session is written once per window.
      options.durability === 'durable' ? 0 : 10,
    );
    if (options.passivateAfterMs !== undefined)
      this.#quiet = new DeadlineQueue((entry) => this.#passivate(entry));
    // Sessions whose timers fell due while no process ran them are woken at once.
    this.#count = new StoredCount(options.store, options.maxStoredSessions, options.wakeIntervalMs);
    this.#waker = new StoreWaker({
      store: options.store,
      wakeIntervalMs: options.wakeIntervalMs,
      quarantineRetentionMs: options.quarantineRetentionMs,
      resident: (id) => hooks.resident(id),
      restore: (id) => this.restore(id),
      marked: (error) => this.#marking.get(error),
      report: (error, sessionId) => hooks.report(error, sessionId),
    });
    this.#waker.arm(0);
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

  /** The session's record as stored text (RECORD_TOO_LARGE past `maxRecordBytes`). */
  #encode(entry: Entry): { data: string; dueAt: number | null } {
    const actor = entry.actor as AnyActorRef & { getPersistedSnapshot(): unknown };
    const timers: StoredTimer[] = [];
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
    return { data: this.#o.codec.encode(record), dueAt: Number.isFinite(dueAt) ? dueAt : null };
  }

  /** When the session next needs waking: its earliest own timer, idle or lifetime deadline. */
  #dueAt(entry: Entry): number | null {
    const actor = entry.actor;
    let dueAt = this.#hooks.deadlineOf(entry) ?? Number.POSITIVE_INFINITY;
    for (const t of this.#scheduler.pending(actor))
      if (t.target === actor && t.dueAt < dueAt) dueAt = t.dueAt;
    return Number.isFinite(dueAt) ? dueAt : null;
  }

  // ---- bounding the store ----------------------------------------------------------------

  /** With `maxStoredSessions`: brings the store's count up to date (see {@link StoredCount}). */
  countStored(): Promise<void> {
    return this.#count.refresh();
  }

  /** With `maxStoredSessions`: admits one more session into the store, or throws SESSION_LIMIT_REACHED. */
  admitStored(): void {
    this.#count.admit();
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
    if (stored.quarantine) {
      // Reported once, when it was quarantined; every later use fails at once, quietly.
      const { at, reason } = stored.quarantine;
      throw new SessionRestoreFailedError(
        id,
        new Error(`quarantined since ${new Date(at).toISOString()}: ${reason}`),
      );
    }
    let record: SessionRecord;
    let from: string | undefined;
    let dropped: readonly MigrationProblem[] = [];
    try {
      // Size and signature are checked before the text is parsed.
      record = this.#o.codec.decode(stored.data, id);
      // Never newer data under older code: refused before anything reads it further, and the
      // record is left as it is (no write, no delete, no quarantine) for the code that wrote it.
      const ahead = versionAhead(id, record, this.#o.versionsOf, this.#o.logicVersion);
      if (ahead) throw ahead;
      if (this.#o.migrate) record = this.#o.migrate(record);
      checkRecord(record, id);
      if (record.timers.length > this.#o.maxTimers)
        throw new TooManyTimersError(id, this.#o.maxTimers);
      const versions = this.#o.versionsOf(record.logic);
      const place = versions?.place(record.logicVersion);
      if (versions && place?.kind === 'older') {
        const m = versions.migrate(
          record.snapshot as Parameters<VersionChain['migrate']>[0],
          record.timers,
          place.version,
        );
        record = { ...record, logicVersion: m.to, snapshot: m.snapshot, timers: m.timers };
        from = m.from;
        dropped = m.dropped;
      }
    } catch (cause) {
      // A record written by a newer version is not broken: it stays as it is, for a process
      // that holds that version.
      if (isSessionError(cause, 'SESSION_VERSION_AHEAD')) throw cause;
      throw this.#unrestorable(stored, new SessionRestoreFailedError(id, cause));
    }
    let entry: Entry;
    try {
      entry = this.#hooks.revive(record, stored.version);
    } catch (err) {
      if (isSessionError(err, 'SESSION_RESTORE_FAILED')) throw this.#unrestorable(stored, err);
      throw err;
    }
    this.restored++;
    if (from !== undefined) {
      this.migrated[from] = (this.migrated[from] ?? 0) + 1;
      if (dropped.length) this.#hooks.dropped(dropped, id, from);
      // Written at its new version soon, so the store's count of old versions goes down. The
      // migrated state is a change of its own (unsaved until that write answers).
      entry.version++;
      this.changed(entry);
    }
    return entry;
  }

  /**
   * A record that cannot be restored is quarantined in the store (kept under its ID, out of the
   * due index, frozen), so that no process tries it again, and reported by the one process whose
   * quarantine took (the store's compare-and-set decides): once, whoever asks for it how often.
   */
  #unrestorable(stored: StoredSession, error: Error): Error {
    const { id, version } = stored;
    const pending = this.#quarantining.get(id);
    if (pending) this.#marking.set(error, pending);
    else {
      const at = Date.now();
      const marker = { at, reason: error.message.slice(0, 1_000) };
      let asked: Promise<StoreWriteResult>;
      try {
        asked = this.store.quarantine(id, version, marker);
      } catch (cause) {
        asked = Promise.reject(cause);
      }
      const done = asked
        .then(
          (result) => {
            // 'conflict': another process marked it first (and reported it), or rewrote it.
            if (result !== 'ok') return true;
            this.quarantinedCount++;
            this.#waker.quarantinedAt(at);
            this.#hooks.report(error, id);
            return true;
          },
          (cause) => {
            // Not marked: the next use tries (and reports) again.
            this.#hooks.report(error, id);
            this.#hooks.report(unavailable(cause, id), id);
            return false;
          },
        )
        .finally(() => this.#quarantining.delete(id));
      this.#quarantining.set(id, done);
      this.#marking.set(error, done);
    }
    return error;
  }

  /** Records quarantined by this process since it started. */
  quarantinedCount = 0;

  /** The store's quarantined records, oldest first. */
  async quarantined(limit: number): Promise<QuarantinedSession[]> {
    await Promise.all(this.#quarantining.values());
    try {
      return await this.store.quarantined(limit);
    } catch (cause) {
      throw new StoreUnavailableError(cause);
    }
  }

  /** Deletes a session's record for good, quarantined or not (after any write in flight). */
  async erase(id: string): Promise<void> {
    await this.#quarantining.get(id);
    this.#waker.forget(id);
    try {
      await this.writer.delete(id);
    } catch (cause) {
      throw unavailable(cause, id);
    }
  }

  /** Re-arms a revived session's delayed events at their original due times. */
  rearm(entry: Entry, record: SessionRecord): void {
    this.#scheduler.rearm(entry.actor, record.timers);
  }

  // ---- passivation ------------------------------------------------------------------------

  /** Activity: the session's quiet deadline moves. */
  active(entry: Entry, now: number): void {
    if (!this.#quiet || entry.left || entry.ended) return;
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
      const dueAt = this.#dueAt(entry);
      this.#hooks.passivate(entry);
      this.passivated++;
      if (dueAt !== null) {
        this.#waker.hint(dueAt);
      }
    };
    if (saved) saved.then(leave, () => this.active(entry, Date.now()));
    else leave();
  }

  /**
   * Saves everything and stops the timers (shutdown), giving up at `deadline` (epoch ms): each
   * session whose latest change could not be saved by then is reported, with the store's own
   * error as the cause (or, for a store that never answered, a timeout).
   */
  async close(deadline: number, timeoutMs: number): Promise<void> {
    this.#waker.close();
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
