import { createSessionTestModel } from 'session-process/testing';
import { describe, expect, it } from 'vitest';
import { assign, setup } from 'xstate';

/**
 * The door of issue 12: `open` is guarded by a flag that an earlier targetless transition
 * (`unlock`) sets in context. Only a key that holds the context tells "closed, locked" from
 * "closed, unlocked", so only such a key explores `open` past the first snapshot.
 */
const door = setup({
  types: {
    context: {} as { unlocked: boolean },
    events: {} as { type: 'unlock' } | { type: 'lock' } | { type: 'open' } | { type: 'close' },
  },
  guards: { isUnlocked: ({ context }) => context.unlocked },
  actions: {
    unlockDoor: assign({ unlocked: true }),
    lockDoor: assign({ unlocked: false }),
  },
}).createMachine({
  id: 'door',
  context: { unlocked: false },
  initial: 'closed',
  states: {
    closed: {
      on: {
        unlock: { actions: 'unlockDoor' },
        lock: { actions: 'lockDoor' },
        open: { guard: 'isUnlocked', target: 'opened' },
      },
    },
    opened: { on: { close: 'closed' } },
  },
});

const events = [{ type: 'unlock' }, { type: 'lock' }, { type: 'open' }, { type: 'close' }];
const quiet = { print: false } as const;

describe('the default state key (value and context)', () => {
  it('explores past a targetless transition that changes context, to full coverage', async () => {
    const model = createSessionTestModel(door, { events });
    const report = await model.run(quiet);
    expect(report.failures).toEqual([]);
    expect(report.coverage.states).toEqual({ reached: 3, total: 3, missing: [] });
    expect(report.coverage.transitions).toEqual({ reached: 4, total: 4, missing: [] });
    expect(report.paths.map((p) => p.title)).toContain('unlock › open › close ⇒ closed');
  });

  it('catches a wrong targetless action, naming the path', async () => {
    const model = createSessionTestModel(door, { events });
    // unlock forgets to set the flag: the door stays shut, and the context says so.
    const implementation = door.provide({ actions: { unlockDoor: assign({ unlocked: false }) } });
    const report = await model.run({ ...quiet, implementation });
    const failure = report.failures.find((f) => f.title === 'unlock › lock ⇒ closed');
    expect(failure?.step).toBe(1);
    expect(failure?.expected).toBe('{"context":{"unlocked":true},"value":"closed"}');
    expect(failure?.actual).toBe('{"context":{"unlocked":false},"value":"closed"}');
    expect(failure?.message).toContain('door: path "unlock › lock ⇒ closed" failed at step 1 of 2');
    expect(failure?.message).toContain('✗ 1. unlock → expected closed');
  });

  it('fails with the coverage message when serializeState keeps the value only', async () => {
    const model = createSessionTestModel(door, {
      events,
      serializeState: ({ value }) => JSON.stringify(value),
    });
    const report = await model.run(quiet);
    expect(report.coverage.states).toMatchObject({ reached: 2, missing: ['door.opened'] });
    expect(report.failures).toHaveLength(1);
    const failure = report.failures[0];
    expect(failure).toMatchObject({ title: 'coverage', step: -1 });
    expect(failure?.actual).toBe('states 66.7% (2/3), transitions 50.0% (2/4)');
    expect(failure?.message).toContain(
      'state door.opened: the transitions into it were never taken: door.closed on open (guard isUnlocked)',
    );
    expect(failure?.message).toContain(
      'transition door.closed on open (guard isUnlocked): its guard isUnlocked never passed on any path',
    );
    expect(failure?.message).toContain('a `serializeState` coarser than what the guards read');
  });

  it('compares the whole context after each step, without compareContext', async () => {
    const model = createSessionTestModel(door, { events });
    const implementation = door.provide({ actions: { lockDoor: assign({ unlocked: true }) } });
    const report = await model.run({ ...quiet, implementation, maxFailures: 1 });
    expect(report.failures[0]?.path).toEqual([{ type: 'lock' }]);
  });
});
