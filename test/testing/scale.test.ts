import { createSessionTestModel } from 'session-process/testing';
import { describe, expect, it } from 'vitest';
import { getAdjacencyMap } from 'xstate/graph';
import { studioEvents, studioMachine } from '../../bench/studioMachine.js';

// The timing of this run is measured by bench/testing.ts (plain node, XState's production
// build); this test checks the counts only, so it cannot flake on a busy machine.
describe('a parallel machine with 1,205 states by value and context', () => {
  const model = createSessionTestModel(studioMachine, { events: studioEvents });

  it('plans a path per transition of every state, with no cap', () => {
    const states = Object.keys(getAdjacencyMap(studioMachine, { events: studioEvents } as never));
    expect(states).toHaveLength(1_205);
    expect(model.getPaths()).toHaveLength(3_129);
  });

  it('runs every path, to 100 % of states and transitions', { timeout: 120_000 }, async () => {
    const report = await model.run({ print: false });
    expect(report.failures).toEqual([]);
    expect(report.paths).toHaveLength(3_129);
    expect(report.pathsNotRun).toBe(0);
    expect(report.coverage.states).toEqual({ reached: 9, total: 9, missing: [] });
    expect(report.coverage.transitions).toEqual({ reached: 10, total: 10, missing: [] });
  });
});
