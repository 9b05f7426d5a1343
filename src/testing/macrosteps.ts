import {
  type AnyMachineSnapshot,
  type AnyStateMachine,
  type AnyTransitionDefinition,
  createEmptyActor,
  type EventObject,
} from 'xstate';

/** One microstep of a macrostep: the event it handled and the transitions it took. @internal */
export interface Microstep {
  /** The external event, or an event the machine raised itself (`raise`, `xstate.done.state.*`). */
  readonly event: EventObject;
  /** The transition definitions taken (empty: the event was refused). */
  readonly transitions: readonly AnyTransitionDefinition[];
  /** The snapshot after the microstep (a transient one when more microsteps follow). */
  readonly snapshot: AnyMachineSnapshot;
}

/** What one event does to a snapshot, microstep by microstep. @internal */
export interface Macrostep {
  readonly snapshot: AnyMachineSnapshot;
  readonly microsteps: readonly Microstep[];
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
  const self = createEmptyActor();
  let recording: Microstep[] | undefined;
  self.system.inspect({
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
  const scope = {
    self,
    system: self.system,
    logger: () => {},
    id: '',
    sessionId: '',
    defer: () => {},
    stopChild: () => {},
    emit: () => {},
    actionExecutor: () => {},
  };

  const record = (compute: () => AnyMachineSnapshot, external: boolean): Macrostep => {
    const microsteps: Microstep[] = [];
    recording = microsteps;
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
    return { snapshot, microsteps };
  };

  return {
    initial: (input) =>
      record(() => machine.getInitialSnapshot(scope as never, input) as AnyMachineSnapshot, false),
    next: (snapshot, event) =>
      record(() => machine.transition(snapshot, event, scope as never) as AnyMachineSnapshot, true),
  };
}
