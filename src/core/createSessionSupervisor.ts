import { debuglog } from 'node:util';
import {
  type AnyActorLogic,
  type AnyActorRef,
  type ActorSystem,
  type AnyEventObject,
  type EventObject,
  createActor,
  fromTransition,
} from 'xstate';
import { boundLogic } from './boundLogic.js';
import { CallTracker, PendingCall } from './CallTracker.js';
import { Entry } from './Entry.js';
import {
  EventNotAcceptedError,
  RateLimitedError,
  SessionAlreadyStartedError,
  SessionCrashedError,
  SessionEndedError,
  SessionInitFailedError,
  SessionNotFoundError,
  SessionRestoreFailedError,
  UnknownLogicError,
} from './errors.js';
import { Expiry, type ExpiryCause } from './Expiry.js';
import { Persistence } from './persistence/Persistence.js';
import type { SessionRecord } from './persistence/record.js';
import { Handle } from './Handle.js';
import { linkSystem, unlinkSystem } from './reply.js';
import { RestartPolicy } from './RestartPolicy.js';
import { SessionRegistry } from './SessionRegistry.js';
import { assertSessionId } from './sessionId.js';
import { SubscriberHub } from './SubscriberHub.js';
import { Telemetry } from './telemetry.js';
import type {
  CallOptions,
  EndReason,
  ListOptions,
  SessionHandle,
  SessionInfo,
  SessionMessage,
  SessionSnapshot,
  SessionStatus,
  SessionSupervisor,
  StartOptions,
  SubscribeOptions,
  SupervisorOptions,
  SupervisorStats,
  TelemetryEvents,
  TelemetryName,
} from './types.js';
import {
  checkXStateInternals,
  DONE_ACTOR_PREFIX,
  ERROR_ACTOR_PREFIX,
  installIndexedScheduler,
  type IndexedScheduler,
  renameActor,
  sessionActorOf,
  stopActor,
} from './xstateInternals.js';

const debug = debuglog('session-process');
const DEFAULT_LOGIC = 'default';

/**
 * Creates a session supervisor: the root actor of an XState system whose children are the
 * session actors, one per session ID, with calls, casts, subscriptions, idle expiry, limits and
 * crash isolation. The type of `logic`/`logics` types `call` and `cast`: an event the machines
 * do not know is a compile error.
 *
 * @example
 * ```ts
 * import { createSessionSupervisor } from 'session-process';
 * import { counterMachine } from './machines/counter.js';
 *
 * const sessions = createSessionSupervisor({ logic: counterMachine, idleTimeoutMs: 30 * 60_000 });
 * await sessions.start('s1', { input: { value: 1 } });
 * sessions.cast('s1', { type: 'add_one' });
 * console.log(await sessions.call('s1', { type: 'get_value' })); // 2
 * await sessions.shutdown();
 * ```
 */
export function createSessionSupervisor<
  TLogic extends AnyActorLogic = never,
  TLogics extends Record<string, AnyActorLogic> = {},
>(
  options: SupervisorOptions<TLogic, TLogics> = {} as SupervisorOptions<TLogic, TLogics>,
): SessionSupervisor<EventOfLogics<TLogic, TLogics>> {
  const { cluster, ...local } = options as SupervisorOptions;
  // Many processes: the cluster wraps this process's own supervisor and routes to the others.
  if (cluster) return cluster.createSupervisor(local, (o) => new Supervisor(o)) as any;
  return new Supervisor(local) as any;
}

/** The events of the supervisor's logics (any event when they are untyped or none is given). */
export type EventOfLogics<TLogic, TLogics> = OrAny<
  EventOf<TLogic> | { [K in keyof TLogics]: EventOf<TLogics[K]> }[keyof TLogics]
>;
type OrAny<T> = [T] extends [never] ? AnyEventObject : T;
type EventOf<TLogic> = TLogic extends { transition: (s: any, event: infer E, ...r: any[]) => any }
  ? E extends EventObject
    ? E
    : never
  : never;

class Supervisor implements SessionSupervisor {
  readonly logics: Readonly<Record<string, AnyActorLogic>>;
  readonly actor: AnyActorRef;
  readonly system: ActorSystem<any>;

  /** The logics sessions are created from (bounded copies of state machines). */
  readonly #runnable: Record<string, AnyActorLogic> = {};
  readonly #registry: SessionRegistry;
  readonly #calls: CallTracker;
  readonly #subs: SubscriberHub;
  readonly #expiry: Expiry;
  readonly #restart: RestartPolicy;
  readonly #scheduler: IndexedScheduler;
  readonly #persist: Persistence | undefined;
  readonly #telemetry = new Telemetry();
  readonly #callTimeoutMs: number;
  readonly #onError: NonNullable<SupervisorOptions['onError']>;
  #closed = false;
  readonly #stats = {
    started: 0,
    ended: { terminated: 0, expired: 0, crashed: 0, shutdown: 0 } as Record<EndReason, number>,
    restarts: 0,
    calls: 0,
    casts: 0,
    refused: 0,
  };

  constructor(options: SupervisorOptions) {
    checkXStateInternals();
    const logics: Record<string, AnyActorLogic> = { ...options.logics };
    if (options.logic) logics[DEFAULT_LOGIC] = options.logic;
    this.logics = Object.freeze(logics);
    const maxMicrosteps = positive(options.maxMicrosteps ?? 10_000, 'maxMicrosteps');
    for (const [name, logic] of Object.entries(logics))
      this.#runnable[name] = boundLogic(logic, maxMicrosteps);
    this.#registry = new SessionRegistry({
      maxSessions: positive(options.maxSessions ?? 100_000, 'maxSessions'),
      startRate: options.startRate ?? { limit: 1_000, intervalMs: 1_000 },
      rotatedIdTtlMs: nonNegative(options.rotatedIdTtlMs ?? 30_000, 'rotatedIdTtlMs'),
    });
    this.#callTimeoutMs = positive(options.callTimeoutMs ?? 5_000, 'callTimeoutMs');
    this.#restart = new RestartPolicy(options.restart);
    this.#onError =
      options.onError ??
      ((error, info) => {
        console.error(
          `[session-process] ${info.source} in session ${info.sessionId ?? '-'}:`,
          error,
        );
      });
    this.#expiry = new Expiry(
      {
        idleTimeoutMs: nonNegative(options.idleTimeoutMs ?? 30 * 60_000, 'idleTimeoutMs'),
        maxLifetimeMs:
          options.maxLifetimeMs === undefined
            ? undefined
            : positive(options.maxLifetimeMs, 'maxLifetimeMs'),
        subscribersKeepAlive: options.subscribersKeepAlive ?? true,
      },
      (entry, cause) => this.#expire(entry, cause),
    );
    this.#calls = new CallTracker({
      ownedBy: (from, entry) => sessionActorOf(from, this.actor) === entry.actor,
      gate: (pending) => this.#persist?.gate(pending.entry),
      settled: (pending, failed, result) => {
        if (this.#telemetry.active('call'))
          this.#emitCall(
            pending,
            failed ? 'error' : pending.replied ? 'reply' : 'until',
            failed ? (result as { code?: string }).code : undefined,
          );
      },
      untilDone: (entry) => this.#subs.unwatchIfIdle(entry),
    });
    const store = options.store;
    if (options.passivateAfterMs !== undefined && !store)
      throw new TypeError('passivateAfterMs needs a store (the sessions it passivates live there)');
    this.#subs = new SubscriberHub(
      {
        listenerFailed: (err, entry) => this.#report(err, entry.id, 'listener'),
        changed: (entry, snap: any) => {
          if (snap === entry.lastSnap || snap.status !== 'active') return;
          this.#publish(entry, snap);
          this.#persist?.changed(entry);
        },
        occupancy: (entry, occupied) => this.#expiry.occupancy(entry, occupied, Date.now()),
      },
      // With a store every change is saved, so every session in memory is watched.
      store !== undefined,
    );

    // The supervisor is the root actor of the system. Its logic only listens: a session actor's
    // crash or completion reaches it as `xstate.error.actor.<id>` / `xstate.done.actor.<id>`
    // (relayed synchronously by XState), which ends or restarts that session alone. Because the
    // root handles every such event, a child's error never turns into the root's own error, and
    // nothing is rethrown from a timer.
    const root = createActor(
      fromTransition((state: null, event: EventObject) => {
        try {
          this.#onChildEvent(event);
        } catch (err) {
          this.#report(err, undefined, 'crash');
        }
        return state;
      }, null),
      {
        id: 'session-process',
        ...(options.clock ? { clock: options.clock } : {}),
        ...(options.inspect ? { inspect: options.inspect } : {}),
      },
    );
    this.actor = root;
    this.system = root.system;
    this.#scheduler = installIndexedScheduler(this.system);
    this.#persist = store
      ? new Persistence(
          {
            store,
            durability: options.durability ?? 'eventual',
            passivateAfterMs:
              options.passivateAfterMs === undefined
                ? undefined
                : positive(options.passivateAfterMs, 'passivateAfterMs'),
            migrate: options.migrate,
            wakeIntervalMs: positive(options.wakeIntervalMs ?? 1_000, 'wakeIntervalMs'),
            logicVersion: (name) => (this.logics[name] as { version?: string }).version,
          },
          this.#scheduler,
          {
            revive: (record, storedVersion) => this.#revive(record, storedVersion),
            resident: (id) => this.#registry.has(id),
            passivate: (entry) => this.#leave(entry),
            deadlineOf: (entry) => this.#expiry.deadlineOf(entry),
            report: (err, id) => this.#report(err, id, 'store'),
            conflict: (entry) => {
              // Someone else wrote this session (another node took it over): stop running it
              // here rather than fork it.
              this.#report(
                new Error(`session ${entry.id} was written elsewhere; leaving it`),
                entry.id,
                'store',
              );
              this.evict(entry.id);
            },
          },
        )
      : undefined;
    linkSystem(this.system, {
      root,
      replyTo: (callId, value, from) => this.#calls.replyTo(callId, value, from),
    });
    root.start();
  }

  get count(): number {
    return this.#registry.size;
  }

  // ---- starting ---------------------------------------------------------------------------

  async start<TContext = any>(
    id: string,
    options: StartOptions = {},
  ): Promise<SessionHandle<TContext>> {
    if (this.#persist && !this.#registry.has(id)) {
      assertSessionId(id);
      if (await this.#persist.stored(id)) throw new SessionAlreadyStartedError(id);
    }
    return this.#start(id, options);
  }

  async ensure<TContext = any>(
    id: string,
    options: StartOptions = {},
  ): Promise<SessionHandle<TContext>> {
    assertSessionId(id);
    if (this.#registry.has(id)) return new Handle(this, id);
    if (this.#persist && ((await this.#persist.restore(id)) || this.#registry.has(id)))
      return new Handle(this, id);
    return this.#start(id, options);
  }

  async restore(id: string): Promise<boolean> {
    assertSessionId(id);
    if (this.#registry.has(id)) return true;
    if (!this.#persist) return false;
    return (await this.#persist.restore(id)) !== undefined || this.#registry.has(id);
  }

  started(id: string): boolean {
    if (typeof id !== 'string') return false;
    return this.#registry.has(id) || this.#persist?.storedSync(id) === true;
  }

  get<TContext = any>(id: string): SessionHandle<TContext> | undefined {
    return this.#registry.has(id) ? new Handle(this, id) : undefined;
  }

  logicOf(id: string): AnyActorLogic | undefined {
    const entry = this.#registry.get(id);
    return entry && this.logics[entry.logicName];
  }

  /** @internal */
  logicNameOf(id: string): string | undefined {
    return this.#registry.get(id)?.logicName;
  }

  #start(id: string, options: StartOptions): Handle {
    assertSessionId(id);
    if (this.#closed) throw new SessionInitFailedError(id, 'the supervisor is shut down');
    const logicName = options.logic ?? DEFAULT_LOGIC;
    if (!this.logics[logicName]) {
      if (this.#registry.has(id)) throw new SessionAlreadyStartedError(id);
      throw new UnknownLogicError(options.logic, Object.keys(this.logics));
    }
    const now = Date.now();
    this.#registry.admit(
      id,
      now,
      () => this.#expiry.nextIdleDeadline,
      (err) => {
        this.#stats.refused++;
        if (err instanceof RateLimitedError)
          this.#emit('rate-limited', {
            sessionId: id,
            limit: err.limit,
            intervalMs: err.intervalMs,
            retryAfterMs: err.retryAfterMs,
          });
      },
    );
    const t0 = this.#telemetry.active('start') ? performance.now() : 0;
    const entry = new Entry(id, logicName, options.input, now);
    this.#registry.add(entry);
    const failure = this.#spawn(entry);
    if (failure !== undefined) {
      this.#registry.remove(entry);
      throw failure;
    }
    this.#expiry.begin(entry);
    if (this.#persist) {
      this.#subs.watch(entry);
      this.#persist.active(entry, now);
      this.#persist.changed(entry);
    }
    this.#stats.started++;
    if (t0)
      this.#emit('start', {
        sessionId: id,
        logic: logicName,
        durationMs: performance.now() - t0,
        restart: false,
      });
    return new Handle(this, id);
  }

  /** Brings a stored session back into memory, as it was (throws SESSION_RESTORE_FAILED). */
  #revive(record: SessionRecord, storedVersion: number): Entry {
    const id = record.id;
    if (!this.#runnable[record.logic])
      throw new SessionRestoreFailedError(
        id,
        new UnknownLogicError(record.logic, Object.keys(this.logics)),
      );
    const t0 = this.#telemetry.active('start') ? performance.now() : 0;
    const entry = new Entry(id, record.logic, record.input, record.startedAt);
    entry.lastActiveAt = record.lastActiveAt;
    entry.version = record.version;
    entry.storedVersion = storedVersion;
    const failure = this.#spawn(entry, record.snapshot);
    if (failure) throw new SessionRestoreFailedError(id, failure.cause ?? failure);
    this.#persist!.rearm(entry, record);
    this.#registry.add(entry);
    this.#expiry.begin(entry);
    this.#subs.watch(entry);
    this.#persist!.active(entry, Date.now());
    if (t0)
      this.#emit('start', {
        sessionId: id,
        logic: record.logic,
        durationMs: performance.now() - t0,
        restart: false,
        restored: true,
      });
    return entry;
  }

  /** Creates and starts the entry's actor; returns the error to throw when it failed to start. */
  #spawn(entry: Entry, snapshot?: unknown): SessionInitFailedError | undefined {
    entry.starting = true;
    let actor: AnyActorRef;
    try {
      actor = createActor(this.#runnable[entry.logicName]!, {
        parent: this.actor,
        id: entry.id,
        systemId: entry.id,
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

  // ---- reading ----------------------------------------------------------------------------

  snapshot<TContext = any>(id: string): SessionSnapshot<TContext> {
    return this.#plain(this.#entry(id));
  }

  #plain(entry: Entry): SessionSnapshot {
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

  list(options: ListOptions = {}): SessionInfo[] {
    const offset = options.offset ?? 0;
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    const out: SessionInfo[] = [];
    let i = 0;
    for (const entry of this.#registry.values()) {
      if (i++ < offset) continue;
      if (out.length >= limit) break;
      const s = this.#plain(entry);
      out.push({
        id: entry.id,
        logic: entry.logicName,
        startedAt: entry.startedAt,
        lastActiveAt: entry.lastActiveAt,
        value: s.value,
        status: s.status,
        version: s.version,
        subscribers: entry.subscribers?.size ?? 0,
      });
    }
    return out;
  }

  stats(): SupervisorStats {
    const byLogic: Record<string, number> = {};
    for (const entry of this.#registry.values())
      byLogic[entry.logicName] = (byLogic[entry.logicName] ?? 0) + 1;
    return {
      total: this.#registry.size,
      byLogic,
      started: this.#stats.started,
      ended: { ...this.#stats.ended },
      restarts: this.#stats.restarts,
      pendingCalls: this.#calls.size,
      subscribers: this.#subs.size,
      calls: this.#stats.calls,
      casts: this.#stats.casts,
      refused: this.#stats.refused,
      ...(this.#persist
        ? {
            store: {
              passivated: this.#persist.passivated,
              restored: this.#persist.restored,
              backlog: this.#persist.writer.backlog,
            },
          }
        : {}),
    };
  }

  // ---- activity, cast and call ------------------------------------------------------------

  touch(id: string): boolean {
    let entry = this.#registry.get(id);
    if (!entry && this.#persist && isValidId(id)) {
      try {
        entry = this.#persist.restoreSync(id);
      } catch (err) {
        this.#report(err, id, 'store');
      }
    }
    if (!entry) return false;
    this.#active(entry);
    return true;
  }

  #active(entry: Entry): void {
    const now = Date.now();
    this.#expiry.activity(entry, now);
    this.#persist?.active(entry, now);
  }

  cast(id: string, event: EventObject): void {
    const entry = this.#entry(id);
    if (!isEventObject(event)) throw notAnEvent(id);
    this.#stats.casts++;
    this.#active(entry);
    entry.actor.send(event);
    if (this.#telemetry.active('cast'))
      this.#emit('cast', { sessionId: id, eventType: event.type });
  }

  call<T = unknown>(id: string, event: EventObject, options: CallOptions = {}): Promise<T> {
    let entry = this.#registry.get(id);
    if (entry === undefined || !isEventObject(event)) {
      try {
        if (entry === undefined) {
          if (this.#persist && isValidId(id) && !this.#persist.store.loadSync) {
            // A stored session comes back first; then the call goes on as usual.
            return this.#persist
              .restore(id)
              .then(() =>
                this.#registry.has(id)
                  ? this.call<T>(id, event, options)
                  : (this.#entry(id) as never),
              );
          }
          entry = this.#entry(id);
        }
        if (!isEventObject(event)) throw notAnEvent(id);
      } catch (err) {
        return Promise.reject(err);
      }
    }
    this.#stats.calls++;
    this.#active(entry);
    const measure = this.#telemetry.active('call');
    const pending = new PendingCall(
      this.#calls,
      entry,
      event.type,
      measure ? performance.now() : 0,
    );
    // Refuse at once what the current state cannot take, rather than after a timeout. A guard
    // that throws here throws again in the step itself, where it crashes the session and
    // rejects this call like any other crash: so it is sent.
    if (!accepts(entry.actor, event)) {
      const err = new EventNotAcceptedError(id, event.type);
      if (measure) this.#emitCall(pending, 'error', err.code);
      return Promise.reject(err);
    }
    const until = options.until as PendingCall['until'];
    // An `until` call watches snapshots from the first step on, so it is registered up front. A
    // plain call is registered only if the step does not answer it: the common same-step reply
    // costs no map, queue or timer at all.
    if (until) {
      pending.until = until;
      this.#calls.register(pending);
      this.#subs.watch(entry);
    }
    const generation = entry.generation;
    this.#calls.send(pending, entry.actor, event);

    if (pending.settled) return pending.result as Promise<T>;
    if (entry.ended || entry.generation !== generation) {
      // The step crashed the session (restarted or not) or ended it.
      const err =
        entry.generation !== generation || entry.ended === 'crashed'
          ? new SessionCrashedError(id, entry.fault)
          : new SessionEndedError(id, entry.ended!);
      this.#calls.forget(pending);
      if (measure) this.#emitCall(pending, 'error', err.code);
      return Promise.reject(err);
    }
    if (pending.replied) {
      this.#calls.forget(pending);
      if (measure) this.#emitCall(pending, 'reply');
      const gate = this.#persist?.gate(entry);
      const result = pending.result as T;
      return gate ? gate.then(() => result) : Promise.resolve(result);
    }
    if (until) {
      const s = this.#plain(entry);
      if (until(s)) {
        this.#calls.forget(pending);
        if (measure) this.#emitCall(pending, 'until');
        const gate = this.#persist?.gate(entry);
        return gate ? gate.then(() => s as T) : Promise.resolve(s as T);
      }
    } else {
      this.#calls.register(pending);
    }
    const timeoutMs = options.timeoutMs ?? this.#callTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      pending.resolve = resolve;
      pending.reject = reject;
      this.#calls.arm(pending, timeoutMs);
    });
  }

  #emitCall(pending: PendingCall, outcome: 'reply' | 'until' | 'error', errorCode?: string): void {
    this.#emit('call', {
      sessionId: pending.entry.id,
      eventType: pending.eventType,
      durationMs: performance.now() - pending.startedAt,
      outcome,
      ...(errorCode ? { errorCode } : {}),
    });
  }

  // ---- subscriptions ----------------------------------------------------------------------

  subscribe<TContext = any, TSelected = unknown>(
    id: string,
    listener: (message: SessionMessage<TContext, TSelected>) => void,
    options: SubscribeOptions<TContext, TSelected> = {},
  ): () => void {
    const entry = this.#entry(id);
    if (typeof listener !== 'function')
      throw new TypeError('subscribe(id, listener): listener must be a function');
    return this.#subs.add(entry, listener as (m: SessionMessage) => void, options, () =>
      this.#plain(entry),
    );
  }

  /** Counts a new snapshot and hands it to `until` calls and subscribers. */
  #publish(entry: Entry, snap: unknown): void {
    entry.lastSnap = snap;
    entry.version++;
    const s = snap as { value: unknown; context: unknown };
    const plain: SessionSnapshot = {
      value: s.value,
      context: s.context,
      status: 'active',
      version: entry.version,
    };
    this.#calls.checkUntil(entry, plain);
    this.#subs.publish(entry, plain);
  }

  // ---- ending -----------------------------------------------------------------------------

  async terminate(id: string): Promise<void> {
    await this.#end(await this.#entryAsync(id), 'terminated');
  }

  async shutdown(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Every session is saved before it stops: it comes back in the next process.
    if (this.#persist) await this.#persist.close();
    for (const entry of [...this.#registry.values()]) this.#end(entry, 'shutdown');
    this.#expiry.clear();
    this.#calls.clear();
    this.actor.stop();
    unlinkSystem(this.system);
  }

  #expire(entry: Entry, cause: ExpiryCause): void {
    this.#emit('expire', {
      sessionId: entry.id,
      logic: entry.logicName,
      idleMs: Date.now() - entry.lastActiveAt,
      cause,
    });
    this.#end(entry, 'expired');
  }

  /** Ends a session for good; resolves when its record is deleted (with a store). */
  #end(entry: Entry, reason: EndReason, error?: unknown): Promise<void> | undefined {
    if (entry.ended) return undefined;
    entry.ended = reason;
    if (error !== undefined) entry.fault = error;
    this.#registry.remove(entry);
    this.#expiry.remove(entry);
    this.#subs.unwatch(entry);
    let deleted: Promise<void> | undefined;
    if (this.#persist) {
      this.#persist.forget(entry);
      this.#persist.writer.drop(entry, () => new SessionEndedError(entry.id, reason));
      // Ended is gone; shut down is kept for the next process.
      if (reason !== 'shutdown') deleted = this.#persist.writer.delete(entry.id);
    }
    // Costs O(this session's own timers): see installIndexedScheduler.
    if (entry.actor.getSnapshot().status === 'active') stopActor(entry.actor);
    this.#calls.failAll(entry, () =>
      reason === 'crashed'
        ? new SessionCrashedError(entry.id, error)
        : new SessionEndedError(entry.id, reason),
    );
    this.#subs.ended(entry, reason, error);
    this.#stats.ended[reason]++;
    this.#emit('stop', {
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
  #leave(entry: Entry): void {
    if (entry.ended || entry.left) return;
    entry.left = true;
    this.#registry.remove(entry);
    this.#expiry.remove(entry);
    this.#subs.unwatch(entry);
    this.#persist?.forget(entry);
    this.#persist?.writer.drop(entry, () => new SessionEndedError(entry.id, 'moved'));
    if (entry.actor.getSnapshot().status === 'active') stopActor(entry.actor);
    this.#calls.failAll(entry, () => new SessionEndedError(entry.id, 'moved'));
    debug('session %s left memory', entry.id);
  }

  /**
   * @internal
   * Drops a session from this process's memory without saving, deleting or telling its
   * subscribers (a cluster node that lost the session's lease). Whether it was in memory.
   */
  evict(id: string): boolean {
    const entry = this.#registry.get(id);
    if (!entry) return false;
    this.#leave(entry);
    return true;
  }

  #onChildEvent(event: EventObject): void {
    const type = event.type;
    const isError = type.startsWith(ERROR_ACTOR_PREFIX);
    if (!isError && !type.startsWith(DONE_ACTOR_PREFIX)) return;
    const id: string =
      (event as { actorId?: string }).actorId ??
      type.slice((isError ? ERROR_ACTOR_PREFIX : DONE_ACTOR_PREFIX).length);
    const entry = this.#registry.get(id);
    if (!entry || entry.starting || entry.ended) return;
    if (!isError) {
      // The session's machine reached a top-level final state: the session is over.
      this.#end(entry, 'terminated');
      return;
    }
    this.#crash(entry, (event as { error?: unknown }).error);
  }

  #crash(entry: Entry, error: unknown): void {
    const restarting = !this.#closed && this.#restart.crashed(entry, Date.now());
    entry.fault = error;
    this.#emit('crash', { sessionId: entry.id, logic: entry.logicName, error, restarting });
    this.#report(error, entry.id, 'crash');
    if (!restarting) {
      this.#end(entry, 'crashed', error);
      return;
    }
    // Restart this session alone, from its initial state, with the same ID, logic and input.
    this.#calls.failAll(entry, () => new SessionCrashedError(entry.id, error));
    const hadWatch = entry.watch !== undefined;
    entry.watch = undefined;
    entry.generation++;
    const failure = this.#spawn(entry);
    if (failure) {
      this.#end(entry, 'crashed', failure);
      return;
    }
    this.#stats.restarts++;
    if (hadWatch) this.#subs.watch(entry);
    this.#emit('start', {
      sessionId: entry.id,
      logic: entry.logicName,
      durationMs: 0,
      restart: true,
    });
    this.#publish(entry, entry.lastSnap);
  }

  // ---- renaming ---------------------------------------------------------------------------

  async rename(id: string, newId: string): Promise<SessionHandle> {
    const entry = await this.#entryAsync(id);
    assertSessionId(newId);
    if (this.#registry.has(newId) || (this.#persist && (await this.#persist.stored(newId))))
      throw new SessionAlreadyStartedError(newId);
    // The actor keeps running, state and timers untouched; only its names change.
    renameActor(this.system, entry.actor, newId);
    this.#registry.rename(entry, newId);
    // Whoever followed the old ID loses it: that is the point of rotating an ID.
    this.#subs.ended(entry, 'rotated');
    this.#expiry.rearm(entry);
    this.#subs.unwatchIfIdle(entry);
    if (this.#persist) {
      // The record moves too: the new ID's is written fresh, the old one's deleted after it.
      entry.storedVersion = 0;
      this.#persist.changed(entry);
      await this.#persist.writer.delete(id);
    }
    return new Handle(this, newId);
  }

  // ---- telemetry and helpers --------------------------------------------------------------

  on<TName extends TelemetryName>(
    name: TName,
    listener: (event: TelemetryEvents[TName]) => void,
  ): () => void {
    return this.#telemetry.on(name, listener);
  }

  #emit<TName extends TelemetryName>(name: TName, event: TelemetryEvents[TName]): void {
    this.#telemetry.emit(name, event, (err) => this.#report(err, undefined, 'listener'));
  }

  #report(
    error: unknown,
    sessionId: string | undefined,
    source: 'crash' | 'listener' | 'store',
  ): void {
    try {
      this.#onError(error, sessionId === undefined ? { source } : { sessionId, source });
    } catch {
      // an onError hook that throws has nowhere left to report to
    }
  }

  /** The session in memory, or restored synchronously from the store; else throws. */
  #entry(id: string): Entry {
    const entry = this.#registry.get(id);
    if (entry) return entry;
    assertSessionId(id);
    this.#registry.checkRotated(id);
    const restored = this.#persist?.restoreSync(id);
    if (restored) return restored;
    throw new SessionNotFoundError(id);
  }

  /** The session in memory, or restored from the store; else throws. */
  async #entryAsync(id: string): Promise<Entry> {
    const entry = this.#registry.get(id);
    if (entry) return entry;
    assertSessionId(id);
    this.#registry.checkRotated(id);
    if (this.#persist) await this.#persist.restore(id);
    return this.#entry(id);
  }
}

function isValidId(id: unknown): id is string {
  return typeof id === 'string' && /^[A-Za-z0-9_-]{1,128}$/.test(id);
}

function isEventObject(event: unknown): event is EventObject {
  return (
    typeof event === 'object' && event !== null && typeof (event as EventObject).type === 'string'
  );
}

function notAnEvent(id: string): EventNotAcceptedError {
  return new EventNotAcceptedError(
    id,
    undefined,
    'An event must be an object with a string `type`',
  );
}

/** Whether the actor's current state takes the event (true when it cannot tell, or a guard throws). */
function accepts(actor: AnyActorRef, event: EventObject): boolean {
  const snap = actor.getSnapshot() as { can?: (e: EventObject) => boolean };
  if (typeof snap.can !== 'function') return true;
  try {
    return snap.can(event);
  } catch {
    return true;
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function positive(n: number, name: string): number {
  if (typeof n !== 'number' || !(n > 0))
    throw new RangeError(`${name} must be a positive number, got ${String(n)}`);
  return n;
}

function nonNegative(n: number, name: string): number {
  if (typeof n !== 'number' || !(n >= 0))
    throw new RangeError(`${name} must be a number >= 0, got ${String(n)}`);
  return n;
}
