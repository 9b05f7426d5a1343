import type {
  AnyActorLogic,
  AnyActorRef,
  AnyMachineSnapshot,
  AnyStateMachine,
  AnyTransitionDefinition,
  EventObject,
} from 'xstate';
import { createInertScope, type ExecutableAction } from './inertScope.js';

/** One microstep of a macrostep: the event it handled and the transitions it took. @internal */
export interface Microstep {
  /** The external event, or an event the machine raised itself (`raise`, `xstate.done.state.*`). */
  readonly event: EventObject;
  /** The transition definitions taken (empty: the event was refused). */
  readonly transitions: readonly AnyTransitionDefinition[];
  /** The snapshot after the microstep (a transient one when more microsteps follow). */
  readonly snapshot: AnyMachineSnapshot;
}

/**
 * An action of a macrostep that an actor would execute with an effect the model tracks: a
 * delayed event armed or cancelled, a child started or stopped. @internal
 */
export type TrackedAction =
  | {
      readonly kind: 'delay';
      /** The scheduler id (`cancel` refers to it; the event type for `after`). */
      readonly id: string | undefined;
      readonly event: EventObject;
      readonly delayMs: number;
      /** The event goes to the machine itself (`after`, a delayed `raise`, `sendTo` self). */
      readonly toSelf: boolean;
    }
  | { readonly kind: 'cancel'; readonly id: string }
  | { readonly kind: 'spawn'; readonly id: string; readonly actorRef: AnyActorRef | undefined }
  | { readonly kind: 'stop'; readonly actorRef: AnyActorRef | undefined }
  | { readonly kind: 'emit'; readonly event: EventObject };

/** What one event does to a snapshot, microstep by microstep. @internal */
export interface Macrostep {
  readonly snapshot: AnyMachineSnapshot;
  readonly microsteps: readonly Microstep[];
  /** The actions with tracked effects, in the order an actor executes them. */
  readonly actions: readonly TrackedAction[];
}

/** Pure transitions of a machine that also tell which transitions were taken. @internal */
export interface MacrostepRunner {
  /** The initial snapshot, and the microsteps after the initial one (`always`, raised events). */
  initial(input: unknown): Macrostep;
  /** The snapshot after `event`, and every microstep the machine took for it. */
  next(snapshot: AnyMachineSnapshot, event: EventObject): Macrostep;
}

/**
 * This module is the only place that reads XState internals: XState reports each microstep of a
 * macrostep as an `@xstate.microstep` inspection event whose (undocumented) `_transitions` holds
 * the transition definitions it took. That is the one exact record of what the machine did on
 * its own after an event: `onDone` (`xstate.done.state.*`), raised events, `always` chains and
 * the states passed through on the way. `getMicrosteps` gives the snapshots but not the
 * transitions, and guessing them from the snapshots is wrong for guarded branches with one
 * target. Each call checks the record is there, so an XState that changes it fails loudly here
 * instead of silently under-reporting coverage.
 *
 * The scope is XState's inert one (as `xstate/graph`'s traversal uses): actions are resolved,
 * never executed, so the model stays pure.
 *
 * @internal
 */
export function createMacrostepRunner(machine: AnyStateMachine): MacrostepRunner {
  let recording: Microstep[] | undefined;
  let actions: TrackedAction[] = [];
  // Executable actions are recorded, never executed: `params` of XState's built-in actions
  // (`xstate.raise`, `xstate.sendTo`, `xstate.cancel`, `xstate.spawnChild`, `xstate.stopChild`,
  // `xstate.emit`) are what their `execute` would act on.
  const scope = createInertScope((action) => {
    const tracked = trackAction(action, scope.self);
    if (tracked) actions.push(tracked);
  });
  scope.system.inspect({
    next: (event: {
      type: string;
      event?: EventObject;
      snapshot?: unknown;
      _transitions?: unknown;
    }) => {
      if (event.type !== '@xstate.microstep' || !recording) return;
      if (!Array.isArray(event._transitions)) {
        throw new Error(
          'session-process/testing: this XState version no longer reports the transitions of a ' +
            "microstep (`_transitions` of '@xstate.microstep'); coverage cannot be computed",
        );
      }
      recording.push({
        event: event.event as EventObject,
        transitions: event._transitions as AnyTransitionDefinition[],
        snapshot: event.snapshot as AnyMachineSnapshot,
      });
    },
  });

  const record = (compute: () => AnyMachineSnapshot, external: boolean): Macrostep => {
    const microsteps: Microstep[] = [];
    recording = microsteps;
    actions = [];
    let snapshot: AnyMachineSnapshot;
    try {
      snapshot = compute();
    } finally {
      recording = undefined;
    }
    if (external && microsteps.length === 0 && snapshot.status !== 'error') {
      // Every external event makes at least one microstep (an empty one when refused).
      throw new Error(
        'session-process/testing: this XState version no longer reports microsteps as ' +
          "'@xstate.microstep' inspection events; coverage cannot be computed",
      );
    }
    return { snapshot, microsteps, actions };
  };

  return {
    initial: (input) =>
      record(() => machine.getInitialSnapshot(scope as never, input) as AnyMachineSnapshot, false),
    next: (snapshot, event) =>
      record(() => machine.transition(snapshot, event, scope as never) as AnyMachineSnapshot, true),
  };
}

function trackAction(action: ExecutableAction, self: AnyActorRef): TrackedAction | undefined {
  const params = action.params;
  switch (action.type) {
    case 'xstate.raise':
      return typeof params?.delay === 'number'
        ? { kind: 'delay', id: params.id, event: params.event, delayMs: params.delay, toSelf: true }
        : undefined;
    case 'xstate.sendTo':
      return typeof params?.delay === 'number'
        ? {
            kind: 'delay',
            id: params.id,
            event: params.event,
            delayMs: params.delay,
            toSelf: params.to === self,
          }
        : undefined;
    case 'xstate.cancel':
      return typeof params?.sendId === 'string' ? { kind: 'cancel', id: params.sendId } : undefined;
    case 'xstate.spawnChild':
      return { kind: 'spawn', id: String(params?.id), actorRef: params?.actorRef };
    case 'xstate.stopChild':
      return { kind: 'stop', actorRef: params?.actorRef };
    case 'xstate.emit':
      return params?.event ? { kind: 'emit', event: params.event } : undefined;
    default:
      return undefined;
  }
}

/**
 * How the runner stands in for an invoked actor: `promise` settles with done or error,
 * `observable` also emits values (`xstate.snapshot.<id>` to its parent), `callback` sends events
 * back and can fail. Machines and other logic are stood in for as promises (settled by the
 * path's done and error events), as before inline invocations were supported.
 * @internal
 */
export type InvocationKind = 'promise' | 'callback' | 'observable';

const kinds = new WeakMap<object, InvocationKind>();

/**
 * The kind of an actor logic, told by XState's own transition of each kind (there is no public
 * marker): a promise logic completes on `xstate.promise.resolve`, an observable takes
 * `xstate.observable.next` as its context; a callback (or event observable) is any other logic
 * with a `start` and no state nodes.
 * @internal
 */
export function invocationKindOf(logic: AnyActorLogic | undefined): InvocationKind {
  if (!logic || typeof logic !== 'object') return 'promise';
  const known = kinds.get(logic);
  if (known) return known;
  const probe = (type: string) => {
    try {
      return logic.transition(
        { status: 'active', output: undefined, error: undefined, context: undefined } as never,
        { type, data: 1 } as never,
        { self: {} } as never,
      ) as { status?: string; output?: unknown; context?: unknown };
    } catch {
      return undefined;
    }
  };
  let kind: InvocationKind = 'promise';
  if ('root' in logic) kind = 'promise';
  else if (probe('xstate.promise.resolve')?.output === 1) kind = 'promise';
  else if (probe('xstate.observable.next')?.context === 1) kind = 'observable';
  else if (typeof (logic as { start?: unknown }).start === 'function') kind = 'callback';
  kinds.set(logic, kind);
  return kind;
}

/**
 * Whether XState relays this child's snapshots to its parent (`onSnapshot` on the invoke:
 * `syncSnapshot`), the first one as soon as the child starts. Read from the actor's options.
 * @internal
 */
export function syncsSnapshot(actorRef: AnyActorRef | undefined): boolean {
  return (
    (actorRef as { options?: { syncSnapshot?: unknown } } | undefined)?.options?.syncSnapshot ===
    true
  );
}

/**
 * `macrostep` followed by what the children it started send at once: a child with
 * `syncSnapshot` relays its initial snapshot to its parent when it starts (as
 * `xstate.snapshot.<id>`), which the parent handles right after the step.
 * @internal
 */
export function withStartedChildren(runner: MacrostepRunner, macrostep: Macrostep): Macrostep {
  let result = macrostep;
  for (let i = 0; i < result.actions.length; i++) {
    const action = result.actions[i] as TrackedAction;
    if (action.kind !== 'spawn' || !syncsSnapshot(action.actorRef)) continue;
    if (result.snapshot.status !== 'active') break;
    if (result.snapshot.children?.[action.id] !== action.actorRef) continue;
    const event = {
      type: `xstate.snapshot.${action.id}`,
      snapshot: action.actorRef?.getSnapshot(),
    };
    const more = runner.next(result.snapshot, event);
    result = {
      snapshot: more.snapshot,
      microsteps: [...result.microsteps, ...more.microsteps],
      actions: [...result.actions, ...more.actions],
    };
  }
  return result;
}

/**
 * Sends `event` to the parent of `actor`, as a callback actor's `sendBack` does (XState keeps
 * the parent in the undocumented `_parent`).
 * @internal
 */
export function sendToParent(actor: AnyActorRef, event: EventObject): void {
  (actor as { _parent?: AnyActorRef })._parent?.send(event);
}
