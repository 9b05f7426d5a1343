import type { MachineGraph } from './machineGraph.js';
import type { Coverage, TestFailure } from './types.js';

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

/** Failures for each figure below its threshold (percentages). @internal */
export function checkThresholds(
  name: string,
  coverage: Coverage,
  thresholds: { states?: number; transitions?: number } | undefined,
): TestFailure[] {
  const out: TestFailure[] = [];
  for (const kind of ['states', 'transitions'] as const) {
    const min = thresholds?.[kind];
    if (min === undefined) continue;
    const { reached, total, missing } = coverage[kind];
    const got = percent(reached, total);
    if (got + 1e-9 >= min) continue;
    const expected = `${kind} coverage >= ${min}%`;
    const actual = `${got.toFixed(1)}% (${reached}/${total})`;
    out.push({
      title: `${kind} coverage`,
      path: [],
      step: -1,
      expected,
      actual,
      message: `${name}: ${kind} coverage ${actual} is below the threshold of ${min}%; not reached:\n${missing.map((m) => `  ${m}`).join('\n')}`,
    });
  }
  return out;
}
