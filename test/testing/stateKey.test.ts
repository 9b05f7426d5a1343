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

  it('refuses a serializeState that merges states whose guards decide differently', async () => {
    const model = createSessionTestModel(door, {
      events,
      serializeState: ({ value }) => JSON.stringify(value),
    });
    await expect(model.run(quiet)).rejects.toThrow(
      [
        'door: serializeState gives one key to states that behave differently, so the traversal tests only the first of them:',
        '  key: "closed"',
        '  at {"context":{"unlocked":false},"value":"closed"}',
        '    open takes (refused)',
        '  at {"context":{"unlocked":true},"value":"closed"}',
        '    open takes door.closed on open (guard isUnlocked)',
        'The key hides a guard boundary',
      ].join('\n'),
    );
  });

  it('compares the whole context after each step, without compareContext', async () => {
    const model = createSessionTestModel(door, { events });
    const implementation = door.provide({ actions: { lockDoor: assign({ unlocked: true }) } });
    const report = await model.run({ ...quiet, implementation, maxFailures: 1 });
    expect(report.failures[0]?.path).toEqual([{ type: 'lock' }]);
  });
});
