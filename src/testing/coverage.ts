import type { AnyMachineSnapshot, AnyTransitionDefinition, EventObject } from 'xstate';
import { activeStateNodes, type MachineGraph, type TransitionInfo } from './machineGraph.js';
import type { Coverage, MinCoverage, PathStrategy, TestFailure } from './types.js';

/**
 * The state ids and transition keys reached, added step by step. Planned steps are shared by
 * the paths through them, so each is added once: a run of thousands of long paths pays for
 * its distinct steps only.
 * @internal
 */
export class Reached {
  readonly states = new Set<string>();
  readonly transitions = new Set<string>();
  readonly #seen = new WeakSet<object>();

  constructor(readonly graph: MachineGraph) {}

  /** Adds the states active in `snapshots` and the transitions `taken`, once per `owner`. */
  add(
    owner: object,
    snapshots: readonly AnyMachineSnapshot[],
    taken: readonly AnyTransitionDefinition[],
  ): void {
    if (this.#seen.has(owner)) return;
    this.#seen.add(owner);
    for (const snapshot of snapshots) {
      for (const node of activeStateNodes(this.graph.machine, snapshot.value))
        this.states.add(node.id);
    }
    for (const t of taken) {
      const key = this.graph.keyOf(t);
      if (key) this.transitions.add(key);
    }
  }
}

/** Coverage of `graph` from the state ids and transition keys reached. @internal */
export function computeCoverage(
  graph: MachineGraph,
  states: ReadonlySet<string>,
  transitions: ReadonlySet<string>,
): Coverage {
  return {
    states: {
      reached: graph.stateIds.filter((id) => states.has(id)).length,
      total: graph.stateIds.length,
      missing: graph.stateIds.filter((id) => !states.has(id)),
    },
    transitions: {
      reached: graph.transitions.filter((t) => transitions.has(t.key)).length,
      total: graph.transitions.length,
      missing: graph.transitions.filter((t) => !transitions.has(t.key)).map((t) => t.label),
    },
  };
}

function percent(reached: number, total: number): number {
  return total === 0 ? 100 : (reached / total) * 100;
}

/** One printable summary: figures, then what was not reached. @internal */
export function formatCoverage(
  name: string,
  coverage: Coverage,
  paths: number,
  failures: number,
): string {
  const figure = (label: string, f: Coverage['states']) =>
    `${label} ${f.reached}/${f.total} (${percent(f.reached, f.total).toFixed(1)}%)`;
  const lines = [
    `[session-process/testing] ${name}: ${paths} paths, ${failures} failed; ${figure('states', coverage.states)}, ${figure('transitions', coverage.transitions)}`,
  ];
  if (coverage.states.missing.length)
    lines.push(`  states not reached: ${coverage.states.missing.join(', ')}`);
  for (const label of coverage.transitions.missing)
    lines.push(`  transition not reached: ${label}`);
  return lines.join('\n');
}

/** Percentages a run must reach, resolved from `minCoverage` (and the older `coverage`). @internal */
export function resolveMinCoverage(...given: Array<MinCoverage | undefined>): {
  states: number;
  transitions: number;
} {
  const out = { states: 100, transitions: 100 };
  // The first one given wins, figure by figure.
  for (const min of [...given].reverse()) {
    if (min === undefined) continue;
    if (typeof min === 'number') {
      out.states = min;
      out.transitions = min;
    } else {
      if (min.states !== undefined) out.states = min.states;
      if (min.transitions !== undefined) out.transitions = min.transitions;
    }
  }
  return out;
}

/** What the coverage check knows beyond the figures, to say why something was not reached. @internal */
export interface CoverageContext {
  graph: MachineGraph;
  /** What the planned paths reach when every one passes (the model alone). */
  planned: { states: ReadonlySet<string>; transitions: ReadonlySet<string> };
  /** The listed events (`undefined` when `events` is a function of the snapshot). */
  events: readonly EventObject[] | undefined;
  failedPaths: number;
  pathsNotRun: number;
  /** The strategy the paths came from. */
  strategy: PathStrategy;
}

const WHY =
  'Why this usually happens: a guard on context that no path satisfied (with a `serializeState` ' +
  'that leaves that context out, snapshots that differ only in it share one key and the ' +
  'traversal never looks past the first); an event missing from `events`, or listed without ' +
  'the payload a guard wants; a `serializeState` coarser than what the guards read. Accept ' +
  'less with `minCoverage`.';

function descriptorMatches(descriptor: string, type: string): boolean {
  if (descriptor === type || descriptor === '*') return true;
  return descriptor.endsWith('.*') && type.startsWith(descriptor.slice(0, -1));
}

function notRunReason(ctx: CoverageContext): string {
  const parts: string[] = [];
  if (ctx.failedPaths) parts.push('failed (see the failures above)');
  if (ctx.pathsNotRun)
    parts.push(`were among the ${ctx.pathsNotRun} paths not run (maxPaths, maxFailures)`);
  return `the paths that reach it ${parts.join(' or ') || 'did not pass'}`;
}

function transitionReason(t: TransitionInfo, ctx: CoverageContext): string {
  if (ctx.planned.transitions.has(t.key)) return notRunReason(ctx);
  if (!ctx.planned.states.has(t.source)) return `its state ${t.source} is never reached`;
  const internal = t.event.startsWith('xstate.');
  const listedTypes = ctx.events?.map((e) => e.type);
  if (
    t.event !== '' &&
    listedTypes &&
    !listedTypes.some((type) => descriptorMatches(t.event, type))
  ) {
    if (t.event.startsWith('xstate.done.actor.') || t.event.startsWith('xstate.error.actor.')) {
      const field = t.event.startsWith('xstate.done.') ? 'output' : 'error';
      return `no \`{ type: '${t.event}', ${field}: … }\` in \`events\` (list the outcomes of the invocation to test)`;
    }
    if (!internal) return `no event of type \`${t.event}\` in \`events\``;
  }
  if (ctx.strategy !== 'transitions') {
    return `the '${ctx.strategy}' paths do not take every transition (paths: 'transitions' does)`;
  }
  if (t.guard !== undefined) {
    return `its guard ${t.guard} never passed on any path: no listed payload satisfies it, or it reads context that no explored snapshot had`;
  }
  if (t.event.startsWith('xstate.done.state.'))
    return 'the state it belongs to never reaches a final child';
  return 'an earlier transition for the same event is taken first, or the state is always left before it';
}

function stateReason(id: string, ctx: CoverageContext, missing: readonly TransitionInfo[]): string {
  if (ctx.planned.states.has(id)) return notRunReason(ctx);
  const into = ctx.graph.transitions.filter((t) =>
    t.targets.some((target) => target === id || target.startsWith(`${id}.`)),
  );
  const node = ctx.graph.nodes.get(id);
  const parent = node?.parent;
  const enteredWithParent =
    parent !== undefined &&
    (parent.type === 'parallel' ||
      (parent.initial?.target ?? []).some((target: { id: string }) => target.id === id));
  if (into.length === 0 && !enteredWithParent) {
    return 'no transition leads to it: it is unreachable in the machine';
  }
  const untaken = into.filter((t) => missing.includes(t));
  if (untaken.length)
    return `the transitions into it were never taken: ${untaken.map((t) => t.label).join('; ')}`;
  if (enteredWithParent && parent && !ctx.planned.states.has(parent.id))
    return `it is entered with ${parent.id}, which is never reached`;
  return 'the transitions that lead to it target other states of its parent';
}

/**
 * The coverage check: one failure naming every state and transition not reached, each with the
 * likely reason, when a figure is below its minimum. @internal
 */
export function checkCoverage(
  name: string,
  coverage: Coverage,
  min: { states: number; transitions: number },
  ctx: CoverageContext,
): TestFailure | undefined {
  const below = (['states', 'transitions'] as const).filter(
    (kind) => percent(coverage[kind].reached, coverage[kind].total) + 1e-9 < min[kind],
  );
  if (below.length === 0) return undefined;
  const figure = (kind: 'states' | 'transitions') => {
    const { reached, total } = coverage[kind];
    return `${kind} ${percent(reached, total).toFixed(1)}% (${reached}/${total})`;
  };
  const missingTransitions = ctx.graph.transitions.filter((t) =>
    coverage.transitions.missing.includes(t.label),
  );
  const lines = [
    ...coverage.states.missing.map(
      (id) => `  state ${id}: ${stateReason(id, ctx, missingTransitions)}`,
    ),
    ...missingTransitions.map((t) => `  transition ${t.label}: ${transitionReason(t, ctx)}`),
  ];
  const expected = `states >= ${min.states}%, transitions >= ${min.transitions}%`;
  const actual = `${figure('states')}, ${figure('transitions')}`;
  return {
    title: 'coverage',
    path: [],
    step: -1,
    expected,
    actual,
    message: [
      `${name}: coverage is below the minimum (${expected}): ${actual}. Not reached:`,
      ...lines,
      WHY,
    ].join('\n'),
  };
}
