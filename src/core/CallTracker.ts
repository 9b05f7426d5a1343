import { randomUUID } from 'node:crypto';
import type { AnyActorRef, EventObject } from 'xstate';
import { DeadlineQueue, type DeadlineNode } from './DeadlineQueue.js';
import type { Entry } from './Entry.js';
import { CallTimeoutError } from './errors.js';
import type { SessionSnapshot } from './types.js';
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

/** @internal What the tracker asks of the supervisor. */
export interface CallHooks {
  /** Whether `from` (an actor that ran `reply`) belongs to the session of this call. */
  ownedBy(from: AnyActorRef, entry: Entry): boolean;
  /** What a successful call waits for before it resolves (its change saved, with `durable`). */
  gate(pending: PendingCall): Promise<void> | undefined;
  /** A call settled (telemetry). */
  settled(pending: PendingCall, failed: boolean, result: unknown): void;
  /** The entry has no `until` call left (it may stop watching snapshots). */
  untilDone(entry: Entry): void;
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
  #count = 0;

  constructor(hooks: CallHooks) {
    this.#hooks = hooks;
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
    this.#hooks.settled(pending, failed, result);
    if (pending.reject) {
      if (failed) pending.reject(result);
      else {
        const gate = this.#hooks.gate(pending);
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
