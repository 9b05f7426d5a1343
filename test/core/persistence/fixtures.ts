import { assign, fromPromise, setup } from 'xstate';
import { reply } from 'session-process';

/** A small cart: items, a reservation that lapses after `holdMs`, a payment that is invoked. */
export const shelf = setup({
  types: {
    context: {} as { items: string[]; paid: number },
    events: {} as
      | { type: 'add'; sku: string }
      | { type: 'put'; sku: string }
      | { type: 'count' }
      | { type: 'hold' }
      | { type: 'pay' },
    input: {} as { holdMs?: number } | undefined,
  },
  delays: { hold: ({ context }) => (context as { holdMs?: number }).holdMs ?? 2_000 },
  actors: {
    charge: fromPromise(async () => {
      shelfCharges.count++;
      await new Promise((r) => setTimeout(r, 20));
      return 'ok';
    }),
  },
}).createMachine({
  context: ({ input }) => ({
    items: [],
    paid: 0,
    ...(input?.holdMs ? { holdMs: input.holdMs } : {}),
  }),
  initial: 'open',
  states: {
    open: {
      on: {
        add: { actions: assign({ items: ({ context, event }) => [...context.items, event.sku] }) },
        put: {
          actions: [
            assign({ items: ({ context, event }) => [...context.items, event.sku] }),
            reply(({ context }) => context.items.length),
          ],
        },
        count: { actions: reply(({ context }) => context.items.length) },
        hold: 'held',
        pay: 'paying',
      },
    },
    held: {
      after: { hold: 'lapsed' },
      on: { count: { actions: reply(({ context }) => context.items.length) } },
    },
    lapsed: { on: { count: { actions: reply(({ context }) => context.items.length) } } },
    paying: {
      invoke: {
        src: 'charge',
        onDone: { target: 'open', actions: assign({ paid: ({ context }) => context.paid + 1 }) },
      },
    },
  },
});

/** How many times the payment ran (an invocation runs again after a restore). */
export const shelfCharges = { count: 0 };
