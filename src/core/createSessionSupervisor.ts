import { debuglog } from 'node:util';
import {
  type AnyActorLogic,
  type AnyActorRef,
  type ActorSystem,
  type EventObject,
  createActor,
  fromTransition,
} from 'xstate';
import { DeadlineQueue } from './DeadlineQueue.js';
import { Entry, type PendingCall, type Subscriber } from './Entry.js';
import {
  CallTimeoutError,
  EventNotAcceptedError,
  RateLimitedError,
  SessionAlreadyStartedError,
  SessionCrashedError,
  SessionEndedError,
  SessionInitFailedError,
  SessionLimitReachedError,
  SessionNotFoundError,
  SessionRotatedError,
  UnknownLogicError,
} from './errors.js';
import { linkSystem, unlinkSystem } from './reply.js';
import { assertSessionId } from './sessionId.js';
import { Handle } from './Handle.js';
import { StartRateLimiter } from './StartRateLimiter.js';
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

const debug = debuglog('session-process');
const DEFAULT_LOGIC = 'default';

/**
 * The XState internals this file relies on, in one place. A session actor is created with
 * `createActor(logic, { parent: root })` rather than spawned, so the root's snapshot never holds
 * it (spawning copies the whole `children` object: quadratic, see DESIGN.md); such an actor can
 * only be stopped through `_stop()` (`stop()` refuses non-root actors), and renaming one means
 * re-registering it in the system by hand.
 */
interface ActorInternals {
  id: string;
  sessionId: string;
  _parent?: AnyActorRef;
  _stop(): void;
  _actorScope: { id: string };
}
interface SystemInternals {
  _register(sessionId: string, actor: AnyActorRef): void;
  _unregister(actor: AnyActorRef): void;
  _set(systemId: string, actor: AnyActorRef): void;
}

function isEventObject(event: unknown): event is EventObject {
  return (
    typeof event === 'object' && event !== null && typeof (event as EventObject).type === 'string'
  );
}

function statusOf(snap: any): SessionStatus {
  return (snap?.status ?? 'active') as SessionStatus;
}

/**
 * Creates a session supervisor: the root actor of an XState system whose children are the
 * session actors, one per session ID, with calls, casts, subscriptions, idle expiry, limits and
 * crash isolation.
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
export function createSessionSupervisor(options: SupervisorOptions = {}): SessionSupervisor {
  const { cluster, ...local } = options;
  // Many processes: the cluster wraps this process's own supervisor and routes to the others.
  if (cluster) return cluster.createSupervisor(local, (o) => new Supervisor(o));
  return new Supervisor(local);
}

class Supervisor implements SessionSupervisor {
  readonly logics: Readonly<Record<string, AnyActorLogic>>;
  readonly actor: AnyActorRef;
  readonly system: ActorSystem<any>;

  readonly #sessions = new Map<string, Entry>();
  readonly #pending = new Map<string, PendingCall>();
  /** The call whose event is being processed right now (its reply needs no lookup). */
  #sending: PendingCall | undefined;
  readonly #telemetry = new Telemetry();
  readonly #idle: DeadlineQueue<Entry>;
  readonly #lifetime: DeadlineQueue<Entry>;
  readonly #rate: StartRateLimiter | undefined;
  readonly #maxSessions: number;
  readonly #idleTimeoutMs: number;
  readonly #maxLifetimeMs: number | undefined;
  readonly #callTimeoutMs: number;
  readonly #restart: { onCrash: boolean; maxRestarts: number; withinMs: number };
  readonly #subscribersKeepAlive: boolean;
  readonly #onError: NonNullable<SupervisorOptions['onError']>;
  #callSeq = 0;
  /** IDs rotated away recently, with the time their tombstone lapses (insertion = expiry order). */
  readonly #rotated = new Map<string, number>();
  readonly #rotatedIdTtlMs: number;
  #closed = false;
  #subscriberCount = 0;
  readonly #stats = {
    started: 0,
    ended: { terminated: 0, expired: 0, crashed: 0, shutdown: 0 } as Record<EndReason, number>,
    restarts: 0,
    calls: 0,
    casts: 0,
    refused: 0,
  };

  constructor(options: SupervisorOptions) {
    const logics: Record<string, AnyActorLogic> = { ...options.logics };
    if (options.logic) logics[DEFAULT_LOGIC] = options.logic;
    this.logics = Object.freeze(logics);
    this.#maxSessions = positive(options.maxSessions ?? 100_000, 'maxSessions');
    this.#idleTimeoutMs = nonNegative(options.idleTimeoutMs ?? 30 * 60_000, 'idleTimeoutMs');
    this.#maxLifetimeMs =
      options.maxLifetimeMs === undefined
        ? undefined
        : positive(options.maxLifetimeMs, 'maxLifetimeMs');
    this.#callTimeoutMs = positive(options.callTimeoutMs ?? 5_000, 'callTimeoutMs');
    const rate =
      options.startRate === undefined ? { limit: 1_000, intervalMs: 1_000 } : options.startRate;
    this.#rate = rate === false ? undefined : new StartRateLimiter(rate.limit, rate.intervalMs);
    this.#restart = {
      onCrash: options.restart?.onCrash ?? false,
      maxRestarts: options.restart?.maxRestarts ?? 3,
      withinMs: options.restart?.withinMs ?? 60_000,
    };
    this.#subscribersKeepAlive = options.subscribersKeepAlive ?? true;
    this.#rotatedIdTtlMs = nonNegative(options.rotatedIdTtlMs ?? 30_000, 'rotatedIdTtlMs');
    this.#onError =
      options.onError ??
      ((error, info) => {
        console.error(
          `[session-process] ${info.source} in session ${info.sessionId ?? '-'}:`,
          error,
        );
      });
    this.#idle = new DeadlineQueue((entry) => this.#expire(entry, 'idle'));
    this.#lifetime = new DeadlineQueue((entry) => this.#expire(entry, 'lifetime'));

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
    linkSystem(this.system, {
      root,
      deliverReply: (callId, value, from) => this.#deliverReply(callId, value, from),
    });
    root.start();
  }

  get count(): number {
    return this.#sessions.size;
  }

  // ---- starting ---------------------------------------------------------------------------

  async start<TContext = any>(
    id: string,
    options: StartOptions = {},
  ): Promise<SessionHandle<TContext>> {
    return this.#start(id, options);
  }

  async ensure<TContext = any>(
    id: string,
    options: StartOptions = {},
  ): Promise<SessionHandle<TContext>> {
    assertSessionId(id);
    if (this.#sessions.has(id)) return new Handle(this, id);
    return this.#start(id, options);
  }

  /** Throws SESSION_ROTATED while `id` was rotated away less than `rotatedIdTtlMs` ago. */
  #checkRotated(id: string): void {
    if (this.#rotated.size === 0) return;
    const until = this.#rotated.get(id);
    if (until === undefined) return;
    if (until > Date.now()) throw new SessionRotatedError(id);
    this.#rotated.delete(id);
  }

  started(id: string): boolean {
    return typeof id === 'string' && this.#sessions.has(id);
  }

  get<TContext = any>(id: string): SessionHandle<TContext> | undefined {
    return this.#sessions.has(id) ? new Handle(this, id) : undefined;
  }

  logicOf(id: string): AnyActorLogic | undefined {
    const entry = this.#sessions.get(id);
    return entry && this.logics[entry.logicName];
  }

  /** @internal */
  logicNameOf(id: string): string | undefined {
    return this.#sessions.get(id)?.logicName;
  }

  #start(id: string, options: StartOptions): Handle {
    assertSessionId(id);
    if (this.#closed) throw new SessionInitFailedError(id, 'the supervisor is shut down');
    if (this.#sessions.has(id)) throw new SessionAlreadyStartedError(id);
    this.#checkRotated(id);
    const logicName = options.logic ?? DEFAULT_LOGIC;
    const logic = this.logics[logicName];
    if (!logic) {
      throw new UnknownLogicError(options.logic, Object.keys(this.logics));
    }
    const now = Date.now();
    if (this.#sessions.size >= this.#maxSessions) {
      this.#stats.refused++;
      const head = this.#idle.headDeadline;
      throw new SessionLimitReachedError(
        this.#maxSessions,
        head === undefined ? 1_000 : Math.max(1_000, head - now),
      );
    }
    if (this.#rate) {
      const wait = this.#rate.take(now);
      if (wait > 0) {
        this.#stats.refused++;
        this.#emit('rate-limited', {
          sessionId: id,
          limit: this.#rate.limit,
          intervalMs: this.#rate.intervalMs,
          retryAfterMs: wait,
        });
        throw new RateLimitedError(this.#rate.limit, this.#rate.intervalMs, wait);
      }
    }
    const t0 = this.#telemetry.active('start') ? performance.now() : 0;
    const entry = new Entry(id, logicName, options.input, now);
    this.#sessions.set(id, entry);
    const failure = this.#spawn(entry);
    if (failure !== undefined) {
      this.#sessions.delete(id);
      throw failure;
    }
    if (this.#maxLifetimeMs !== undefined) {
      entry.lifetime = DeadlineQueue.node(entry);
      this.#lifetime.push(entry.lifetime, now + this.#maxLifetimeMs);
    }
    this.#armIdle(entry, now);
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

  /** Creates and starts the entry's actor; returns the error to throw when it failed to start. */
  #spawn(entry: Entry): SessionInitFailedError | undefined {
    entry.starting = true;
    let actor: AnyActorRef;
    try {
      actor = createActor(this.logics[entry.logicName]!, {
        parent: this.actor,
        id: entry.id,
        systemId: entry.id,
        input: entry.input,
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
      status: statusOf(snap),
      version: entry.version,
    };
  }

  list(options: ListOptions = {}): SessionInfo[] {
    const offset = options.offset ?? 0;
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    const out: SessionInfo[] = [];
    let i = 0;
    for (const entry of this.#sessions.values()) {
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
    for (const entry of this.#sessions.values())
      byLogic[entry.logicName] = (byLogic[entry.logicName] ?? 0) + 1;
    return {
      total: this.#sessions.size,
      byLogic,
      started: this.#stats.started,
      ended: { ...this.#stats.ended },
      restarts: this.#stats.restarts,
      pendingCalls: this.#pending.size,
      subscribers: this.#subscriberCount,
      calls: this.#stats.calls,
      casts: this.#stats.casts,
      refused: this.#stats.refused,
    };
  }

  // ---- activity ---------------------------------------------------------------------------

  touch(id: string): boolean {
    const entry = this.#sessions.get(id);
    if (!entry) return false;
    this.#activity(entry);
    return true;
  }

  #activity(entry: Entry): void {
    const now = Date.now();
    entry.lastActiveAt = now;
    if (entry.queued) this.#idle.push(entry, now + this.#idleTimeoutMs);
  }

  #armIdle(entry: Entry, now: number): void {
    if (this.#idleTimeoutMs === 0) return;
    if (this.#subscribersKeepAlive && entry.subscribers?.size) return;
    this.#idle.push(entry, now + this.#idleTimeoutMs);
  }

  #expire(entry: Entry, cause: 'idle' | 'lifetime'): void {
    this.#emit('expire', {
      sessionId: entry.id,
      logic: entry.logicName,
      idleMs: Date.now() - entry.lastActiveAt,
      cause,
    });
    this.#end(entry, 'expired');
  }

  // ---- cast and call ----------------------------------------------------------------------

  cast<TEvent extends EventObject>(id: string, event: TEvent): void {
    const entry = this.#entry(id);
    if (!isEventObject(event))
      throw new EventNotAcceptedError(
        id,
        undefined,
        'An event must be an object with a string `type`',
      );
    this.#stats.casts++;
    this.#activity(entry);
    entry.actor.send(event);
    if (this.#telemetry.active('cast'))
      this.#emit('cast', { sessionId: id, eventType: event.type });
  }

  call<T = unknown, _TContext = any, TEvent extends EventObject = EventObject>(
    id: string,
    event: TEvent,
    options: CallOptions = {},
  ): Promise<T> {
    let entry: Entry;
    try {
      entry = this.#entry(id);
      if (!isEventObject(event))
        throw new EventNotAcceptedError(
          id,
          undefined,
          'An event must be an object with a string `type`',
        );
    } catch (err) {
      return Promise.reject(err);
    }
    this.#stats.calls++;
    this.#activity(entry);
    const measure = this.#telemetry.active('call');
    const t0 = measure ? performance.now() : 0;
    const snap: any = entry.actor.getSnapshot();
    // Refuse at once what the current state cannot take, rather than after a timeout.
    if (typeof snap.can === 'function' && !snap.can(event)) {
      const err = new EventNotAcceptedError(id, event.type);
      if (measure) this.#emitCall(id, event.type, t0, 'error', err.code);
      return Promise.reject(err);
    }
    const callId = `${++this.#callSeq}`;
    const until = options.until as PendingCall['until'];
    const pending: PendingCall = {
      id: callId,
      entry,
      eventType: event.type,
      startedAt: t0,
      until,
      sending: true,
      replied: false,
      value: undefined,
      settled: false,
      resolve: undefined,
      reject: undefined,
      timer: undefined,
    };
    // An `until` call watches snapshots from the first step on, so it is registered up front. A
    // plain call is registered only if the step does not answer it: the common same-step reply
    // costs no map or timer at all.
    if (until) {
      this.#register(pending);
      entry.untilCalls++;
      this.#watch(entry);
    }
    const generation = entry.generation;
    const outer = this.#sending;
    this.#sending = pending;
    try {
      // `$callId` is CALL_ID_KEY, written as a literal key: a computed key makes V8 build the
      // object in dictionary mode, measurably slower on this path.
      entry.actor.send({ ...event, $callId: callId });
    } finally {
      this.#sending = outer;
      pending.sending = false;
    }

    if (pending.settled) return pending.value as Promise<T>;
    if (entry.ended || entry.generation !== generation) {
      // The step crashed the session (restarted or not) or ended it.
      const err =
        entry.generation !== generation || entry.ended === 'crashed'
          ? new SessionCrashedError(id, entry.fault)
          : new SessionEndedError(id, entry.ended!);
      this.#forget(pending);
      if (measure) this.#emitCall(id, event.type, t0, 'error', err.code);
      return Promise.reject(err);
    }
    if (pending.replied) {
      this.#forget(pending);
      if (measure) this.#emitCall(id, event.type, t0, 'reply');
      return Promise.resolve(pending.value as T);
    }
    if (until) {
      const s = this.#plain(entry);
      if (until(s)) {
        this.#forget(pending);
        if (measure) this.#emitCall(id, event.type, t0, 'until');
        return Promise.resolve(s as T);
      }
    } else {
      this.#register(pending);
    }
    const timeoutMs = options.timeoutMs ?? this.#callTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      pending.resolve = resolve;
      pending.reject = reject;
      pending.timer = setTimeout(() => {
        this.#settle(pending, new CallTimeoutError(id, pending.eventType, timeoutMs), true);
      }, timeoutMs);
    });
  }

  #register(pending: PendingCall): void {
    this.#pending.set(pending.id, pending);
    (pending.entry.calls ??= new Set()).add(pending);
  }

  #emitCall(
    sessionId: string,
    eventType: string,
    t0: number,
    outcome: 'reply' | 'until' | 'error',
    errorCode?: string,
  ): void {
    this.#emit('call', {
      sessionId,
      eventType,
      durationMs: performance.now() - t0,
      outcome,
      ...(errorCode ? { errorCode } : {}),
    });
  }

  #deliverReply(callId: string, value: unknown, from: AnyActorRef): void {
    const sending = this.#sending;
    const pending =
      sending !== undefined && sending.id === callId ? sending : this.#pending.get(callId);
    if (!pending || pending.replied || pending.settled) return;
    // A session may only answer its own calls.
    if (sessionActorOf(from, this.actor) !== pending.entry.actor) return;
    pending.replied = true;
    pending.value = value;
    if (pending.sending) return; // call() settles it once the step has completed
    // A later step: settle once this step is over. If an action after the reply throws, the
    // crash rejects the call first, synchronously, and this becomes a no-op.
    queueMicrotask(() => {
      if (!pending.settled) this.#settle(pending, value, false);
    });
  }

  /** Settles a pending call (value or error) and forgets it. */
  #settle(pending: PendingCall, result: unknown, failed: boolean): void {
    if (pending.settled) return;
    pending.settled = true;
    this.#forget(pending);
    if (this.#telemetry.active('call')) {
      this.#emitCall(
        pending.entry.id,
        pending.eventType,
        pending.startedAt,
        failed ? 'error' : pending.replied ? 'reply' : 'until',
        failed ? (result as { code?: string }).code : undefined,
      );
    }
    if (pending.reject) {
      if (failed) pending.reject(result);
      else pending.resolve!(result);
    } else {
      // Settled during call()'s own send (a crash or an end in that step): hand call() a promise.
      const p = failed ? Promise.reject(result) : Promise.resolve(result);
      pending.value = p;
    }
  }

  #forget(pending: PendingCall): void {
    pending.settled = true;
    if (pending.timer !== undefined) clearTimeout(pending.timer);
    pending.timer = undefined;
    const entry = pending.entry;
    if (entry.calls?.delete(pending)) this.#pending.delete(pending.id);
    if (pending.until) {
      pending.until = undefined;
      entry.untilCalls--;
      this.#unwatchIfIdle(entry);
    }
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
    const sub: Subscriber = {
      listener: listener as Subscriber['listener'],
      select: options.select as Subscriber['select'],
      equals: (options.equals as Subscriber['equals']) ?? Object.is,
      last: undefined,
      active: true,
    };
    if (sub.select) sub.last = sub.select(this.#plain(entry));
    (entry.subscribers ??= new Set()).add(sub);
    this.#subscriberCount++;
    this.#watch(entry);
    entry.lastActiveAt = Date.now();
    if (this.#subscribersKeepAlive) this.#idle.remove(entry);
    return () => {
      if (!sub.active) return;
      sub.active = false;
      this.#subscriberCount--;
      entry.subscribers?.delete(sub);
      if (entry.ended) return;
      this.#unwatchIfIdle(entry);
      if (this.#subscribersKeepAlive && !entry.subscribers?.size) {
        entry.lastActiveAt = Date.now();
        this.#armIdle(entry, entry.lastActiveAt);
      }
    };
  }

  #watch(entry: Entry): void {
    if (entry.watch || entry.ended) return;
    entry.watch = entry.actor.subscribe({
      next: (snap) => this.#onSnapshot(entry, snap),
      // Crashes are handled where the root receives them; this only keeps XState from
      // reporting the error as unhandled.
      error: () => {},
    });
  }

  #unwatchIfIdle(entry: Entry): void {
    if (entry.watch && !entry.subscribers?.size && entry.untilCalls === 0) {
      entry.watch.unsubscribe();
      entry.watch = undefined;
    }
  }

  #onSnapshot(entry: Entry, snap: any): void {
    if (snap === entry.lastSnap || snap.status !== 'active') return;
    this.#publish(entry, snap);
  }

  /** Counts a new snapshot and hands it to `until` calls and subscribers. */
  #publish(entry: Entry, snap: any): void {
    entry.lastSnap = snap;
    entry.version++;
    const plain: SessionSnapshot = {
      value: snap.value,
      context: snap.context,
      status: 'active',
      version: entry.version,
    };
    if (entry.untilCalls > 0 && entry.calls) {
      for (const pending of entry.calls) {
        if (!pending.until || pending.sending || pending.settled) continue;
        let ok = false;
        try {
          ok = pending.until(plain);
        } catch (err) {
          this.#settle(pending, err, true);
          continue;
        }
        if (ok) this.#settle(pending, plain, false);
      }
    }
    if (entry.subscribers) {
      for (const sub of entry.subscribers) {
        if (!sub.active) continue;
        try {
          if (sub.select) {
            const selected = sub.select(plain);
            if (sub.equals(sub.last, selected)) continue;
            sub.last = selected;
            sub.listener({ type: 'snapshot', snapshot: plain, version: plain.version, selected });
          } else {
            sub.listener({ type: 'snapshot', snapshot: plain, version: plain.version });
          }
        } catch (err) {
          this.#report(err, entry.id, 'listener');
        }
      }
    }
  }

  // ---- ending -----------------------------------------------------------------------------

  async terminate(id: string): Promise<void> {
    this.#end(this.#entry(id), 'terminated');
  }

  async shutdown(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const entry of [...this.#sessions.values()]) this.#end(entry, 'shutdown');
    this.#idle.clear();
    this.#lifetime.clear();
    this.actor.stop();
    unlinkSystem(this.system);
  }

  #end(entry: Entry, reason: EndReason, error?: unknown): void {
    if (entry.ended) return;
    entry.ended = reason;
    if (error !== undefined) entry.fault = error;
    if (this.#sessions.get(entry.id) === entry) this.#sessions.delete(entry.id);
    this.#idle.remove(entry);
    if (entry.lifetime) this.#lifetime.remove(entry.lifetime);
    entry.watch?.unsubscribe();
    entry.watch = undefined;
    if (entry.actor.getSnapshot().status === 'active')
      (entry.actor as unknown as ActorInternals)._stop();
    if (entry.calls) {
      for (const pending of [...entry.calls]) {
        this.#settle(
          pending,
          reason === 'crashed'
            ? new SessionCrashedError(entry.id, error)
            : new SessionEndedError(entry.id, reason),
          true,
        );
      }
    }
    this.#notifyEnded(entry, reason, error);
    this.#stats.ended[reason]++;
    this.#emit('stop', {
      sessionId: entry.id,
      logic: entry.logicName,
      reason,
      lifetimeMs: Date.now() - entry.startedAt,
    });
    debug('session %s ended (%s)', entry.id, reason);
  }

  #notifyEnded(entry: Entry, reason: EndReason | 'rotated', error?: unknown): void {
    const subs = entry.subscribers;
    if (!subs) return;
    entry.subscribers = undefined;
    for (const sub of subs) {
      if (!sub.active) continue;
      sub.active = false;
      this.#subscriberCount--;
      try {
        sub.listener(
          error === undefined ? { type: 'ended', reason } : { type: 'ended', reason, error },
        );
      } catch (err) {
        this.#report(err, entry.id, 'listener');
      }
    }
  }

  #onChildEvent(event: EventObject): void {
    const type = event.type;
    const isError = type.startsWith('xstate.error.actor.');
    if (!isError && !type.startsWith('xstate.done.actor.')) return;
    const id: string = (event as { actorId?: string }).actorId ?? type.slice(isError ? 19 : 18);
    const entry = this.#sessions.get(id);
    if (!entry || entry.starting || entry.ended) return;
    if (!isError) {
      // The session's machine reached a top-level final state: the session is over.
      this.#end(entry, 'terminated');
      return;
    }
    this.#crash(entry, (event as { error?: unknown }).error);
  }

  #crash(entry: Entry, error: unknown): void {
    const now = Date.now();
    const policy = this.#restart;
    let restarting = false;
    if (policy.onCrash && !this.#closed) {
      entry.crashes = (entry.crashes ?? []).filter((t) => now - t < policy.withinMs);
      restarting = entry.crashes.length < policy.maxRestarts;
      entry.crashes.push(now);
    }
    entry.fault = error;
    this.#emit('crash', { sessionId: entry.id, logic: entry.logicName, error, restarting });
    this.#report(error, entry.id, 'crash');
    if (!restarting) {
      this.#end(entry, 'crashed', error);
      return;
    }
    // Restart this session alone, from its initial state, with the same ID, logic and input.
    if (entry.calls)
      for (const pending of [...entry.calls])
        this.#settle(pending, new SessionCrashedError(entry.id, error), true);
    const hadWatch = entry.watch !== undefined;
    entry.watch = undefined;
    entry.generation++;
    const failure = this.#spawn(entry);
    if (failure) {
      this.#end(entry, 'crashed', failure);
      return;
    }
    this.#stats.restarts++;
    if (hadWatch) this.#watch(entry);
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
    const entry = this.#entry(id);
    assertSessionId(newId);
    if (this.#sessions.has(newId)) throw new SessionAlreadyStartedError(newId);
    const actor = entry.actor as unknown as ActorInternals & AnyActorRef;
    const system = this.system as unknown as SystemInternals;
    // The actor keeps running, state and timers untouched; only its names change.
    system._unregister(actor);
    actor.id = newId;
    actor._actorScope.id = newId;
    system._register(actor.sessionId, actor);
    system._set(newId, actor);
    this.#sessions.delete(id);
    entry.id = newId;
    this.#sessions.set(newId, entry);
    if (this.#rotatedIdTtlMs > 0) {
      const now = Date.now();
      for (const [old, until] of this.#rotated) {
        if (until > now) break;
        this.#rotated.delete(old);
      }
      this.#rotated.delete(newId);
      this.#rotated.set(id, now + this.#rotatedIdTtlMs);
    }
    // Whoever followed the old ID loses it: that is the point of rotating an ID.
    this.#notifyEnded(entry, 'rotated');
    if (this.#subscribersKeepAlive) this.#armIdle(entry, Date.now());
    this.#unwatchIfIdle(entry);
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

  #report(error: unknown, sessionId: string | undefined, source: 'crash' | 'listener'): void {
    try {
      this.#onError(error, sessionId === undefined ? { source } : { sessionId, source });
    } catch {
      // an onError hook that throws has nowhere left to report to
    }
  }

  #entry(id: string): Entry {
    const entry = this.#sessions.get(id);
    if (entry) return entry;
    assertSessionId(id);
    this.#checkRotated(id);
    throw new SessionNotFoundError(id);
  }
}

function sessionActorOf(actor: AnyActorRef, root: AnyActorRef): AnyActorRef {
  let a = actor as AnyActorRef & { _parent?: AnyActorRef };
  while (a._parent && a._parent !== root) a = a._parent as AnyActorRef & { _parent?: AnyActorRef };
  return a;
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
