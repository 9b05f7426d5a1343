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
  // The value alone never changes (a machine without child states); the keys held tell states apart.
  serializeState: ({ value, context }) =>
    JSON.stringify({
      value,
      keys: Object.keys((context as KvContext | undefined)?.data ?? {}).sort(),
    }),
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

model.describe('kvMachine (model-based)', { coverage: { states: 100, transitions: 100 } });

describe('kvMachine', () => {
  it('reaches every state and transition through real sessions', async () => {
    const report = await model.run({ coverage: { states: 100, transitions: 100 } });
    expect(report.failures).toEqual([]);
    expect(report.coverage.states).toMatchObject({ reached: 1, total: 1 });
    expect(report.coverage.transitions).toMatchObject({ reached: 4, total: 4 });
  });
});
