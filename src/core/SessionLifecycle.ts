import { debuglog } from 'node:util';
import { type AnyActorRef, type EventObject, createActor } from 'xstate';
import { ClusterError } from './ClusterError.js';
import { Entry } from './Entry.js';
import {
  RateLimitedError,
  SessionCrashedError,
  SessionEndedError,
  SessionInitFailedError,
  SessionRestoreFailedError,
  messageOf,
  UnknownLogicError,
} from './errors.js';
import type { ExpiryCause } from './Expiry.js';
import type { LifecycleParts } from './LifecycleParts.js';
import { Persistence, type PersistenceOptions } from './persistence/Persistence.js';
import type { SessionRecord } from './persistence/record.js';
import type {
  EndReason,
  SessionInfo,
  SessionSnapshot,
  SessionStatus,
  TelemetryEvents,
  TelemetryName,
} from './types.js';
import {
  DONE_ACTOR_PREFIX,
  ERROR_ACTOR_PREFIX,
  type IndexedScheduler,
  renameActor,
  stopActor,
} from './xstateInternals.js';

export type { Counters, LifecycleParts } from './LifecycleParts.js';

const debug = debuglog('session-process');

/**
 * @internal
 * A session's life in this process: created or brought back from the store, its snapshots
 * counted and handed out, crashed and maybe restarted, ended for good or taken out of memory.
 * The supervisor's public methods lead here; nothing here is public.
 */
export class SessionLifecycle {
  readonly #p: LifecycleParts;
  /** Set once the supervisor has built it (it needs the lifecycle's hooks first). */
  persist: Persistence | undefined;

  constructor(parts: LifecycleParts) {
    this.#p = parts;
  }

  emit<TName extends TelemetryName>(name: TName, event: TelemetryEvents[TName]): void {
    this.#p.telemetry.emit(name, event, (err) => this.#p.report(err, undefined, 'listener'));
  }

  // ---- beginning --------------------------------------------------------------------------

  /** Admits a new session (limit, start rate, tombstones) and creates it, counting refusals. */
  admitAndCreate(id: string, logicName: string, input: unknown): Entry {
    const p = this.#p;
    const now = Date.now();
    p.registry.admit(
      id,
      now,
      () => p.expiry.nextIdleDeadline,
      (err) => {
        p.counters.refused++;
        if (err instanceof RateLimitedError)
          this.emit('rate-limited', {
            sessionId: id,
            limit: err.limit,
            intervalMs: err.intervalMs,
            retryAfterMs: err.retryAfterMs,
          });
      },
    );
    try {
      this.persist?.admitStored();
    } catch (err) {
      p.counters.refused++;
      throw err;
    }
    return this.create(id, logicName, input, now);
  }

  /** Creates, registers and starts a new session (admission already passed). */
  create(id: string, logicName: string, input: unknown, now: number): Entry {
    const p = this.#p;
    const t0 = p.telemetry.active('start') ? performance.now() : 0;
    const entry = new Entry(id, logicName, input, now);
    p.registry.add(entry);
    const failure = this.spawn(entry);
    if (failure !== undefined) {
      p.registry.remove(entry);
      throw failure;
    }
    p.expiry.begin(entry);
    if (this.persist) {
      p.subs.watch(entry);
      this.persist.active(entry, now);
      this.persist.changed(entry);
    }
    p.counters.started++;
    if (t0)
      this.emit('start', {
        sessionId: id,
        logic: logicName,
        durationMs: performance.now() - t0,
        restart: false,
      });
    return entry;
  }

  /** Brings a stored session back into memory, as it was (throws SESSION_RESTORE_FAILED). */
  revive(record: SessionRecord, storedVersion: number): Entry {
    const p = this.#p;
    const id = record.id;
    if (!p.runnable[record.logic])
      throw new SessionRestoreFailedError(
        id,
        new UnknownLogicError(record.logic, Object.keys(p.logics)),
      );
    const t0 = p.telemetry.active('start') ? performance.now() : 0;
    const entry = new Entry(id, record.logic, record.input, record.startedAt);
    entry.lastActiveAt = record.lastActiveAt;
    entry.version = record.version;
    entry.storedVersion = storedVersion;
    const failure = this.spawn(entry, record.snapshot);
    if (failure) throw new SessionRestoreFailedError(id, failure.cause ?? failure);
    this.persist!.rearm(entry, record);
    p.registry.add(entry);
    p.expiry.begin(entry);
    p.subs.watch(entry);
    this.persist!.active(entry, Date.now());
    if (t0)
      this.emit('start', {
        sessionId: id,
        logic: record.logic,
        durationMs: performance.now() - t0,
        restart: false,
        restored: true,
      });
    return entry;
  }

  /** Creates and starts the entry's actor; returns the error to throw when it failed to start. */
  spawn(entry: Entry, snapshot?: unknown): SessionInitFailedError | undefined {
    entry.starting = true;
    let actor: AnyActorRef;
    try {
      actor = createActor(this.#p.runnable[entry.logicName]!, {
        parent: this.#p.root,
        id: entry.id,
        input: entry.input,
        ...(snapshot === undefined ? {} : { snapshot: snapshot as any }),
      });
      entry.actor = actor;
      actor.start();
    } catch (err) {
      return new SessionInitFailedError(entry.id, messageOf(err), err);
    } finally {
      entry.starting = false;
    }
    const snap = actor.getSnapshot();
    if (snap.status === 'error')
      return new SessionInitFailedError(entry.id, messageOf(snap.error), snap.error);
    if (snap.status === 'done')
      return new SessionInitFailedError(entry.id, 'the logic reached a final state while starting');
    entry.lastSnap = snap;
    return undefined;
  }

  /** A call, cast or touch: the idle and passivation deadlines move. */
  active(entry: Entry): void {
    const now = Date.now();
    this.#p.expiry.activity(entry, now);
    this.persist?.active(entry, now);
  }

  // ---- snapshots --------------------------------------------------------------------------

  /** A row of `list()`. */
  info(entry: Entry): SessionInfo {
    const s = this.plain(entry);
    return {
      id: entry.id,
      logic: entry.logicName,
      startedAt: entry.startedAt,
      lastActiveAt: entry.lastActiveAt,
      value: s.value,
      status: s.status,
      version: s.version,
      subscribers: entry.subscribers?.size ?? 0,
    };
  }

  /** The session's snapshot as plain data; counts a change nobody was told of yet. */
  plain(entry: Entry): SessionSnapshot {
    const snap: any = entry.actor.getSnapshot();
    if (snap !== entry.lastSnap) {
      entry.lastSnap = snap;
      entry.version++;
    }
    return {
      value: snap.value,
      context: snap.context,
      status: (snap?.status ?? 'active') as SessionStatus,
      version: entry.version,
    };
  }

  /**
   * Counts a change made by an event just sent, if nobody watching saw it: the entry then holds
   * the current snapshot, not one the actor has left behind (which would keep two per session).
   */
  seen(entry: Entry): void {
    const snap = entry.actor.getSnapshot();
    if (snap !== entry.lastSnap) {
      entry.lastSnap = snap;
      entry.version++;
    }
  }

  /** The actor moved to `snap`: count it, answer `until` calls, tell subscribers, save it. */
  changed(entry: Entry, snap: any): void {
    if (snap === entry.lastSnap || snap.status !== 'active') return;
    this.publish(entry, snap);
    this.persist?.changed(entry);
  }

  publish(entry: Entry, snap: unknown): void {
    entry.lastSnap = snap;
    entry.version++;
    const s = snap as { value: unknown; context: unknown };
    const plain: SessionSnapshot = {
      value: s.value,
      context: s.context,
      status: 'active',
      version: entry.version,
    };
    this.#p.calls.checkUntil(entry, plain);
    this.#p.subs.publish(entry, plain);
  }

  // ---- renaming -----------------------------------------------------------------------------

  /** Moves a session to a new ID (checked free): actor, registry, subscribers, record. */
  async rename(entry: Entry, newId: string): Promise<void> {
    const p = this.#p;
    const oldId = entry.id;
    // The actor keeps running, state and timers untouched; only its names change.
    renameActor(entry.actor, newId);
    p.registry.rename(entry, newId);
    // Whoever followed the old ID loses it: that is the point of rotating an ID. Its subscribers
    // are gone, so the idle countdown starts now, as when the last one leaves (from the first
    // subscriber's arrival, a long-watched session would expire on the spot).
    if (entry.subscribers?.size) entry.lastActiveAt = Date.now();
    p.subs.ended(entry, 'rotated');
    p.expiry.rearm(entry);
    p.subs.unwatchIfIdle(entry);
    if (this.persist) {
      // The record moves too: the new ID's is written fresh, the old one's deleted after it.
      entry.storedVersion = 0;
      entry.attempted = [];
      this.persist.changed(entry);
      await this.persist.writer.delete(oldId);
    }
  }

  // ---- the store ------------------------------------------------------------------------------

  /** Builds the persistence of this supervisor's sessions over `options.store`. */
  attachStore(options: PersistenceOptions, scheduler: IndexedScheduler): Persistence {
    const p = this.#p;
    this.persist = new Persistence(options, scheduler, {
      revive: (record, storedVersion) => this.revive(record, storedVersion),
      resident: (id) => p.registry.has(id),
      passivate: (entry) => this.leave(entry),
      deadlineOf: (entry) => p.expiry.deadlineOf(entry),
      report: (err, id) => p.report(err, id, 'store'),
      dropped: (problems, id, from) => {
        for (const problem of problems)
          p.report(
            new Error(`session ${id} migrated from version ${from}: ${problem.message}; dropped`),
            id,
            'migration',
          );
      },
      conflict: (entry) => {
        // Someone else wrote this session (another node took it over): stop running it here
        // rather than fork it.
        p.report(
          new ClusterError(
            'WRITE_FENCED',
            undefined,
            `session ${entry.id} was written elsewhere; leaving it`,
            { sessionId: entry.id },
          ),
          entry.id,
          'store',
        );
        this.leave(entry);
      },
      tooLarge: (entry, error) => {
        // The change that made the record too large is never saved: the session goes back to
        // its last saved record, restored on its next use. Whoever waits or watches hears why.
        p.report(error, entry.id, 'store');
        p.calls.failAll(entry, () => error);
        p.subs.ended(entry, 'crashed', error);
        this.leave(entry);
      },
    });
    return this.persist;
  }

  // ---- ending -----------------------------------------------------------------------------

  expire(entry: Entry, cause: ExpiryCause): void {
    this.emit('expire', {
      sessionId: entry.id,
      logic: entry.logicName,
      idleMs: Date.now() - entry.lastActiveAt,
      cause,
    });
    this.end(entry, 'expired');
  }

  /** Ends a session for good; resolves when its record is deleted (with a store). */
  end(entry: Entry, reason: EndReason, error?: unknown): Promise<void> | undefined {
    if (entry.ended) return undefined;
    const p = this.#p;
    entry.ended = reason;
    if (error !== undefined) entry.fault = error;
    p.registry.remove(entry);
    p.expiry.remove(entry);
    p.subs.unwatch(entry);
    let deleted: Promise<void> | undefined;
    if (this.persist) {
      this.persist.forget(entry);
      this.persist.writer.drop(entry, () => new SessionEndedError(entry.id, reason));
      // Ended is gone; shut down is kept for the next process.
      if (reason !== 'shutdown') deleted = this.persist.writer.delete(entry.id);
    }
    // Costs O(this session's own timers): see installIndexedScheduler.
    if (entry.actor.getSnapshot().status === 'active') stopActor(entry.actor);
    p.calls.failAll(entry, () =>
      reason === 'crashed'
        ? new SessionCrashedError(entry.id, error)
        : new SessionEndedError(entry.id, reason),
    );
    p.subs.ended(entry, reason, error);
    p.counters.ended[reason]++;
    this.emit('stop', {
      sessionId: entry.id,
      logic: entry.logicName,
      reason,
      lifetimeMs: Date.now() - entry.startedAt,
    });
    debug('session %s ended (%s)', entry.id, reason);
    return deleted;
  }

  /**
   * Takes a session out of memory without ending it: no `ended` message, no telemetry `stop`,
   * its record untouched. Passivation (after saving) and a cluster node that lost a session's
   * lease (without saving: it may no longer write) use it.
   */
  leave(entry: Entry): void {
    if (entry.ended || entry.left) return;
    const p = this.#p;
    entry.left = true;
    this.persist?.dropped(entry);
    p.registry.remove(entry);
    p.expiry.remove(entry);
    p.subs.unwatch(entry);
    this.persist?.forget(entry);
    this.persist?.writer.drop(entry, () => new SessionEndedError(entry.id, 'moved'));
    if (entry.actor.getSnapshot().status === 'active') stopActor(entry.actor);
    p.calls.failAll(entry, () => new SessionEndedError(entry.id, 'moved'));
    debug('session %s left memory', entry.id);
  }

  /** An event a session actor sent its parent, the root: its crash or its completion. */
  childEvent(event: EventObject): void {
    const type = event.type;
    const isError = type.startsWith(ERROR_ACTOR_PREFIX);
    if (!isError && !type.startsWith(DONE_ACTOR_PREFIX)) return;
    const id: string =
      (event as { actorId?: string }).actorId ??
      type.slice((isError ? ERROR_ACTOR_PREFIX : DONE_ACTOR_PREFIX).length);
    const entry = this.#p.registry.get(id);
    if (!entry || entry.starting || entry.ended) return;
    if (!isError) {
      // The session's machine reached a top-level final state: the session is over.
      this.end(entry, 'terminated');
      return;
    }
    this.#crash(entry, (event as { error?: unknown }).error);
  }

  #crash(entry: Entry, error: unknown): void {
    const p = this.#p;
    const restarting = !p.closing() && p.restart.crashed(entry, Date.now());
    entry.fault = error;
    this.emit('crash', { sessionId: entry.id, logic: entry.logicName, error, restarting });
    p.report(error, entry.id, 'crash');
    if (!restarting) {
      this.end(entry, 'crashed', error);
      return;
    }
    // Restart this session alone, from its initial state, with the same ID, logic and input.
    p.calls.failAll(entry, () => new SessionCrashedError(entry.id, error));
    const hadWatch = entry.watch !== undefined;
    entry.watch = undefined;
    entry.generation++;
    const failure = this.spawn(entry);
    if (failure) {
      this.end(entry, 'crashed', failure);
      return;
    }
    p.counters.restarts++;
    if (hadWatch) p.subs.watch(entry);
    this.emit('start', {
      sessionId: entry.id,
      logic: entry.logicName,
      durationMs: 0,
      restart: true,
    });
    this.publish(entry, entry.lastSnap);
    this.persist?.changed(entry);
  }
}
