import { createSessionSupervisor } from 'session-process';
import { createSessionTestModel } from 'session-process/testing';
import { describe, expect, it } from 'vitest';
import { counterMachine } from './counter.js';

const model = createSessionTestModel(counterMachine, {
  input: { value: 41 },
  events: [{ type: 'add_one' }, { type: 'get_value' }],
  // The count grows by one with every add_one, without bound: in the key (the default, value and
  // context) it would make the graph infinite. compareContext still checks it after every step.
  serializeState: ({ value }) => JSON.stringify(value),
  calls: ['get_value'],
  compareContext: (context: { count: number }) => context.count,
  checkReply: ({ event, reply, expected }) => {
    if (event.type === 'get_value')
      expect(reply).toBe((expected.context as { count: number }).count);
  },
});

// One test per path, then one that fails below 100 % of states and transitions.
model.describe('counterMachine (model-based)');

describe('counterMachine', () => {
  it('reaches every state and transition through real sessions', async () => {
    const report = await model.run();
    expect(report.failures).toEqual([]);
    expect(report.coverage.states).toMatchObject({ reached: 1, total: 1 });
    expect(report.coverage.transitions).toMatchObject({ reached: 2, total: 2 });
  });

  it('starts from the input value and counts up', async () => {
    const sessions = createSessionSupervisor({ logic: counterMachine });
    try {
      await sessions.start('c1', { input: { value: 41 } });
      sessions.cast('c1', { type: 'add_one' });
      expect(await sessions.call('c1', { type: 'get_value' })).toBe(42);
    } finally {
      await sessions.shutdown();
    }
  });
});
