import { createSessionTestModel } from 'session-process/testing';
import { describe, expect, it } from 'vitest';
import { assign, createMachine, fromCallback, fromObservable, fromPromise } from 'xstate';

const quiet = { print: false } as const;

interface QuoteContext {
  quote: string | null;
  price: number | null;
  ticked: boolean;
  error: string | null;
}

/** A stock page: loads a quote (promise), follows a price feed (observable), a ticker (callback). */
function quoteMachine(mutant?: 'promise' | 'callback' | 'observable') {
  return createMachine({
    types: {} as { context: QuoteContext },
    id: 'quote',
    context: { quote: null, price: null, ticked: false, error: null },
    initial: 'idle',
    states: {
      idle: { on: { load: 'loading', follow: 'following', tick: 'ticking' } },
      loading: {
        // As XState's examples write them: the logic inline, no name in setup({ actors }).
        invoke: {
          id: 'fetchQuote',
          src: fromPromise(async () => 'quote from the network'),
          onDone: {
            target: 'idle',
            actions: assign({
              quote: ({ event }) => (mutant === 'promise' ? 'stale' : String(event.output)),
            }),
          },
          onError: {
            target: 'idle',
            actions: assign({ error: ({ event }) => String(event.error) }),
          },
        },
      },
      following: {
        invoke: {
          id: 'prices',
          src: fromObservable(() => ({
            subscribe: () => ({ unsubscribe: () => {} }), // a real feed emits on its own
          })),
          onSnapshot: {
            actions: assign({
              price: ({ event }) =>
                (event.snapshot.context as number) + (mutant === 'observable' ? 1 : 0),
            }),
          },
          onDone: 'idle',
          onError: { target: 'idle', actions: assign({ error: 'feed down' }) },
        },
        on: { stop: 'idle' },
      },
      ticking: {
        invoke: {
          id: 'ticker',
          src: fromCallback(({ sendBack }) => {
            const timer = setInterval(() => sendBack({ type: 'tick.received' }), 1_000);
            return () => clearInterval(timer);
          }),
          onError: { target: 'idle', actions: assign({ error: 'ticker failed' }) },
        },
        on: {
          'tick.received': { actions: assign({ ticked: mutant !== 'callback' }) },
          stop: 'idle',
        },
      },
    },
  });
}

const options = {
  events: [
    { type: 'load' },
    { type: 'follow' },
    { type: 'tick' },
    { type: 'stop' },
    { type: 'xstate.done.actor.fetchQuote', output: 'ACME 101' },
    { type: 'xstate.error.actor.fetchQuote', error: 'timeout' },
    { type: 'xstate.done.actor.prices' },
    { type: 'xstate.error.actor.prices', error: 'down' },
    { type: 'xstate.error.actor.ticker', error: 'boom' },
  ],
  emitted: { prices: [101], ticker: [{ type: 'tick.received' }] },
};

describe('inline invocations', () => {
  const model = createSessionTestModel(quoteMachine(), options);

  it('drives inline promise, observable and callback actors: done, emitted and error paths', async () => {
    const report = await model.run(quiet);
    expect(report.failures.map((f) => f.message)).toEqual([]);
    expect(report.coverage.transitions.missing).toEqual([]);
    const starts = (prefix: string) => report.paths.some((p) => p.title.startsWith(prefix));
    expect(starts('load › xstate.done.actor.fetchQuote {"output":"ACME 101"}')).toBe(true);
    expect(starts('load › xstate.error.actor.fetchQuote {"error":"timeout"}')).toBe(true);
    expect(starts('tick › tick.received')).toBe(true);
    expect(starts('tick › xstate.error.actor.ticker {"error":"boom"}')).toBe(true);
    expect(starts('follow › xstate.snapshot.prices')).toBe(true);
    expect(starts('follow › xstate.error.actor.prices {"error":"down"}')).toBe(true);
    expect(starts('follow › xstate.done.actor.prices')).toBe(true);
  });

  it.each([
    ['promise', 'load › xstate.done.actor.fetchQuote'],
    ['observable', 'follow › xstate.snapshot.prices'],
    ['callback', 'tick › tick.received'],
  ] as const)('catches a wrong handler of an inline %s', async (mutant, path) => {
    const report = await model.run({ ...quiet, implementation: quoteMachine(mutant) });
    const failure = report.failures.find((f) => f.title.startsWith(path));
    expect(failure?.step).toBe(2);
  });
});
