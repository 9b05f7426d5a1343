import {
  type AnyActorLogic,
  type AnyActorRef,
  type ActorSystem,
  type AnyEventObject,
  type EventObject,
  createActor,
  fromTransition,
} from 'xstate';
import { CallTracker, PendingCall } from './CallTracker.js';
import type { Entry } from './Entry.js';
import {
  EventNotAcceptedError,
  RateLimitedError,
  SessionAlreadyStartedError,
  SessionCrashedError,
  SessionEndedError,
  SessionInitFailedError,
  SessionNotFoundError,
  UnknownLogicError,
} from './errors.js';
import { Expiry } from './Expiry.js';
import { Handle } from './Handle.js';
import {
  DEFAULT_LOGIC,
  type ErrorSource,
  type ResolvedOptions,
  resolveOptions,
} from './options.js';
import { Persistence } from './persistence/Persistence.js';
import { linkSystem, unlinkSystem } from './reply.js';
import { RestartPolicy } from './RestartPolicy.js';
import { type Counters, SessionLifecycle } from './SessionLifecycle.js';
import { SessionRegistry } from './SessionRegistry.js';
import { assertSessionId } from './sessionId.js';
import { SubscriberHub } from './SubscriberHub.js';
import { Telemetry } from './telemetry.js';
import type {
  CallOptions,
  ListOptions,
  SessionHandle,
  SessionInfo,
  SessionMessage,
  SessionSnapshot,
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
  installIndexedScheduler,
  installSessionLookup,
  renameActor,
  sessionActorOf,
} from './xstateInternals.js';

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

  readonly #registry: SessionRegistry;
  readonly #calls: CallTracker;
  readonly #subs: SubscriberHub;
  readonly #expiry: Expiry;
  readonly #life: SessionLifecycle;
  readonly #persist: Persistence | undefined;
  readonly #telemetry = new Telemetry();
  readonly #callTimeoutMs: number;
  readonly #onError: ResolvedOptions['onError'];
  readonly #stats: Counters = {
    started: 0,
    ended: { terminated: 0, expired: 0, crashed: 0, shutdown: 0 },
    restarts: 0,
    calls: 0,
    casts: 0,
    refused: 0,
  };
  #closed = false;

  constructor(options: SupervisorOptions) {
    checkXStateInternals();
    const o = resolveOptions(options);
    this.logics = o.logics;
    this.#callTimeoutMs = o.callTimeoutMs;
    this.#onError = o.onError;
    this.#registry = new SessionRegistry(o.registry);
    this.#expiry = new Expiry(o.expiry, (entry, cause) => this.#life.expire(entry, cause));
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
    this.#subs = new SubscriberHub(
      {
        listenerFailed: (err, entry) => this.#report(err, entry.id, 'listener'),
        changed: (entry, snap) => this.#life.changed(entry, snap),
        occupancy: (entry, occupied) => this.#expiry.occupancy(entry, occupied, Date.now()),
      },
      // With a store every change is saved, so every session in memory is watched.
      o.persistence !== undefined,
    );

    // The supervisor is the root actor of the system. Its logic only listens: a session actor's
    // crash or completion reaches it as `xstate.error.actor.<id>` / `xstate.done.actor.<id>`
    // (relayed synchronously by XState), which ends or restarts that session alone. Because the
    // root handles every such event, a child's error never turns into the root's own error, and
    // nothing is rethrown from a timer.
    const root = createActor(
      fromTransition((state: null, event: EventObject) => {
        try {
          this.#life.childEvent(event);
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
    const scheduler = installIndexedScheduler(this.system);
    installSessionLookup(this.system, (id) => this.#registry.get(id)?.actor);
    this.#life = new SessionLifecycle({
      root,
      logics: o.logics,
      runnable: o.runnable,
      registry: this.#registry,
      expiry: this.#expiry,
      subs: this.#subs,
      calls: this.#calls,
      restart: new RestartPolicy(o.restart),
      telemetry: this.#telemetry,
      counters: this.#stats,
      report: (err, id, source) => this.#report(err, id, source),
      closing: () => this.#closed,
    });
    this.#persist = o.persistence
      ? new Persistence(
          {
            ...o.persistence,
            logicVersion: (name) => (this.logics[name] as { version?: string }).version,
          },
          scheduler,
          {
            revive: (record, storedVersion) => this.#life.revive(record, storedVersion),
            resident: (id) => this.#registry.has(id),
            passivate: (entry) => this.#life.leave(entry),
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
              this.#life.leave(entry);
            },
          },
        )
      : undefined;
    this.#life.persist = this.#persist;
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
    this.#registry.checkRotated(id);
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

  /** @internal */
  actorOf(id: string): AnyActorRef | undefined {
    return this.#registry.get(id)?.actor;
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
          this.#life.emit('rate-limited', {
            sessionId: id,
            limit: err.limit,
            intervalMs: err.intervalMs,
            retryAfterMs: err.retryAfterMs,
          });
      },
    );
    this.#life.create(id, logicName, options.input, now);
    return new Handle(this, id);
  }

  // ---- reading ----------------------------------------------------------------------------

  snapshot<TContext = any>(id: string): SessionSnapshot<TContext> {
    return this.#life.plain(this.#entry(id));
  }

  list(options: ListOptions = {}): SessionInfo[] {
    const offset = options.offset ?? 0;
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    const out: SessionInfo[] = [];
    let i = 0;
    for (const entry of this.#registry.values()) {
      if (i++ < offset) continue;
      if (out.length >= limit) break;
      const s = this.#life.plain(entry);
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
    this.#life.seen(entry);
    if (this.#telemetry.active('cast'))
      this.#life.emit('cast', { sessionId: id, eventType: event.type });
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
    const before = entry.actor.getSnapshot();
    this.#calls.send(pending, entry.actor, event);
    if (!entry.ended) this.#life.seen(entry);

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
      const s = this.#life.plain(entry);
      if (until(s)) {
        this.#calls.forget(pending);
        if (measure) this.#emitCall(pending, 'until');
        const gate = this.#persist?.gate(entry);
        return gate ? gate.then(() => s as T) : Promise.resolve(s as T);
      }
    }
    // Unanswered and nothing changed: if the state cannot take the event at all, say so now
    // rather than after a timeout. Asked only here, not before every call: `can()` computes the
    // transition a second time (9-15 % of a call, bench/core).
    if (entry.actor.getSnapshot() === before && !accepts(entry.actor, event)) {
      this.#calls.forget(pending);
      const err = new EventNotAcceptedError(id, event.type);
      if (measure) this.#emitCall(pending, 'error', err.code);
      return Promise.reject(err);
    }
    if (!until) this.#calls.register(pending);
    const timeoutMs = options.timeoutMs ?? this.#callTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      pending.resolve = resolve;
      pending.reject = reject;
      this.#calls.arm(pending, timeoutMs);
    });
  }

  #emitCall(pending: PendingCall, outcome: 'reply' | 'until' | 'error', errorCode?: string): void {
    this.#life.emit('call', {
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
      this.#life.plain(entry),
    );
  }

  // ---- ending -----------------------------------------------------------------------------

  async terminate(id: string): Promise<void> {
    await this.#life.end(await this.#entryAsync(id), 'terminated');
  }

  async shutdown(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Every session is saved before it stops: it comes back in the next process.
    if (this.#persist) await this.#persist.close();
    for (const entry of [...this.#registry.values()]) this.#life.end(entry, 'shutdown');
    this.#expiry.clear();
    this.#calls.clear();
    this.actor.stop();
    unlinkSystem(this.system);
  }

  /**
   * @internal
   * Saves a session and takes it out of memory now, as a quiet period would (a node handing its
   * sessions over, a benchmark). Whether it left.
   */
  async passivate(id: string): Promise<boolean> {
    const entry = this.#registry.get(id);
    if (!entry || !this.#persist) return false;
    await this.#persist.writer.whenSaved(entry);
    if (entry.ended || entry.left || entry.storedVersion < entry.version) return false;
    this.#life.leave(entry);
    return true;
  }

  /**
   * @internal
   * Drops a session from this process's memory without saving, deleting or telling its
   * subscribers (a cluster node that lost the session's lease). Whether it was in memory.
   */
  evict(id: string): boolean {
    const entry = this.#registry.get(id);
    if (!entry) return false;
    this.#life.leave(entry);
    return true;
  }

  // ---- renaming ---------------------------------------------------------------------------

  async rename(id: string, newId: string): Promise<SessionHandle> {
    const entry = await this.#entryAsync(id);
    assertSessionId(newId);
    if (this.#registry.has(newId) || (this.#persist && (await this.#persist.stored(newId))))
      throw new SessionAlreadyStartedError(newId);
    // Another rename of the same ID may have run while this one waited: it won, and the old ID
    // now answers SESSION_ROTATED (or the session ended meanwhile).
    if (this.#registry.get(id) !== entry) {
      this.#entry(id);
      throw new SessionNotFoundError(id);
    }
    if (this.#registry.has(newId)) throw new SessionAlreadyStartedError(newId);
    // The actor keeps running, state and timers untouched; only its names change.
    renameActor(entry.actor, newId);
    this.#registry.rename(entry, newId);
    // Whoever followed the old ID loses it: that is the point of rotating an ID.
    // Its subscribers are gone: the idle countdown starts now, as when the last one leaves (from
    // the first subscriber's arrival, a long-watched session would expire on the spot).
    if (entry.subscribers?.size) entry.lastActiveAt = Date.now();
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

  #report(error: unknown, sessionId: string | undefined, source: ErrorSource): void {
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
