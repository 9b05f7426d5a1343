import { randomUUID } from 'node:crypto';
import type { AnyActorRef, EventObject } from 'xstate';
import { DeadlineQueue, type DeadlineNode } from './DeadlineQueue.js';
import type { Entry } from './Entry.js';
import {
  CallTimeoutError,
  EventNotAcceptedError,
  SessionCrashedError,
  SessionEndedError,
  type SessionError,
} from './errors.js';
import type { CallOptions, SessionSnapshot } from './types.js';
import { isBusy } from './xstateInternals.js';

/**
 * Which pending call an event belongs to. The correlation is the identity of the event object
 * that `call` sends, never a value inside it: an event that reaches a session any other way (a
 * cast, an app route, the visualizer's send, a forwarded event from another session) carries no
 * call, whatever its payload says. Module-wide, so `callIdOf(event)` needs no supervisor.
 *
 * Almost always the session handles the event during `actor.send`, so a slot holding the event
 * being sent is enough (no allocation). Only when the actor is busy (a call made from inside its
 * own step) is the event queued; that copy goes in a WeakMap. A WeakMap for every call cost 15 %
 * of a call and kept megabytes of backing store alive after the sessions ended (bench/core).
 */
let sendingEvent: object | undefined;
let sendingCall: PendingCall | undefined;
const queuedCalls = new WeakMap<object, PendingCall>();

function callOf(event: object): PendingCall | undefined {
  return event === sendingEvent ? sendingCall : queuedCalls.get(event);
}

/** @internal A call waiting for its reply; its own node in its timeout queue. */
export class PendingCall implements DeadlineNode<PendingCall> {
  /** The public id, made on first `callIdOf(event)` (only calls answered later need one). */
  id: string | undefined;
  until: ((s: SessionSnapshot) => boolean) | undefined;
  /** True while `call` is sending the event (a reply then needs no promise yet). */
  sending = true;
  replied = false;
  settled = false;
  /** The reply; or, when the call settled inside its own step, the promise `call` returns. */
  result: unknown;
  resolve: ((value: any) => void) | undefined;
  reject: ((err: unknown) => void) | undefined;
  timeoutMs = 0;
  // timeout queue node
  deadline = 0;
  prev: PendingCall | undefined;
  next: PendingCall | undefined;
  queued = false;

  constructor(
    readonly tracker: CallTracker,
    readonly entry: Entry,
    readonly eventType: string,
    readonly startedAt: number,
  ) {}

  /** Its own node in the timeout queue (no separate node object per waiting call). */
  get value(): PendingCall {
    return this;
  }
}

/** @internal How a call ended, for telemetry. */
export type CallOutcome = 'reply' | 'until' | 'error';

/** @internal What the tracker asks of the supervisor. */
export interface CallHooks {
  /** Whether `from` (an actor that ran `reply`) belongs to the session of this call. */
  ownedBy(from: AnyActorRef, entry: Entry): boolean;
  /** What a successful call waits for before it resolves (its change saved, with `durable`). */
  gate(entry: Entry): Promise<void> | undefined;
  /** Whether anyone listens to call telemetry (calls are timed only then). */
  measuring(): boolean;
  /** A call ended (telemetry). */
  outcome(pending: PendingCall, outcome: CallOutcome, errorCode?: string): void;
  /** The entry has no `until` call left (it may stop watching snapshots). */
  untilDone(entry: Entry): void;
  /** Watch the entry's snapshots (an `until` call needs each one). */
  watch(entry: Entry): void;
  /** Count the change the event just sent made, if nobody watching saw it. */
  seen(entry: Entry): void;
  /** The entry's snapshot as plain data. */
  plain(entry: Entry): SessionSnapshot;
}

/**
 * @internal
 * The calls waiting for replies: correlation, replies in the same step or later, `until`
 * predicates, and timeouts on one timer per distinct timeout rather than one per call.
 */
export class CallTracker {
  readonly #byId = new Map<string, PendingCall>();
  readonly #timeouts = new Map<number, DeadlineQueue<PendingCall>>();
  readonly #hooks: CallHooks;
  readonly #callTimeoutMs: number;
  #count = 0;

  constructor(hooks: CallHooks, callTimeoutMs: number) {
    this.#hooks = hooks;
    this.#callTimeoutMs = callTimeoutMs;
  }

  /**
   * Sends `event` to the entry's session as a call and settles it: with the reply of the same
   * step (no map, queue or timer), with an error if the step crashed or ended the session or the
   * state cannot take the event, or later (a reply in a later step, an `until` snapshot, a
   * timeout).
   */
  call<T>(entry: Entry, event: EventObject, options: CallOptions, measure: boolean): Promise<T> {
    const hooks = this.#hooks;
    const pending = new PendingCall(this, entry, event.type, measure ? performance.now() : 0);
    const until = options.until as PendingCall['until'];
    // An `until` call watches snapshots from the first step on, so it is registered up front. A
    // plain call is registered only if the step does not answer it.
    if (until) {
      pending.until = until;
      this.register(pending);
      hooks.watch(entry);
    }
    const generation = entry.generation;
    const before = entry.actor.getSnapshot();
    this.send(pending, entry.actor, event);
    if (!entry.ended) hooks.seen(entry);

    if (pending.settled) return pending.result as Promise<T>;
    if (entry.ended || entry.generation !== generation) {
      // The step crashed the session (restarted or not) or ended it.
      const err =
        entry.generation !== generation || entry.ended === 'crashed'
          ? new SessionCrashedError(entry.id, entry.fault)
          : new SessionEndedError(entry.id, entry.ended!);
      return this.#fail(pending, err, measure);
    }
    if (pending.replied) return this.#done(pending, pending.result as T, 'reply', measure);
    if (until) {
      const s = hooks.plain(entry);
      if (until(s)) return this.#done(pending, s as T, 'until', measure);
    }
    // Unanswered and nothing changed: if the state cannot take the event at all, say so now
    // rather than after a timeout. Asked only here, not before every call: `can()` computes the
    // transition a second time (9-15 % of a call, bench/core).
    if (entry.actor.getSnapshot() === before && !accepts(entry.actor, event))
      return this.#fail(pending, new EventNotAcceptedError(entry.id, event.type), measure);
    if (!until) this.register(pending);
    const timeoutMs = options.timeoutMs ?? this.#callTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      pending.resolve = resolve;
      pending.reject = reject;
      this.arm(pending, timeoutMs);
    });
  }

  #done<T>(pending: PendingCall, value: T, outcome: CallOutcome, measure: boolean): Promise<T> {
    this.forget(pending);
    if (measure) this.#hooks.outcome(pending, outcome);
    const gate = this.#hooks.gate(pending.entry);
    return gate ? gate.then(() => value) : Promise.resolve(value);
  }

  #fail(pending: PendingCall, err: SessionError, measure: boolean): Promise<never> {
    this.forget(pending);
    if (measure) this.#hooks.outcome(pending, 'error', err.code);
    return Promise.reject(err);
  }

  /** Calls waiting now. */
  get size(): number {
    return this.#count;
  }

  /** Sends `event` to the session as a call; correlation is the identity of the object sent. */
  send(pending: PendingCall, actor: AnyActorRef, event: EventObject): void {
    if (isBusy(actor)) {
      // Queued behind the step in progress: handled after this send returns.
      const copy = { ...event };
      queuedCalls.set(copy, pending);
      try {
        actor.send(copy);
      } finally {
        pending.sending = false;
      }
      return;
    }
    const outerEvent = sendingEvent;
    const outerCall = sendingCall;
    sendingEvent = event;
    sendingCall = pending;
    try {
      actor.send(event);
    } finally {
      sendingEvent = outerEvent;
      sendingCall = outerCall;
      pending.sending = false;
    }
  }

  /** Keeps a call that was not answered in its own step; `until` calls from the start. */
  register(pending: PendingCall): void {
    if (pending.entry.calls === undefined) pending.entry.calls = new Set();
    pending.entry.calls.add(pending);
    this.#count++;
    if (pending.until) pending.entry.untilCalls++;
  }

  /** Arms the timeout of a registered call. */
  arm(pending: PendingCall, timeoutMs: number): void {
    pending.timeoutMs = timeoutMs;
    let queue = this.#timeouts.get(timeoutMs);
    if (!queue) {
      queue = new DeadlineQueue<PendingCall>((p) => {
        this.settle(p, new CallTimeoutError(p.entry.id, p.eventType, p.timeoutMs), true);
      }, false);
      this.#timeouts.set(timeoutMs, queue);
    }
    queue.push(pending, Date.now() + timeoutMs);
  }

  /** The public id of the call `event` belongs to, made on first use. */
  static idOf(event: EventObject): string | undefined {
    const pending = callOf(event);
    if (pending === undefined || pending.settled) return undefined;
    if (pending.id === undefined) {
      pending.id = randomUUID();
      pending.tracker.#byId.set(pending.id, pending);
    }
    return pending.id;
  }

  /** A `reply` without `to`: answers the call whose event is being handled, if any. */
  static replyToEvent(event: EventObject, value: unknown, from: AnyActorRef): void {
    const pending = callOf(event);
    if (pending !== undefined) pending.tracker.#deliver(pending, value, from);
  }

  /**
   * The session refused `event` (a step limit): the call that sent it, if any, fails with
   * `error`. Whether there was one.
   */
  static refuse(event: EventObject, error: SessionError): boolean {
    const pending = callOf(event);
    if (pending === undefined || pending.settled) return false;
    pending.tracker.settle(pending, error, true);
    return true;
  }

  /** A `reply` with `to`: answers the call with that public id, if it still waits. */
  replyTo(callId: string, value: unknown, from: AnyActorRef): void {
    const pending = this.#byId.get(callId);
    if (pending !== undefined) this.#deliver(pending, value, from);
  }

  #deliver(pending: PendingCall, value: unknown, from: AnyActorRef): void {
    if (pending.replied || pending.settled) return;
    // A session may only answer its own calls.
    if (!this.#hooks.ownedBy(from, pending.entry)) return;
    pending.replied = true;
    pending.result = value;
    if (pending.sending) return; // call() settles it once the step has completed
    // A later step: settle once this step is over. If an action after the reply throws, the
    // crash rejects the call first, synchronously, and this becomes a no-op.
    queueMicrotask(() => {
      if (!pending.settled) this.settle(pending, value, false);
    });
  }

  /** Hands a new snapshot to the entry's `until` calls. */
  checkUntil(entry: Entry, snapshot: SessionSnapshot): void {
    if (entry.untilCalls === 0 || !entry.calls) return;
    for (const pending of entry.calls) {
      if (!pending.until || pending.sending || pending.settled) continue;
      let ok = false;
      try {
        ok = pending.until(snapshot);
      } catch (err) {
        this.settle(pending, err, true);
        continue;
      }
      if (ok) this.settle(pending, snapshot, false);
    }
  }

  /** Settles a call (value or error) and forgets it. */
  settle(pending: PendingCall, result: unknown, failed: boolean): void {
    if (pending.settled) return;
    this.forget(pending);
    if (this.#hooks.measuring())
      this.#hooks.outcome(
        pending,
        failed ? 'error' : pending.replied ? 'reply' : 'until',
        failed ? (result as { code?: string }).code : undefined,
      );
    if (pending.reject) {
      if (failed) pending.reject(result);
      else {
        const gate = this.#hooks.gate(pending.entry);
        if (gate) gate.then(() => pending.resolve!(result), pending.reject);
        else pending.resolve!(result);
      }
    } else {
      // Settled during call()'s own send (a crash or an end in that step): hand call() a promise.
      pending.result = failed ? Promise.reject(result) : Promise.resolve(result);
    }
  }

  /** Rejects every call of the entry with `error`. */
  failAll(entry: Entry, error: () => unknown): void {
    if (!entry.calls?.size) return;
    for (const pending of [...entry.calls]) this.settle(pending, error(), true);
  }

  forget(pending: PendingCall): void {
    pending.settled = true;
    if (pending.queued) this.#timeouts.get(pending.timeoutMs)?.remove(pending);
    const entry = pending.entry;
    if (entry.calls?.delete(pending)) this.#count--;
    if (pending.id !== undefined) this.#byId.delete(pending.id);
    if (pending.until) {
      pending.until = undefined;
      if (--entry.untilCalls === 0) this.#hooks.untilDone(entry);
    }
  }

  /** Stops every timer (shutdown). */
  clear(): void {
    for (const queue of this.#timeouts.values()) queue.clear();
    this.#timeouts.clear();
  }
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
