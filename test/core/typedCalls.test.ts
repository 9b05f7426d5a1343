import { describe, expect, expectTypeOf, it } from 'vitest';
import { assign, setup } from 'xstate';
import { createSessionSupervisor, reply } from 'session-process';

const cart = setup({
  types: {
    context: {} as { items: string[] },
    events: {} as { type: 'cart.add'; sku: string } | { type: 'cart.count' },
  },
}).createMachine({
  context: { items: [] },
  on: {
    'cart.add': {
      actions: assign({ items: ({ context, event }) => [...context.items, event.sku] }),
    },
    'cart.count': { actions: reply(({ context }) => context.items.length) },
  },
});

describe('typed calls', () => {
  it("takes the machine's own events and the reply type it is told", async () => {
    const sessions = createSessionSupervisor({ logic: cart });
    await sessions.start('t');
    sessions.cast('t', { type: 'cart.add', sku: 'A1' });
    const count = await sessions.call<number>('t', { type: 'cart.count' });
    expectTypeOf(count).toEqualTypeOf<number>();
    expect(count).toBe(1);
    // @ts-expect-error: a misspelt event type is a compile error
    expect(() => sessions.cast('t', { type: 'cart.ad', sku: 'A1' })).not.toThrow();
    // @ts-expect-error: so is a missing field
    await sessions.call('t', { type: 'cart.add' }, { timeoutMs: 10 }).catch(() => {});
    await sessions.shutdown();
  });

  it('takes any event when the logics are untyped', async () => {
    const sessions = createSessionSupervisor({ logics: {} as Record<string, any> });
    expectTypeOf(sessions.cast).parameter(1).toMatchTypeOf<{ type: string }>();
    await sessions.shutdown();
  });
});
