import {
  type AnyActorRef,
  type ActorSystem,
  type EventObject,
  createActor,
  createMachine,
  fromTransition,
} from 'xstate';
import { MAX_TIMEOUT_MS } from './maxTimeout.js';

/**
 * @internal
 * Every reach into XState beyond its public, typed API lives in this file, and
 * {@link checkXStateInternals} verifies each one when a supervisor is created: an xstate that
 * lacks one fails at start-up with a message naming it, not with a broken `rotate()` later.
 * Tested with xstate 5.33 (`peerDependencies`).
 *
 * What needs them and why:
 * - A session actor is created with `createActor(logic, { parent: root })` rather than spawned,
 *   so the root's snapshot never holds it (spawning copies the whole `children` object:
 *   quadratic, see DESIGN.md). Such an actor can only be stopped with `_stop()` (`stop()` refuses
 *   non-root actors), and renaming it means changing its ids by hand.
 * - Whether an actor is in the middle of a step (its mailbox), for call correlation.
 * - XState's scheduler cancels an actor's delayed events by scanning every delayed event of the
 *   system, so ending one session cost time in proportion to all sessions' timers (20,000 carts
 *   with a reservation timer took 59 s to shut down). {@link installIndexedScheduler} replaces
 *   it with one that keeps each actor's timers apart, and lets the store read and re-arm them.
 * - A child's crash and completion reach the root as events with these type prefixes.
 * - The step limits (see boundLogic.ts): a machine's `options.maxIterations` is compared with
 *   the microstep count after every microstep, so an object whose `valueOf` reads the clock turns
 *   it into a time budget; the built-in actions that schedule and cancel delayed events pass
 *   through the actor scope's `actionExecutor` (type and resolved params) before they run, and
 *   what they schedule waits in the actor's `_deferred` list until the step is over, so a step
 *   that would hold too many timers can be refused before anything is scheduled.
 */

/** Type prefix of the event a child's crash sends its parent (`xstate.error.actor.<id>`). */
export const ERROR_ACTOR_PREFIX = 'xstate.error.actor.';
/** Type prefix of the event a child's completion sends its parent (`xstate.done.actor.<id>`). */
export const DONE_ACTOR_PREFIX = 'xstate.done.actor.';
/** Type prefix of a delayed (`after`) transition's event. */
export const AFTER_PREFIX = 'xstate.after.';

interface ActorInternals {
  id: string;
  sessionId: string;
  _parent?: AnyActorRef;
  _stop(): void;
  _actorScope: { id: string };
  _deferred: unknown[];
  mailbox: { _current: unknown; _active: boolean };
}

/** A built-in or custom action as the actor scope's `actionExecutor` receives it. */
export interface ExecutableAction {
  readonly type: string;
  readonly params: unknown;
}

/** The parts of XState's actor scope (a transition's third argument) the step limits use. */
export interface StepScope {
  readonly self: AnyActorRef;
  readonly system: ActorSystem<any>;
  actionExecutor: (action: ExecutableAction) => void;
}

/** Type of the built-in `raise` action (delayed when its params carry a numeric `delay`). */
export const RAISE_ACTION = 'xstate.raise';
/** Type of the built-in `sendTo` action (delayed when its params carry a numeric `delay`). */
export const SEND_TO_ACTION = 'xstate.sendTo';
/** Type of the built-in `cancel` action (its params carry the `sendId` it cancels). */
export const CANCEL_ACTION = 'xstate.cancel';

interface SystemInternals {
  _relay(source: AnyActorRef | undefined, target: AnyActorRef, event: EventObject): void;
  _clock: { setTimeout(fn: () => void, ms: number): unknown; clearTimeout(id: unknown): void };
  scheduler: Scheduler;
}

interface Scheduler {
  schedule(
    source: AnyActorRef,
    target: AnyActorRef,
    event: EventObject,
    delay: number,
    id?: string,
  ): void;
  cancel(source: AnyActorRef, id: string): void;
  cancelAll(actor: AnyActorRef): void;
}

/** A delayed event waiting in an {@link installIndexedScheduler} scheduler. */
export interface ScheduledEvent {
  readonly id: string;
  readonly target: AnyActorRef;
  readonly event: EventObject;
  /** Epoch milliseconds at which it fires. */
  readonly dueAt: number;
  handle: unknown;
}

const internals = (a: AnyActorRef) => a as unknown as ActorInternals & AnyActorRef;
const systemInternals = (s: ActorSystem<any>) => s as unknown as SystemInternals;

/**
 * Throws, naming what is missing, when the installed xstate lacks an internal this package uses.
 * Runs once per supervisor on a throwaway actor.
 */
export function checkXStateInternals(): void {
  const probe = createActor(fromTransition((s: number) => s, 0));
  const actor = probe as unknown as Record<string, unknown>;
  const system = probe.system as unknown as Record<string, unknown>;
  const missing: string[] = [];
  for (const name of ['_stop', 'sessionId', '_actorScope', '_parent', 'mailbox'] as const)
    if (!(name in actor)) missing.push(`Actor.${name}`);
  if (!Array.isArray(actor._deferred)) missing.push('Actor._deferred');
  if (
    typeof (actor._actorScope as { actionExecutor?: unknown } | undefined)?.actionExecutor !==
    'function'
  )
    missing.push('Actor._actorScope.actionExecutor');
  const mailbox = actor.mailbox as Record<string, unknown> | undefined;
  for (const name of ['_current', '_active'] as const)
    if (!mailbox || !(name in mailbox)) missing.push(`Actor.mailbox.${name}`);
  for (const name of ['_relay', '_clock', 'get'] as const)
    if (!(name in system)) missing.push(`system.${name}`);
  const scheduler = system.scheduler as Record<string, unknown> | undefined;
  for (const name of ['schedule', 'cancel', 'cancelAll'] as const)
    if (typeof scheduler?.[name] !== 'function') missing.push(`system.scheduler.${name}`);
  if (typeof (actor._actorScope as { id?: unknown } | undefined)?.id !== 'string')
    missing.push('Actor._actorScope.id');
  if (missing.length === 0 && !stepHooksWork())
    missing.push(
      'the step hooks (maxIterations compared per microstep, delayed actions through actionExecutor)',
    );
  if (missing.length)
    throw new Error(
      `session-process: the installed xstate lacks ${missing.join(', ')}, which this package ` +
        "needs. Install the xstate version in session-process's peerDependencies (^5.33).",
    );
}

let stepHooksChecked: boolean | undefined;

/**
 * Whether the step limits' hooks behave as they must, tried once per process on a small machine:
 * `maxIterations` is read through `valueOf` after each microstep, and a delayed `raise` and a
 * `cancel` reach `actionExecutor` with their type and resolved params.
 */
function stepHooksWork(): boolean {
  if (stepHooksChecked !== undefined) return stepHooksChecked;
  let compared = 0;
  const seen: string[] = [];
  const machine = createMachine({
    initial: 'a',
    states: {
      a: { on: { go: 'b' } },
      b: { after: { 1000: 'a' }, always: { target: 'c' } },
      c: {},
    },
  });
  const bounded = machine.provide({});
  const counting = {
    valueOf: () => {
      compared++;
      return Number.POSITIVE_INFINITY;
    },
  };
  bounded.options = { ...bounded.options, maxIterations: counting as unknown as number };
  const actor = createActor(bounded);
  const scope = (actor as unknown as { _actorScope: StepScope })._actorScope;
  const execute = scope.actionExecutor;
  scope.actionExecutor = (action) => {
    const params = action.params as { delay?: unknown; sendId?: unknown } | undefined;
    if (action.type === RAISE_ACTION && typeof params?.delay === 'number') seen.push('raise');
    if (action.type === CANCEL_ACTION && typeof params?.sendId === 'string') seen.push('cancel');
    execute(action);
  };
  try {
    actor.start();
    actor.send({ type: 'go' });
    actor.stop();
  } catch {
    return false;
  }
  stepHooksChecked = compared > 0 && seen.includes('raise') && seen.includes('cancel');
  return stepHooksChecked;
}

/**
 * Whether an event sent to the actor now would wait in its mailbox (it is in the middle of a
 * step, or not running) rather than be handled before `send` returns.
 */
export function isBusy(actor: AnyActorRef): boolean {
  const mailbox = internals(actor).mailbox;
  return mailbox._current !== null || !mailbox._active;
}

/** Stops a session actor that is not a root (`stop()` refuses those). */
export function stopActor(actor: AnyActorRef): void {
  internals(actor)._stop();
}

/** The parent of an actor, or `undefined` for a root. */
export function parentOf(actor: AnyActorRef): AnyActorRef | undefined {
  return internals(actor)._parent;
}

/** Walks up from `actor` to the child of `root` it belongs to (the session actor). */
export function sessionActorOf(actor: AnyActorRef, root: AnyActorRef): AnyActorRef {
  let a = internals(actor);
  while (a._parent && a._parent !== root) a = internals(a._parent);
  return a;
}

/** How many effects the actor's step has deferred so far (run when the step is over). */
export function deferredCount(actor: AnyActorRef): number {
  return internals(actor)._deferred.length;
}

/** Forgets the effects the actor deferred after the first `keep` (a refused step's). */
export function dropDeferred(actor: AnyActorRef, keep: number): void {
  internals(actor)._deferred.length = keep;
}

/** Gives a running actor a new id, state and timers untouched. */
export function renameActor(actor: AnyActorRef, newId: string): void {
  const a = internals(actor);
  a.id = newId;
  a._actorScope.id = newId;
}

/**
 * Makes `system.get(id)` find session actors by session ID through `lookup` (the supervisor's
 * registry) before the system's own registrations. Session actors are created without a
 * `systemId`: registering one costs XState a WeakMap entry per actor, and those ephemerons made
 * garbage collection most of a session's start (bench/core: 0.76x raw without this, ~0.9x+ with).
 */
export function installSessionLookup(
  system: ActorSystem<any>,
  lookup: (id: string) => AnyActorRef | undefined,
): void {
  const own = system.get.bind(system);
  (system as { get(id: string): AnyActorRef | undefined }).get = (id: string) =>
    lookup(id) ?? own(id);
}

const schedulers = new WeakMap<ActorSystem<any>, IndexedScheduler>();

/** The indexed scheduler installed on a system, if any (the step limits count timers with it). */
export function indexedSchedulerOf(system: ActorSystem<any>): IndexedScheduler | undefined {
  return schedulers.get(system);
}

/**
 * Replaces the system's scheduler with one that indexes delayed events by their source actor, so
 * `cancelAll` (run whenever an actor stops) costs O(that actor's timers) instead of O(every timer
 * of the system). Returns a view for the store: an actor's pending events with their due times,
 * and a way to re-arm them after a restore (XState does not, xstate issue #5331).
 */
export function installIndexedScheduler(system: ActorSystem<any>): IndexedScheduler {
  const sys = systemInternals(system);
  const clock = sys._clock;
  const bySource = new WeakMap<AnyActorRef, Map<string, ScheduledEvent>>();
  let seq = 0;
  const scheduler: Scheduler = {
    schedule(source, target, event, delay, id = `~${(seq++).toString(36)}`) {
      let own = bySource.get(source);
      if (!own) bySource.set(source, (own = new Map()));
      const previous = own.get(id);
      if (previous) clock.clearTimeout(previous.handle);
      const entry: ScheduledEvent = { id, target, event, dueAt: Date.now() + delay, handle: 0 };
      // A delay past 24.8 days is armed in steps (setTimeout fires at once past 2^31 - 1 ms).
      // The steps count the clock's own time, so a simulated clock chains them as well.
      const arm = (left: number) => {
        entry.handle = clock.setTimeout(
          left > MAX_TIMEOUT_MS
            ? () => arm(left - MAX_TIMEOUT_MS)
            : () => {
                if (own.get(id) === entry) own.delete(id);
                sys._relay(source, target, event);
              },
          Math.min(left, MAX_TIMEOUT_MS),
        );
      };
      arm(delay);
      own.set(id, entry);
    },
    cancel(source, id) {
      const own = bySource.get(source);
      const entry = own?.get(id);
      if (!entry) return;
      own!.delete(id);
      clock.clearTimeout(entry.handle);
    },
    cancelAll(actor) {
      const own = bySource.get(actor);
      if (!own) return;
      for (const entry of own.values()) clock.clearTimeout(entry.handle);
      own.clear();
      bySource.delete(actor);
    },
  };
  sys.scheduler = scheduler;
  const view: IndexedScheduler = {
    count(actor) {
      return bySource.get(actor)?.size ?? 0;
    },
    has(actor, id) {
      return bySource.get(actor)?.has(id) ?? false;
    },
    pending(actor) {
      const own = bySource.get(actor);
      return own ? [...own.values()] : [];
    },
    rearm(actor, events) {
      const now = Date.now();
      for (const e of events)
        scheduler.schedule(actor, e.target ?? actor, e.event, Math.max(0, e.dueAt - now), e.id);
    },
  };
  schedulers.set(system, view);
  return view;
}

/** @internal The view of the indexed scheduler the supervisor keeps. */
export interface IndexedScheduler {
  /** How many delayed events an actor has scheduled that have not fired. */
  count(actor: AnyActorRef): number;
  /** Whether one of them has this id. */
  has(actor: AnyActorRef, id: string): boolean;
  /** The delayed events an actor has scheduled and that have not fired. */
  pending(actor: AnyActorRef): ScheduledEvent[];
  /** Schedules events again for a restored actor, each at its original due time (or now). */
  rearm(
    actor: AnyActorRef,
    events: ReadonlyArray<{ id: string; event: EventObject; dueAt: number; target?: AnyActorRef }>,
  ): void;
}
