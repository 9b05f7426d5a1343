import {
  type AnyMachineSnapshot,
  type AnyStateMachine,
  type AnyTransitionDefinition,
  type EventObject,
  getInitialMicrosteps,
  getMicrosteps,
  initialTransition,
  transition,
} from 'xstate';
import { getAdjacencyMap, getShortestPaths, getSimplePaths, type StatePath } from 'xstate/graph';
import { formatEvents, formatValue, stableStringify } from './format.js';
import { activeStateNodes, eventsFor, type MachineGraph } from './machineGraph.js';
import type { ModelState, PathStrategy, SessionTestModelOptions } from './types.js';

/** One step of a planned path: the event, and the model's state before and after it. @internal */
export interface PlannedStep {
  event: EventObject;
  before: AnyMachineSnapshot;
  after: AnyMachineSnapshot;
  /** The transitions the model takes for the event (empty: the event is refused, e.g. by a guard). */
  transitions: AnyTransitionDefinition[];
  /** Eventless (`always`) transitions taken after them, in the same macrostep. */
  eventless: AnyTransitionDefinition[];
  /** Snapshots passed through on the way to `after` (transient states of `always` chains). */
  passed: AnyMachineSnapshot[];
}

/** @internal */
export interface PlannedPath {
  title: string;
  events: EventObject[];
  initial: AnyMachineSnapshot;
  /** Eventless transitions taken on the way to the initial state, and the snapshots passed. */
  initialEventless: AnyTransitionDefinition[];
  initialPassed: AnyMachineSnapshot[];
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
 * The `always` transitions taken between consecutive microsteps. XState does not report which
 * transitions a microstep took, so this picks, in each active state node with `always`
 * transitions, the first one whose targets are all active afterwards (a targetless one when the
 * state value did not change): exact for the usual guarded `always` lists.
 */
function eventlessBetween(
  machine: AnyStateMachine,
  snapshots: AnyMachineSnapshot[],
): AnyTransitionDefinition[] {
  const taken: AnyTransitionDefinition[] = [];
  for (let i = 0; i + 1 < snapshots.length; i++) {
    const from = snapshots[i] as AnyMachineSnapshot;
    const to = snapshots[i + 1] as AnyMachineSnapshot;
    const activeAfter = new Set(activeStateNodes(machine, to.value).map((node) => node.id));
    const sameValue = stableStringify(from.value) === stableStringify(to.value);
    for (const node of activeStateNodes(machine, from.value)) {
      const match = (node.always ?? []).find((t: AnyTransitionDefinition) =>
        t.target?.length ? t.target.every((target) => activeAfter.has(target.id)) : sameValue,
      );
      if (match) taken.push(match);
    }
  }
  return taken;
}

/**
 * Replays `events` through the model's pure transitions. The traversal keeps one snapshot per
 * serialized state, so a path's events may lead to a snapshot with another context than the one
 * the traversal stored; replaying gives the exact expected state of every step.
 */
function replay(machine: AnyStateMachine, input: unknown, events: EventObject[]): PlannedPath {
  const [initial] = initialTransition(machine, input);
  const hasAlways = anyAlways(machine);
  const initialPassed = hasAlways
    ? getInitialMicrosteps(machine, input).map(([snapshot]) => snapshot)
    : [];
  const initialEventless = eventlessBetween(machine, initialPassed);
  let current: AnyMachineSnapshot = initial;
  const steps: PlannedStep[] = [];
  for (const event of events) {
    const transitions = machine.getTransitionData(current, event) as AnyTransitionDefinition[];
    const [after] = transition(machine, current, event);
    const passed = hasAlways
      ? getMicrosteps(machine, current, event).map(([snapshot]) => snapshot)
      : [];
    steps.push({
      event,
      before: current,
      after,
      transitions,
      eventless: eventlessBetween(machine, passed),
      passed,
    });
    current = after;
  }
  const title = `${formatEvents(events)} ⇒ ${formatValue(current.value)}`;
  return { title, events, initial, initialEventless, initialPassed, steps };
}

const alwaysCache = new WeakMap<AnyStateMachine, boolean>();

function anyAlways(machine: AnyStateMachine): boolean {
  let has = alwaysCache.get(machine);
  if (has === undefined) {
    const walk = (node: AnyStateMachine['root']): boolean =>
      Boolean(node.always?.length) || Object.values(node.states).some((child) => walk(child));
    has = walk(machine.root);
    alwaysCache.set(machine, has);
  }
  return has;
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
    limit: options.limit ?? 100_000,
    events: (snapshot: AnyMachineSnapshot) =>
      eventsFor(
        graph,
        snapshot,
        typeof userEvents === 'function' ? userEvents(snapshot) : userEvents,
      ),
    serializeState: (snapshot: AnyMachineSnapshot) =>
      serialize({ value: snapshot.value, context: snapshot.context }),
  } as never;

  try {
    return plan(graph, options, strategy, traversal, serialize);
  } catch (error) {
    if (error instanceof Error && error.message === 'Traversal limit exceeded') {
      throw new Error(
        `${options.name ?? machine.id}: more than ${options.limit ?? 100_000} traversal steps; ` +
          'make serializeState coarser (a context value that keeps growing makes the graph infinite) or raise `limit`',
        { cause: error },
      );
    }
    throw error;
  }
}

function plan(
  graph: MachineGraph,
  options: SessionTestModelOptions,
  strategy: PathStrategy,
  traversal: never,
  serialize: (state: ModelState) => string,
): PlannedPath[] {
  const machine = graph.machine;
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
