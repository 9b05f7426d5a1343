import {
  type AnyActorLogic,
  type AnyActorRef,
  type ActorSystem,
  type EventObject,
  createActor,
  fromTransition,
} from 'xstate';
import { CallTracker } from './CallTracker.js';
import { drainSessions, passivateSession } from './drainSessions.js';
import {
  SessionAlreadyStartedError,
  SessionInitFailedError,
  SessionNotFoundError,
  UnknownLogicError,
} from './errors.js';
import { isEventObject, notAnEvent } from './eventObject.js';
import { Expiry } from './Expiry.js';
import { Handle } from './Handle.js';
import {
  DEFAULT_LOGIC,
  type ErrorSource,
  type ResolvedOptions,
  resolveOptions,
} from './options.js';
import type { Persistence } from './persistence/Persistence.js';
import { linkSystem, unlinkSystem } from './reply.js';
import { RestartPolicy } from './RestartPolicy.js';
import { type Counters, newCounters } from './LifecycleParts.js';
import { SessionLifecycle } from './SessionLifecycle.js';
import { SessionLookup } from './SessionLookup.js';
import { SessionRegistry } from './SessionRegistry.js';
import { assertSessionId } from './sessionId.js';
import type { QuarantinedSession } from './store/SessionStore.js';
import { SubscriberHub } from './SubscriberHub.js';
import { type StatsParts, supervisorStats, versionCounts } from './supervisorStats.js';
import { Telemetry } from './telemetry.js';
import type {
  CallOptions,
  ListOptions,
  SessionHandle,
  SessionInfo,
  SessionMessage,
  SessionPage,
  SessionPresence,
  SessionSnapshot,
  SessionSupervisor,
  SessionVersionCount,
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
  sessionActorOf,
} from './xstateInternals.js';

/**
 * @internal
 * The supervisor of one process: the public methods, wiring the session lifecycle, the call
 * tracker, subscribers, expiry, the registry and persistence together (see
 * {@link createSessionSupervisor}, which builds it).
 */
export class Supervisor implements SessionSupervisor {
  readonly logics: Readonly<Record<string, AnyActorLogic>>;
  readonly actor: AnyActorRef;
  readonly system: ActorSystem<any>;

  readonly #registry: SessionRegistry;
  readonly #calls: CallTracker;
  readonly #subs: SubscriberHub;
  readonly #expiry: Expiry;
  readonly #life: SessionLifecycle;
  readonly #persist: Persistence | undefined;
  readonly #lookup: SessionLookup;
  readonly #telemetry = new Telemetry();
  readonly #callTimeoutMs: number;
  readonly #shutdownTimeoutMs: number;
  readonly #onError: ResolvedOptions['onError'];
  readonly #stats: Counters = newCounters();
  #closed = false;

  constructor(options: SupervisorOptions) {
    checkXStateInternals();
    const o = resolveOptions(options);
    this.logics = o.logics;
    this.#callTimeoutMs = o.callTimeoutMs;
    this.#shutdownTimeoutMs = o.shutdownTimeoutMs;
    this.#onError = o.onError;
    this.#registry = new SessionRegistry(o.registry);
    this.#expiry = new Expiry(o.expiry, (entry, cause) => this.#life.expire(entry, cause));
    this.#calls = new CallTracker(
      {
        ownedBy: (from, entry) => sessionActorOf(from, this.actor) === entry.actor,
        gate: (entry) => this.#persist?.gate(entry),
        outcome: (pending, outcome, errorCode) =>
          this.#life.emit('call', {
            sessionId: pending.entry.id,
            eventType: pending.eventType,
            durationMs: performance.now() - pending.startedAt,
            outcome,
            ...(errorCode ? { errorCode } : {}),
          }),
        measuring: () => this.#telemetry.active('call'),
        untilDone: (entry) => this.#subs.unwatchIfIdle(entry),
        watch: (entry) => this.#subs.watch(entry),
        seen: (entry) => this.#life.seen(entry),
        plain: (entry) => this.#life.plain(entry),
      },
      o.callTimeoutMs,
    );
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
    this.#persist = o.persistence && this.#life.attachStore(o.persistence, scheduler);
    this.#lookup = new SessionLookup(this.#registry, this.#persist);
    linkSystem(this.system, {
      root,
      replyTo: (callId, value, from) => this.#calls.replyTo(callId, value, from),
      refused: (session, event, error) => {
        // A cast (or a timer's event) has nobody waiting: the refusal is reported.
        if (!CallTracker.refuse(event, error)) this.#report(error, session.id, 'refused');
      },
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
      await this.#persist.countStored();
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
    if (this.#persist) {
      await this.#persist.countStored();
      if (this.#registry.has(id)) return new Handle(this, id);
    }
    return this.#start(id, options);
  }

  async restore(id: string): Promise<boolean> {
    return this.#lookup.restore(id);
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
    this.#life.admitAndCreate(id, logicName, options.input);
    return new Handle(this, id);
  }

  // ---- reading ----------------------------------------------------------------------------

  snapshot<TContext = any>(id: string): SessionSnapshot<TContext> {
    return this.#life.plain(this.#lookup.entry(id));
  }

  async read<TContext = any>(id: string): Promise<SessionSnapshot<TContext>> {
    return this.#life.plain(await this.#lookup.entryAsync(id));
  }

  async status(id: string): Promise<SessionPresence> {
    return this.#lookup.status(id);
  }

  async listAll(options: ListOptions = {}): Promise<SessionPage> {
    return { total: this.#registry.size, rows: this.list(options) };
  }

  list(options: ListOptions = {}): SessionInfo[] {
    return this.#registry.page(options.offset, options.limit).map((e) => this.#life.info(e));
  }

  stats(): SupervisorStats {
    return supervisorStats(this.#statsParts());
  }

  async versions(): Promise<SessionVersionCount[]> {
    return versionCounts(this.#statsParts());
  }

  #statsParts(): StatsParts {
    return {
      logics: this.logics,
      registry: this.#registry,
      calls: this.#calls,
      subs: this.#subs,
      counters: this.#stats,
      persist: this.#persist,
    };
  }

  // ---- activity, cast and call ------------------------------------------------------------

  touch(id: string): boolean {
    const entry = this.#lookup.entryQuietly(id, (err) => this.#report(err, id, 'store'));
    if (!entry) return false;
    this.#life.active(entry);
    return true;
  }

  touchResident(id: string): boolean {
    const entry = this.#registry.get(id);
    if (entry !== undefined) this.#life.active(entry);
    return entry !== undefined;
  }

  cast(id: string, event: EventObject): void {
    const entry = this.#lookup.entry(id);
    if (!isEventObject(event)) throw notAnEvent(id);
    this.#stats.casts++;
    this.#life.active(entry);
    entry.actor.send(event);
    this.#life.seen(entry);
    if (this.#telemetry.active('cast'))
      this.#life.emit('cast', { sessionId: id, eventType: event.type });
  }

  call<T = unknown>(id: string, event: EventObject, options: CallOptions = {}): Promise<T> {
    const entry = this.#registry.get(id);
    // Not in memory: a stored session comes back first (or the lookup says why not).
    if (entry === undefined)
      return this.#lookup.entryAsync(id).then(() => this.call<T>(id, event, options));
    if (!isEventObject(event)) return Promise.reject(notAnEvent(id));
    this.#stats.calls++;
    this.#life.active(entry);
    return this.#calls.call<T>(entry, event, options, this.#telemetry.active('call'));
  }

  // ---- subscriptions ----------------------------------------------------------------------

  subscribe<TContext = any, TSelected = unknown>(
    id: string,
    listener: (message: SessionMessage<TContext, TSelected>) => void,
    options: SubscribeOptions<TContext, TSelected> = {},
  ): () => void {
    const entry = this.#lookup.entry(id);
    if (typeof listener !== 'function')
      throw new TypeError('subscribe(id, listener): listener must be a function');
    return this.#subs.add(entry, listener as (m: SessionMessage) => void, options, () =>
      this.#life.plain(entry),
    );
  }

  // ---- ending -----------------------------------------------------------------------------

  async terminate(id: string): Promise<void> {
    await this.#life.end(await this.#lookup.entryAsync(id), 'terminated');
  }

  async quarantined(): Promise<QuarantinedSession[]> {
    if (!this.#persist) return [];
    return this.#persist.quarantined(MAX_QUARANTINED_LISTED);
  }

  async forget(id: string): Promise<void> {
    assertSessionId(id);
    const entry = this.#registry.get(id);
    // A running session ends as a terminated one does (its subscribers get `ended`).
    if (entry) await this.#life.end(entry, 'terminated');
    await this.#persist?.erase(id);
  }

  async shutdown(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Every session is saved before it stops: it comes back in the next process.
    const timeoutMs = this.#shutdownTimeoutMs;
    if (this.#persist) await this.#persist.close(Date.now() + timeoutMs, timeoutMs);
    for (const entry of [...this.#registry.values()]) this.#life.end(entry, 'shutdown');
    this.#expiry.clear();
    this.#calls.clear();
    this.actor.stop();
    unlinkSystem(this.system);
  }

  async drain(options: { timeoutMs?: number } = {}): Promise<number> {
    if (!this.#persist) return 0;
    return drainSessions(
      this.#registry.values(),
      this.#persist,
      this.#life,
      options.timeoutMs ?? 5_000,
    );
  }

  /**
   * @internal
   * Saves a session and takes it out of memory now, as a quiet period would (a node handing its
   * sessions over, a benchmark). Whether it left.
   */
  async passivate(id: string): Promise<boolean> {
    return passivateSession(this.#registry.get(id), this.#persist, this.#life);
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
    const entry = await this.#lookup.entryAsync(id);
    assertSessionId(newId);
    if (this.#registry.has(newId) || (this.#persist && (await this.#persist.stored(newId))))
      throw new SessionAlreadyStartedError(newId);
    // Another rename of the same ID may have run while this one waited: it won, and the old ID
    // now answers SESSION_ROTATED (or the session ended meanwhile).
    if (this.#registry.get(id) !== entry) {
      this.#lookup.entry(id);
      throw new SessionNotFoundError(id);
    }
    if (this.#registry.has(newId)) throw new SessionAlreadyStartedError(newId);
    await this.#life.rename(entry, newId);
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
}

/** The most rows `quarantined()` answers with (the oldest first). */
const MAX_QUARANTINED_LISTED = 10_000;
