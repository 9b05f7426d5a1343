import type { AnyMachineSnapshot, AnyTransitionDefinition, EventObject } from 'xstate';
import { getInitialMicrosteps } from 'xstate';
import type { Configuration, ConfigurationModel, ModelStep } from './configurations.js';
import { Reached } from './coverage.js';
import {
  type Exploration,
  type ExploredConfiguration,
  type ExploredEdge,
  exploreConfigurations,
} from './exploreConfigurations.js';
import { formatEvents, formatValue, stableStringify } from './format.js';
import type { MachineGraph } from './machineGraph.js';
import type { TrackedAction } from './macrosteps.js';
import type { ModelState, PathStrategy, SessionTestModelOptions } from './types.js';

/** One step of a planned path: the event, and the model's state before and after it. @internal */
export interface PlannedStep {
  event: EventObject;
  /** How the event reaches the session (sent, fired by the clock, settled or emitted by a child). */
  step: ModelStep;
  before: AnyMachineSnapshot;
  after: AnyMachineSnapshot;
  /** The model's configuration after the step (pending delays, children). */
  config: Configuration;
  /** The transitions the model takes for the event itself (empty: refused, e.g. by a guard). */
  transitions: readonly AnyTransitionDefinition[];
  /**
   * Every transition of the macrostep: the event's, then those the machine takes on its own
   * (`always`, raised events, `onDone` of a compound or parallel state).
   */
  taken: AnyTransitionDefinition[];
  /** Snapshots passed through on the way to `after` (transient states). */
  passed: AnyMachineSnapshot[];
  /** The seed `Math.random` draws from during the step (when the model has a `seed`). */
  seed: number | undefined;
  /** Invocations running after the step, each with how often it was started on the path. */
  children: string;
}

/** @internal */
export interface PlannedPath {
  title: string;
  events: EventObject[];
  initial: AnyMachineSnapshot;
  initialConfig: Configuration;
  initialSeed: number | undefined;
  initialChildren: string;
  /** Transitions taken on the way to the initial state, and the snapshots passed. */
  initialTaken: AnyTransitionDefinition[];
  initialPassed: AnyMachineSnapshot[];
  steps: PlannedStep[];
}

/** What a strategy plans: the paths, and what they cover when every one passes. @internal */
export interface Plan {
  paths: PlannedPath[];
  /** State ids and transition keys the paths reach when every one of them passes. */
  states: Set<string>;
  transitions: Set<string>;
}

/**
 * The default state key: the state value and the context, as `xstate/graph`'s default
 * (`serializeSnapshot`) has it, with object keys sorted so that a state read back over HTTP in
 * another key order still matches. An empty context is left out, as `xstate/graph` does.
 * @internal
 */
export function defaultSerializeState(state: ModelState): string {
  const { value, context } = state;
  const empty =
    context === undefined ||
    context === null ||
    (typeof context === 'object' && Object.keys(context).length === 0);
  return stableStringify(empty ? { value } : { value, context });
}

const stepKeys = new WeakMap<ModelStep, string>();
function stepKey(step: ModelStep): string {
  let key = stepKeys.get(step);
  if (key === undefined) {
    key = `${step.kind} ${step.child ?? ''} ${stableStringify(step.event)}`;
    stepKeys.set(step, key);
  }
  return key;
}

/** Counts the starts of controlled invocations along a path: `fetch#1, ticker#2`. */
function childrenAfter(config: Configuration, starts: ReadonlyMap<string, number>): string {
  return config.children
    .filter((c) => c.kind !== 'uncontrolled' && c.status === 'active')
    .map((c) => `${c.id}#${starts.get(c.id) ?? 0}`)
    .join(', ');
}

function countStarts(
  model: ConfigurationModel,
  actions: readonly TrackedAction[],
  starts: Map<string, number>,
): Map<string, number> {
  let out = starts;
  for (const a of actions) {
    if (a.kind !== 'spawn' || !model.isControlled((a.actorRef as { src?: unknown })?.src)) continue;
    if (out === starts) out = new Map(starts);
    out.set(a.id, (out.get(a.id) ?? 0) + 1);
  }
  return out;
}

/**
 * Replays step sequences through the model, sharing the steps of common prefixes (a
 * 'transitions' plan is a shortest-path tree plus one edge per path, so nearly every step is
 * shared). The traversal keeps one configuration per key, so a path's steps may lead to a
 * configuration with another context than the one the traversal stored (with a coarse
 * `serializeState`); replaying gives the exact expected state of every step.
 */
class Replayer {
  readonly #model: ConfigurationModel;
  readonly #exploration: Exploration;
  readonly #initialPassed: AnyMachineSnapshot[];
  readonly #initialTaken: AnyTransitionDefinition[];
  readonly #initialStarts: Map<string, number>;
  readonly #root: TrieNode = newNode();
  readonly #byKey: Map<string, ExploredConfiguration>;
  readonly #edges = new WeakMap<ExploredConfiguration, Map<string, ExploredEdge>>();

  constructor(graph: MachineGraph, exploration: Exploration, input: unknown) {
    this.#model = exploration.model;
    this.#exploration = exploration;
    this.#byKey = new Map(exploration.configurations.map((c) => [c.key, c]));
    const { macrostep } = exploration.initial;
    this.#initialTaken = macrostep.microsteps.flatMap((m) => m.transitions);
    // The states entered by the initial microstep itself and left at once (by `always`, say).
    this.#initialPassed = [
      ...getInitialMicrosteps(graph.machine, input).map(([snapshot]) => snapshot),
      ...macrostep.microsteps.map((m) => m.snapshot),
    ];
    this.#initialStarts = countStarts(this.#model, macrostep.actions, new Map());
  }

  /** The traversal's edge for `key` from `config`, when the traversal stored that exact one. */
  #explored(config: Configuration, key: string): ExploredEdge | undefined {
    const rep = this.#byKey.get(config.key);
    if (!rep || rep.exactKey !== config.exactKey) return undefined;
    let edges = this.#edges.get(rep);
    if (!edges) {
      edges = new Map(rep.edges.map((e) => [stepKey(e.step), e]));
      this.#edges.set(rep, edges);
    }
    return edges.get(key);
  }

  replay(sequence: readonly ModelStep[]): PlannedPath {
    const initial = this.#exploration.configurations[0] as Configuration;
    let current: Configuration = initial;
    let starts = this.#initialStarts;
    let node = this.#root;
    const steps: PlannedStep[] = [];
    for (const wanted of sequence) {
      node = childOf(node, wanted);
      let step = node.step;
      if (!step) {
        // The same step in the exact configuration (a timer or child of the same key). Where
        // the traversal took it from this very configuration, this second computation is
        // compared with its first: a model that differs is nondeterministic.
        const key = stepKey(wanted);
        const explored = this.#explored(current, key);
        const own =
          explored?.step ??
          this.#model.stepsFrom(current).find((s) => stepKey(s) === key) ??
          wanted;
        const { to, macrostep, seed } = this.#model.next(current, own, !explored);
        if (explored) this.#model.assertSame(current, own, explored.transition.to, to);
        const after = countStarts(this.#model, macrostep.actions, starts);
        step = {
          event: own.event,
          step: own,
          before: current.snapshot,
          after: to.snapshot,
          config: to,
          transitions: macrostep.microsteps[0]?.transitions ?? [],
          taken: macrostep.microsteps.flatMap((m) => m.transitions),
          passed: macrostep.microsteps.map((m) => m.snapshot),
          seed,
          children: childrenAfter(to, after),
        };
        node.step = step;
        node.starts = after;
      }
      steps.push(step);
      current = step.config;
      starts = node.starts ?? starts;
    }
    const events = steps.map((s) => s.event);
    const last = current.snapshot;
    const title = `${formatEvents(events)} ⇒ ${formatValue(last.value)}${last.status === 'done' ? ' (final)' : ''}`;
    return {
      title,
      events,
      initial: initial.snapshot,
      initialConfig: initial,
      initialSeed: this.#exploration.initial.seed,
      initialChildren: childrenAfter(initial, this.#initialStarts),
      initialTaken: this.#initialTaken,
      initialPassed: this.#initialPassed,
      steps,
    };
  }
}

/** A trie of step sequences: shared prefixes are stored (and replayed) once. */
interface TrieNode {
  readonly children: Map<string, TrieNode>;
  /** A sequence ends here. */
  end: boolean;
  /** The step that leads here (replay). */
  step?: PlannedStep;
  starts?: Map<string, number>;
}

const newNode = (): TrieNode => ({ children: new Map(), end: false });

function childOf(node: TrieNode, step: ModelStep): TrieNode {
  const key = stepKey(step);
  let child = node.children.get(key);
  if (!child) {
    child = newNode();
    node.children.set(key, child);
  }
  return child;
}

/**
 * The sequences without duplicates and, with `dropPrefixes`, without those that are a strict
 * prefix of another (checked by that one, since every step is checked). Linear in the total
 * length, through a trie: long paths (a counter taken to 60) stay cheap.
 */
function distinct(sequences: ModelStep[][], dropPrefixes: boolean): ModelStep[][] {
  const root = newNode();
  const ends = sequences.map((seq) => {
    let node = root;
    for (const step of seq) node = childOf(node, step);
    return node;
  });
  for (const end of ends) end.end = true;
  const kept: ModelStep[][] = [];
  sequences.forEach((seq, i) => {
    const end = ends[i] as TrieNode;
    if (!end.end || (dropPrefixes && end.children.size > 0)) return;
    end.end = false; // the first of equal sequences is kept
    kept.push(seq);
  });
  return kept;
}

/**
 * Generates the paths of a strategy from the traversal of the machine's configurations
 * ({@link exploreConfigurations}). @internal
 */
export function planPaths(
  graph: MachineGraph,
  options: SessionTestModelOptions,
  strategy: PathStrategy,
  seed: number | undefined = options.seed,
): Plan {
  const exploration = exploreConfigurations(
    graph.machine,
    {
      events: options.events,
      ...(options.serializeState ? { serializeState: options.serializeState } : {}),
      ...(options.emitted ? { emitted: options.emitted } : {}),
      input: options.input,
      ...(seed === undefined ? {} : { seed }),
      name: options.name ?? graph.machine.id,
      checkDeterminism: false,
      ...(options.limit === undefined ? {} : { limit: options.limit }),
      ...(options.maxDistinctValues === undefined
        ? {}
        : { maxDistinctValues: options.maxDistinctValues }),
    },
    graph,
  );
  const sequences = sequencesOf(exploration, strategy, options);
  const unique = distinct(sequences, strategy === 'transitions');
  unique.sort((a, b) => a.length - b.length);
  const replayer = new Replayer(graph, exploration, options.input);
  const paths = unique.map((steps) => replayer.replay(steps));
  const reached = new Reached(graph);
  for (const path of paths) {
    reached.add(path.initial, [path.initial, ...path.initialPassed], path.initialTaken);
    for (const step of path.steps) reached.add(step, [step.after, ...step.passed], step.taken);
  }
  return { paths, states: reached.states, transitions: reached.transitions };
}

function sequencesOf(
  exploration: Exploration,
  strategy: PathStrategy,
  options: SessionTestModelOptions,
): ModelStep[][] {
  const { configurations } = exploration;
  if (strategy === 'shortest') return configurations.map((c) => [...c.steps]);
  if (strategy === 'simple') return simplePaths(exploration, options);
  // A path per transition: the shortest path to its source configuration, then that step.
  const sequences: ModelStep[][] = [[]];
  for (const config of configurations) {
    for (const edge of config.edges) sequences.push([...config.steps, edge.step]);
  }
  return sequences;
}

/**
 * Every simple path (no configuration twice) from the initial configuration, depth first over
 * the explored graph, each also ended by every step back into it (so every transition is
 * taken). Their number grows exponentially with the machine's loops, so the walk
 * stops at `limit` steps and says so.
 */
function simplePaths(exploration: Exploration, options: SessionTestModelOptions): ModelStep[][] {
  const limit = options.limit ?? 100_000;
  const { configurations } = exploration;
  const out: ModelStep[][] = [[]];
  const onPath = new Set<number>([0]);
  const path: ModelStep[] = [];
  let steps = 0;
  const walk = (index: number) => {
    for (const edge of configurations[index]?.edges ?? []) {
      if (++steps > limit) {
        throw new Error(
          `${options.name ?? exploration.graph.machine.id}: paths: 'simple' stopped at ${limit} ` +
            `traversal steps with ${out.length} simple paths found and more to come ` +
            `(${configurations.length} configurations; simple paths grow exponentially with the ` +
            "machine's loops). Use paths: 'transitions' (every transition, one path each) or raise `limit`.",
        );
      }
      path.push(edge.step);
      out.push([...path]);
      if (onPath.has(edge.to)) {
        // The step back into the path is tested (so every transition is), and the path ends.
        path.pop();
        continue;
      }
      onPath.add(edge.to);
      walk(edge.to);
      onPath.delete(edge.to);
      path.pop();
    }
  };
  walk(0);
  return out;
}
