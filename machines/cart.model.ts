import { deepStrictEqual } from 'node:assert/strict';
import type { ModelState, SessionTestModelOptions } from 'session-process/testing';
import { type CartContext, totalOf } from './cart.js';

/**
 * The cart's state key: the state value plus which products are in the cart. That tells "remove
 * the last item" from "remove one of two" (the guards read it) and stays finite. The whole
 * context (the default key) would not do: quantities grow with every `cart.add`, and `payCall`
 * holds the id of the real `checkout.pay` call, which the model cannot know.
 *
 * @example
 * ```ts
 * serializeCartState({ value: { auth: 'anonymous', cart: 'ordered' }, context }); // '{"value":…,"skus":["A1"]}'
 * ```
 */
export function serializeCartState({ value, context }: ModelState): string {
  return JSON.stringify({
    value,
    skus: ((context as CartContext | undefined)?.items ?? []).map((i) => i.sku).sort(),
  });
}

/**
 * The model-based test options of `cartMachine`, shared by its own tests and by the demo shop's
 * HTTP test (the same paths through another driver).
 *
 * @example
 * ```ts
 * const model = createSessionTestModel(cartMachine, cartModelOptions);
 * const report = await model.run(); // fails below 100 % of states and transitions
 * ```
 */
export const cartModelOptions: SessionTestModelOptions = {
  input: { reservationMs: 10 * 60_000 },
  // The events tried in each state, with payloads. Done and error events settle the invoked
  // payment (a declined card is its `{ ok: false }` output).
  events: [
    { type: 'cart.add', sku: 'A1' },
    { type: 'cart.add', sku: 'B2', qty: 2 },
    { type: 'cart.add', sku: 'nope' },
    { type: 'cart.remove', sku: 'A1' },
    { type: 'cart.clear' },
    { type: 'cart.get' },
    { type: 'auth.login', user: 'ada' },
    { type: 'auth.logout' },
    { type: 'checkout.start' },
    { type: 'checkout.pay', card: '4242424242424242' },
    { type: 'checkout.cancel' },
    { type: 'order.new' },
    { type: 'xstate.done.actor.payment', output: { ok: true, orderId: 'ord_1' } },
    { type: 'xstate.done.actor.payment', output: { ok: false, error: 'card_declined' } },
    { type: 'xstate.error.actor.payment', error: 'provider down' },
  ],
  // Coarser than the default (value and whole context): see serializeCartState.
  serializeState: serializeCartState,
  compareContext: (context: CartContext) => ({
    items: context.items,
    user: context.user,
    orderId: context.orderId,
    lastError: context.lastError,
  }),
  calls: ['cart.get', 'checkout.pay'],
  checkReply: ({ event, reply, expected }) => {
    const context = expected.context as CartContext;
    if (event.type === 'cart.get') {
      deepStrictEqual(reply, {
        items: context.items,
        total: totalOf(context.items),
        user: context.user,
      });
    }
    if (event.type === 'checkout.pay') {
      deepStrictEqual(
        reply,
        context.orderId
          ? { ok: true, orderId: context.orderId }
          : { ok: false, error: context.lastError },
      );
    }
  },
};
