import { createSessionTestModel, stateKey } from 'session-process/testing';
import { describe, expect, it } from 'vitest';
import { assign, setup } from 'xstate';

const quiet = { print: false } as const;

/** A basket whose list only grows; three items or more make a bulk order. */
function basketMachine(bulkFrom = 3) {
  return setup({
    types: {
      context: {} as { items: string[] },
      events: {} as { type: 'basket.add'; sku: string } | { type: 'checkout' } | { type: 'back' },
    },
    guards: { isBulk: ({ context }) => context.items.length >= bulkFrom },
  }).createMachine({
    id: 'basket',
    context: { items: [] },
    initial: 'shopping',
    states: {
      shopping: {
        on: {
          'basket.add': {
            actions: assign({ items: ({ context, event }) => [...context.items, event.sku] }),
          },
          checkout: [{ guard: 'isBulk', target: 'bulkOrder' }, { target: 'order' }],
        },
      },
      order: { on: { back: 'shopping' } },
      bulkOrder: { on: { back: 'shopping' } },
    },
  });
}
const events = [
  { type: 'basket.add', sku: 'A1' },
  { type: 'basket.add', sku: 'B2' },
  { type: 'checkout' },
  { type: 'back' },
];

describe('a context that grows without bound', () => {
  it('fails within seconds, naming the field', () => {
    const model = createSessionTestModel(basketMachine(), { events });
    const started = performance.now();
    expect(() => model.getPaths()).toThrow(
      /^basket: context\.items grows without bound: it took more than 1000 distinct values in \d+ configurations \(its length went from 0 to \d+\), so the graph of states is infinite\. Key the state on classes of context\.items instead of its value, e\.g\. serializeState: stateKey\(\{ 'items\.length': \[1, 2\] \}\)/,
    );
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  describe('keyed with stateKey on the boundary classes of items.length', () => {
    const serializeState = stateKey({ 'items.length': [1, 2, 3] });

    it('passes, reaching every state and transition', async () => {
      const model = createSessionTestModel(basketMachine(), { events, serializeState });
      const report = await model.run(quiet);
      expect(report.failures).toEqual([]);
      expect(report.coverage.transitions.missing).toEqual([]);
    });

    it('catches a guard off by one', async () => {
      const model = createSessionTestModel(basketMachine(), { events, serializeState });
      const report = await model.run({ ...quiet, implementation: basketMachine(4) });
      const failure = report.failures.find((f) => f.path.at(-1)?.type === 'checkout');
      expect(failure?.expected).toBe('{"context":{"items.length":">=3"},"value":"bulkOrder"}');
      expect(failure?.actual).toBe('{"context":{"items.length":">=3"},"value":"order"}');
      expect(failure?.path.filter((e) => e.type === 'basket.add')).toHaveLength(3);
    });

    it('refuses classes that hide the guard boundary, naming the contexts either side', () => {
      const model = createSessionTestModel(basketMachine(), {
        events,
        serializeState: stateKey({ 'items.length': [1, 2] }),
      });
      expect(() => model.getPaths()).toThrow(
        /basket: serializeState gives one key to states that behave differently[\s\S]*"items":\["A1","A1"\][\s\S]*checkout takes basket\.shopping on checkout \(#2\)[\s\S]*"items":\["A1","A1","A1"\][\s\S]*checkout takes basket\.shopping on checkout \(#1, guard isBulk\)/,
      );
    });
  });
});

describe('stateKey', () => {
  it('keys numbers on the class between split points and other fields on their value', () => {
    const key = stateKey({ 'items.length': [1, 2], total: [10, 50], coupon: true });
    const of = (context: unknown) => JSON.parse(key({ value: 'cart', context })).context;
    expect(of({ items: [], total: 0, coupon: 'X' })).toEqual({
      coupon: 'X',
      'items.length': '<1',
      total: '<10',
    });
    expect(of({ items: ['a'], total: 10 })).toEqual({
      coupon: null,
      'items.length': '1',
      total: '10..<50',
    });
    expect(of({ items: ['a', 'b', 'c'], total: 99 })['items.length']).toBe('>=2');
  });
});
