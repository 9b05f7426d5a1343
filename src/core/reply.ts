import type { AnyActorRef, ActorSystem, EventObject } from 'xstate';
import { CallTracker } from './CallTracker.js';
import type { SessionError } from './errors.js';

/** @internal What a supervisor registers for its actor system, so machine actions can reach it. */
export interface SystemLink {
  /** The supervisor's root actor: a session actor is a direct child of it. */
  readonly root: AnyActorRef;
  /** Delivers a reply to the pending call with this public id, if it still waits. */
  replyTo(callId: string, value: unknown, from: AnyActorRef): void;
  /**
   * A session's step was refused by a step limit (TOO_MANY_TIMERS): the session kept its
   * snapshot; the call that sent `event` is rejected with `error`, or else it is reported.
   */
  refused(session: AnyActorRef, event: EventObject, error: SessionError): void;
}

const links = new WeakMap<ActorSystem<any>, SystemLink>();

/** @internal */
export function linkSystem(system: ActorSystem<any>, link: SystemLink): void {
  links.set(system, link);
}

/** @internal */
export function unlinkSystem(system: ActorSystem<any>): void {
  links.delete(system);
}

/** @internal */
export function linkOf(system: ActorSystem<any>): SystemLink | undefined {
  return links.get(system);
}

/**
 * The id of the call that sent this event with `sessions.call(...)`, or `undefined` when the
 * event was cast (or reached the session any other way). Keep it (in context, say) to answer later
 * with `reply(value, { to })`. The correlation is not a field of the event: an event whose
 * payload claims a call id is not a call, so a cast cannot answer someone else's call. The id is
 * random (unguessable) and made on first use.
 *
 * @example
 * ```ts
 * on: { 'checkout.pay': { target: 'paying', actions: assign({ payCall: ({ event }) => callIdOf(event) }) } }
 * ```
 */
export function callIdOf(event: EventObject): string | undefined {
  return CallTracker.idOf(event);
}

/** What a reply's value function and its `to` function receive. */
export interface ReplyArgs<TContext, TEvent extends EventObject> {
  context: TContext;
  event: TEvent;
}

/** Options of {@link reply}. */
export interface ReplyOptions<TContext, TEvent extends EventObject> {
  /**
   * The call to answer: a call id kept from `callIdOf(event)`, or a function returning it.
   * @default the call id of the event being handled (a reply in the same step)
   */
  to?: string | undefined | ((args: ReplyArgs<TContext, TEvent>) => string | undefined);
}

/**
 * An action that answers a `call`. `value` is a value or a function of `{ context, event }`.
 * Without `to` it answers the call whose event is being handled (same step); with `to` it answers
 * a call kept earlier, for example after an invoked promise settles. Replies must be
 * JSON-serializable. The call resolves once the step that replied has completed without error;
 * a reply to a call that was cast, has timed out or was already answered is ignored.
 *
 * @example
 * ```ts
 * import { setup, assign } from 'xstate';
 * import { reply } from 'session-process';
 *
 * const counter = setup({}).createMachine({
 *   context: { count: 0 },
 *   on: {
 *     get_value: { actions: reply(({ context }) => context.count) },
 *     add_one: { actions: assign({ count: ({ context }) => context.count + 1 }) },
 *   },
 * });
 * ```
 */
export function reply<TContext = any, TEvent extends EventObject = any, TValue = unknown>(
  value: TValue | ((args: ReplyArgs<TContext, TEvent>) => TValue),
  options?: ReplyOptions<TContext, TEvent>,
): (args: {
  context: TContext;
  event: TEvent;
  self: AnyActorRef;
  system: ActorSystem<any>;
}) => void {
  const to = options?.to;
  const resolve = (args: ReplyArgs<TContext, TEvent>) =>
    typeof value === 'function'
      ? (value as (a: ReplyArgs<TContext, TEvent>) => TValue)(args)
      : value;
  return function replyAction(args) {
    if (to === undefined) {
      // Same step: the call is the one whose event object this is (no id needed).
      CallTracker.replyToEvent(args.event, resolve(args), args.self);
      return;
    }
    const callId = typeof to === 'function' ? to(args) : to;
    if (callId === undefined) return;
    const link = linkOf(args.system);
    if (!link) return;
    link.replyTo(callId, resolve(args), args.self);
  };
}

/**
 * The session ID of the session an actor belongs to: the session actor's own `id`, also when
 * called from an actor the session invoked or spawned (the seed's `get_session_id()`).
 *
 * @example
 * ```ts
 * entry: ({ self }) => console.log('session', getSessionId(self), 'started'),
 * ```
 */
export function getSessionId(self: AnyActorRef): string {
  const link = linkOf(self.system);
  let actor = self as AnyActorRef & { _parent?: AnyActorRef };
  if (link) {
    while (actor._parent && actor._parent !== link.root) {
      actor = actor._parent as AnyActorRef & { _parent?: AnyActorRef };
    }
  }
  return actor.id;
}
