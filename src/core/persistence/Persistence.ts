import type { AnyActorRef } from 'xstate';
import { DeadlineQueue } from '../DeadlineQueue.js';
import type { Entry } from '../Entry.js';
import {
  isSessionError,
  SessionRestoreFailedError,
  SessionVersionAheadError,
  StoreUnavailableError,
} from '../errors.js';
import type { SessionStore, StoredSession } from '../store/SessionStore.js';
import type { Durability } from '../types.js';
import { compareVersions } from '../versions/compareVersions.js';
import type { VersionChain, MigrationProblem } from '../versions/VersionChain.js';
import type { IndexedScheduler } from '../xstateInternals.js';
import { checkRecord, parseRecord, RECORD_FORMAT, type SessionRecord } from './record.js';
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
}

/** @internal The resolved persistence options. */
export interface PersistenceOptions {
  store: SessionStore;
  durability: Durability;
  passivateAfterMs: number | undefined;
  migrate: ((record: SessionRecord) => SessionRecord) | undefined;
  wakeIntervalMs: number;
  logicVersion: (logic: string) => string | undefined;
  versionsOf: (logic: string) => VersionChain | undefined;
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
  /** Records migrated on restore, by the version they came from. */
  readonly migrated: Record<string, number> = {};

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
        failed: (error) => hooks.report(new StoreUnavailableError(error)),
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
    } catch (cause) {
      throw new SessionRestoreFailedError(id, cause);
    }
    // Never newer data under older code: refused before anything reads it further, and the
    // record is left as it is (no write, no delete) for the code that wrote it.
    const ahead = this.#ahead(id, record);
    if (ahead) throw ahead;
    let from: string | undefined;
    let dropped: readonly MigrationProblem[] = [];
    try {
      if (this.#o.migrate) record = this.#o.migrate(record);
      checkRecord(record, id);
      const versions = this.#o.versionsOf(record.logic);
      const place = versions?.place(record.logicVersion);
      if (versions && place && place.kind === 'older') {
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
      throw new SessionRestoreFailedError(id, cause);
    }
    const entry = this.#hooks.revive(record, stored.version);
    this.restored++;
    if (from !== undefined) {
      this.migrated[from] = (this.migrated[from] ?? 0) + 1;
      if (dropped.length) this.#hooks.dropped(dropped, id, from);
      // Written at its new version soon, so the store's count of old versions goes down.
      this.changed(entry);
    }
    return entry;
  }

  /** SESSION_VERSION_AHEAD when the record was written by a newer version than this process holds. */
  #ahead(id: string, record: SessionRecord): SessionVersionAheadError | undefined {
    if (typeof record.logic !== 'string') return undefined;
    const versions = this.#o.versionsOf(record.logic);
    if (versions) {
      let place: ReturnType<VersionChain['place']>;
      try {
        place = versions.place(record.logicVersion);
      } catch {
        return undefined; // no version and no `unversioned`: a restore failure, said later
      }
      return place.kind === 'ahead'
        ? new SessionVersionAheadError(id, place.version, versions.list)
        : undefined;
    }
    const theirs = record.logicVersion;
    const mine = this.#o.logicVersion(record.logic);
    if (typeof theirs !== 'string' || theirs === mine) return undefined;
    // A plain machine: the record's version against the machine's, by number or semver; a
    // machine without a version (or one that cannot be ordered) cannot vouch for the record.
    const order = mine === undefined ? undefined : compareVersions(theirs, mine);
    return order === undefined || order > 0
      ? new SessionVersionAheadError(id, theirs, mine === undefined ? [] : [mine])
      : undefined;
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
    const at = Date.now() + Math.max(0, Math.min(inMs, this.#o.wakeIntervalMs));
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

  /** Saves everything and stops the timers (shutdown). */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#wakeTimer) clearTimeout(this.#wakeTimer);
    this.#wakeTimer = undefined;
    this.#quiet?.clear();
    await this.writer.flush();
    this.writer.close();
  }
}

/**
 * A store's failure as the caller sees it: STORE_UNAVAILABLE, except a SessionError the store
 * chose to answer with (a cluster store's SESSION_ROTATED for an ID rotated away on another node).
 */
function unavailable(cause: unknown, id: string): unknown {
  if (isSessionError(cause) && cause.code !== 'STORE_UNAVAILABLE') return cause;
  return new StoreUnavailableError(cause, id);
}
