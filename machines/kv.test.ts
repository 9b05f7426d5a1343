import { createSessionTestModel } from 'session-process/testing';
import { describe, expect, it } from 'vitest';
import { kvMachine } from './kv.js';

type KvContext = { data: Record<string, unknown> };

const model = createSessionTestModel(kvMachine, {
  events: [
    { type: 'put', key: 'theme', value: 'dark' },
    { type: 'put', key: 'lang', value: 'en' },
    { type: 'get', key: 'theme' },
    { type: 'get', key: 'missing' },
    { type: 'delete', key: 'theme' },
    { type: 'ping' },
  ],
  // The default key (value and context) tells the stores apart: the listed puts and deletes
  // give finitely many ({}, theme, lang, both).
  compareContext: (context: KvContext) => context.data,
  calls: ['get', 'ping'],
  checkReply: ({ event, reply, expected }) => {
    if (event.type === 'ping') expect(reply).toBe('pong');
    if (event.type === 'get') {
      const { key } = event as { type: 'get'; key: string };
      expect(reply).toEqual((expected.context as KvContext).data[key] ?? null);
    }
  },
});

// One test per path, then one that fails below 100 % of states and transitions.
model.describe('kvMachine (model-based)');

describe('kvMachine', () => {
  it('reaches every state and transition through real sessions', async () => {
    const report = await model.run();
    expect(report.failures).toEqual([]);
    expect(report.coverage.states).toMatchObject({ reached: 1, total: 1 });
    expect(report.coverage.transitions).toMatchObject({ reached: 4, total: 4 });
  });
});
