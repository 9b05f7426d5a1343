import { createSessionTestModel } from 'session-process/testing';
import { describe, expect, it } from 'vitest';
import { assign, raise, setup } from 'xstate';

const quiet = { print: false } as const;

/**
 * An order form that moves on by itself: `details` is done when both of its parallel regions
 * reach their final states (its `onDone`, an `xstate.done.state.*` event the machine raises),
 * `checking` raises `check.ok` on entry, and `confirmed` is passed through on the way to
 * `shipping` (an `always`).
 */
const form = setup({
  types: {
    context: {} as { stamped: boolean; checked: boolean },
    events: {} as { type: 'name.set' } | { type: 'address.set' } | { type: 'check.ok' },
  },
  actions: {
    stamp: assign({ stamped: true }),
    check: assign({ checked: true }),
  },
}).createMachine({
  id: 'form',
  context: { stamped: false, checked: false },
  initial: 'details',
  states: {
    details: {
      type: 'parallel',
      states: {
        name: {
          initial: 'empty',
          states: { empty: { on: { 'name.set': 'done' } }, done: { type: 'final' } },
        },
        address: {
          initial: 'empty',
          states: { empty: { on: { 'address.set': 'done' } }, done: { type: 'final' } },
        },
      },
      onDone: { target: 'checking', actions: 'stamp' },
    },
    checking: {
      entry: raise({ type: 'check.ok' }),
      on: { 'check.ok': { target: 'confirmed', actions: 'check' } },
    },
    confirmed: { always: 'shipping' },
    shipping: {},
  },
});

const events = [{ type: 'name.set' }, { type: 'address.set' }];

describe('transitions the machine takes on its own events', () => {
  it('counts onDone, raised events and the states passed through', async () => {
    const report = await createSessionTestModel(form, { events }).run(quiet);
    expect(report.failures).toEqual([]);
    expect(report.coverage.states).toMatchObject({ reached: 11, total: 11, missing: [] });
    expect(report.coverage.transitions).toEqual({ reached: 5, total: 5, missing: [] });
  });

  it('catches a wrong action on the onDone transition, at the step that completed the state', async () => {
    const implementation = form.provide({ actions: { stamp: assign({ stamped: false }) } });
    const report = await createSessionTestModel(form, { events }).run({ ...quiet, implementation });
    const failure = report.failures.find((f) => f.step > 0);
    expect(failure?.path).toEqual([{ type: 'name.set' }, { type: 'address.set' }]);
    expect(failure?.expected).toContain('"stamped":true');
    expect(failure?.actual).toContain('"stamped":false');
    expect(failure?.message).toContain('✗ 2. address.set → expected shipping');
  });

  it('catches a wrong action on a raised event', async () => {
    const implementation = form.provide({ actions: { check: () => {} } });
    const report = await createSessionTestModel(form, { events }).run({ ...quiet, implementation });
    expect(report.failures[0]?.expected).toContain('"checked":true');
    expect(report.failures[0]?.actual).toContain('"checked":false');
  });
});
