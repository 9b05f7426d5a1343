import {
  type AnyMachineSnapshot,
  type AnyStateMachine,
  type AnyTransitionDefinition,
  type EventObject,
  initialTransition,
  transition,
} from 'xstate';
import { getAdjacencyMap, getShortestPaths, getSimplePaths, type StatePath } from 'xstate/graph';
import { formatEvents, formatValue, stableStringify } from './format.js';
import { eventsFor, type MachineGraph } from './machineGraph.js';
import type { ModelState, PathStrategy, SessionTestModelOptions } from './types.js';

/** One step of a planned path: the event, and the model's state before and after it. @internal */
export interface PlannedStep {
  event: EventObject;
  before: AnyMachineSnapshot;
  after: AnyMachineSnapshot;
  /** The transitions the model takes for the event (empty: the event is refused, e.g. by a guard). */
  transitions: AnyTransitionDefinition[];
}

/** @internal */
export interface PlannedPath {
  title: string;
  events: EventObject[];
  initial: AnyMachineSnapshot;
  steps: PlannedStep[];
}

/** @internal */
export function defaultSerializeState(state: ModelState): string {
  return stableStringify(state.value);
}

function eventsOfGraphPath(path: StatePath<AnyMachineSnapshot, EventObject>): EventObject[] {
  // xstate/graph paths start with a step for `xstate.init`; each later step holds the event
  // that led to its state.
  return path.steps.slice(1).map((step) => step.event);
}

/**
 * Replays `events` through the model's pure transitions. The traversal keeps one snapshot per
 * serialized state, so a path's events may lead to a snapshot with another context than the one
 * the traversal stored; replaying gives the exact expected state of every step.
 */
function replay(machine: AnyStateMachine, input: unknown, events: EventObject[]): PlannedPath {
  const [initial] = initialTransition(machine, input);
  let current: AnyMachineSnapshot = initial;
  const steps: PlannedStep[] = [];
  for (const event of events) {
    const transitions = machine.getTransitionData(current, event) as AnyTransitionDefinition[];
    const [after] = transition(machine, current, event);
    steps.push({ event, before: current, after, transitions });
    current = after;
  }
  return {
    title: `${formatEvents(events)} ⇒ ${formatValue(current.value)}`,
    events,
    initial,
    steps,
  };
}

/** Event sequences that are a strict prefix of another one are checked by that one. */
function dropPrefixes(sequences: EventObject[][]): EventObject[][] {
  const keys = sequences.map((seq) => seq.map((e) => stableStringify(e)));
  return sequences.filter((_, i) => {
    const mine = keys[i] ?? [];
    return !keys.some(
      (other, j) =>
        j !== i && other.length > mine.length && mine.every((key, at) => other[at] === key),
    );
  });
}

/** Generates the paths of a strategy with `xstate/graph`'s traversal. @internal */
export function planPaths(
  graph: MachineGraph,
  options: SessionTestModelOptions,
  strategy: PathStrategy,
): PlannedPath[] {
  const machine = graph.machine;
  const serialize = options.serializeState ?? defaultSerializeState;
  const userEvents = options.events;
  const traversal = {
    input: options.input,
    limit: options.limit ?? 10_000,
    events: (snapshot: AnyMachineSnapshot) =>
      eventsFor(
        graph,
        snapshot,
        typeof userEvents === 'function' ? userEvents(snapshot) : userEvents,
      ),
    serializeState: (snapshot: AnyMachineSnapshot) =>
      serialize({ value: snapshot.value, context: snapshot.context }),
  } as never;

  let sequences: EventObject[][];
  if (strategy === 'shortest') {
    sequences = getShortestPaths(machine, traversal).map(eventsOfGraphPath);
  } else if (strategy === 'simple') {
    sequences = [[], ...getSimplePaths(machine, traversal).map(eventsOfGraphPath)];
  } else {
    // A path per transition: the shortest path to its source state, then that transition.
    const shortest = new Map<string, EventObject[]>();
    for (const path of getShortestPaths(machine, traversal)) {
      const state = path.state as AnyMachineSnapshot;
      shortest.set(
        serialize({ value: state.value, context: state.context }),
        eventsOfGraphPath(path),
      );
    }
    sequences = [[]];
    const adjacency = getAdjacencyMap(machine, traversal) as unknown as Record<
      string,
      { transitions: Record<string, { event: EventObject }> }
    >;
    for (const [stateKey, entry] of Object.entries(adjacency)) {
      const prefix = shortest.get(stateKey);
      if (!prefix) continue;
      for (const { event } of Object.values(entry.transitions)) sequences.push([...prefix, event]);
    }
    sequences = dropPrefixes(sequences);
  }

  const seen = new Set<string>();
  const unique = sequences.filter((seq) => {
    const key = stableStringify(seq);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  unique.sort((a, b) => a.length - b.length);
  return unique.map((events) => replay(machine, options.input, events));
}
