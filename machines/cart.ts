import { assign, fromPromise, not, setup, stateIn } from 'xstate';
import { callIdOf, reply } from 'session-process';
import { findProduct } from './catalog.js';

/** One line of the cart. `price` is the unit price in cents, copied from the catalog when added. */
export interface CartItem {
  sku: string;
  name: string;
  qty: number;
  price: number;
}

/** The cart session's context. Prices are in cents. */
export interface CartContext {
  items: CartItem[];
  /** The logged-in user's name, or `null` when anonymous. */
  user: string | null;
  /** Set when a payment succeeds; cleared by `order.new`. */
  orderId: string | null;
  /** Why the last payment failed (`'card_declined'`, ...), or `null`. */
  lastError: string | null;
  /** The call id of the pending `checkout.pay` call, answered when the payment settles. */
  payCall: string | null;
  /** From the input, kept in context because delays and invocations read them from there. */
  settings: { reservationMs: number; paymentDelayMs: number };
}

/** Input of `cartMachine` (the `input` given to `sessions.start`). */
export interface CartInput {
  /** How long a non-empty cart is held before it is emptied. @default 900_000 (15 min) */
  reservationMs?: number;
  /** How long the simulated payment provider takes to answer. @default 100 */
  paymentDelayMs?: number;
}

/** What `cart.get` replies. `total` is in cents. */
export interface CartView {
  items: CartItem[];
  total: number;
  user: string | null;
}

/** What `checkout.pay` replies once the payment settles. */
export type PaymentResult = { ok: true; orderId: string } | { ok: false; error: string };

/** Input of the `payment` actor. `amount` is in cents. */
export interface PaymentInput {
  card: string;
  amount: number;
  delayMs: number;
}

export type CartEvent =
  | { type: 'cart.add'; sku: string; qty?: number }
  | { type: 'cart.remove'; sku: string }
  | { type: 'cart.clear' }
  | { type: 'cart.get' }
  | { type: 'auth.login'; user: string }
  | { type: 'auth.logout' }
  | { type: 'checkout.start' }
  | { type: 'checkout.pay'; card: string }
  | { type: 'checkout.cancel' }
  | { type: 'order.new' };

/** The test card number the simulated payment provider always declines. */
export const DECLINED_CARD = '4000000000000002';

/** Sum of `qty * price` over the items, in cents. */
export function totalOf(items: readonly CartItem[]): number {
  return items.reduce((sum, item) => sum + item.qty * item.price, 0);
}

function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

/**
 * The simulated payment provider: answers after `delayMs` of real time, declines
 * {@link DECLINED_CARD} and anything that is not 12–19 digits. A decline is a result, not an
 * error: the promise rejects only when the provider itself fails.
 */
export const payment = fromPromise<PaymentResult, PaymentInput>(async ({ input, signal }) => {
  await wait(input.delayMs, signal);
  if (input.card === DECLINED_CARD) return { ok: false, error: 'card_declined' };
  if (!/^\d{12,19}$/.test(input.card)) return { ok: false, error: 'invalid_card' };
  return { ok: true, orderId: `ord_${globalThis.crypto.randomUUID()}` };
});

/**
 * The demo shop's cart session: a parallel root with an `auth` region (`anonymous` |
 * `loggedIn`) and a `cart` region (`shopping.{empty,active}` | `checkout.{review,paying,failed}`
 * | `ordered`). A non-empty cart is reserved for `reservationMs` and then emptied;
 * `checkout.start` needs a logged-in user and a non-empty cart; `checkout.pay` is a call that the
 * machine answers after the invoked `payment` actor settles (`{ ok: true, orderId }` or
 * `{ ok: false, error }`); `cart.get` replies `{ items, total, user }` in every state.
 *
 * @example
 * ```ts
 * import { createSessionSupervisor } from 'session-process';
 * import { cartMachine } from './machines/cart.js';
 *
 * const sessions = createSessionSupervisor({ logic: cartMachine });
 * await sessions.start('s1', { input: { reservationMs: 10 * 60_000 } });
 * sessions.cast('s1', { type: 'cart.add', sku: 'A1', qty: 2 });
 * sessions.cast('s1', { type: 'auth.login', user: 'ada' });
 * sessions.cast('s1', { type: 'checkout.start' });
 * await sessions.call('s1', { type: 'checkout.pay', card: '4242424242424242' });
 * // { ok: true, orderId: 'ord_…' }
 * await sessions.call('s1', { type: 'cart.get' }); // { items: [], total: 0, user: 'ada' }
 * ```
 */
export const cartMachine = setup({
  types: {
    context: {} as CartContext,
    input: {} as CartInput | undefined,
    events: {} as CartEvent,
  },
  actors: { payment },
  delays: {
    reservation: ({ context }) => context.settings.reservationMs,
  },
  guards: {
    knownProduct: ({ event }) =>
      event.type === 'cart.add' &&
      findProduct(event.sku) !== undefined &&
      (event.qty === undefined || (Number.isInteger(event.qty) && event.qty > 0)),
    inCart: ({ context, event }) =>
      event.type === 'cart.remove' && context.items.some((item) => item.sku === event.sku),
    removesLastItem: ({ context, event }) =>
      event.type === 'cart.remove' &&
      context.items.length === 1 &&
      context.items[0]?.sku === event.sku,
    canCheckout: ({ context }) => context.user !== null && context.items.length > 0,
    validUser: ({ event }) =>
      event.type === 'auth.login' && typeof event.user === 'string' && event.user.length > 0,
  },
  actions: {
    addItem: assign({
      items: ({ context, event }) => {
        if (event.type !== 'cart.add') return context.items;
        const product = findProduct(event.sku);
        if (!product) return context.items;
        const qty = event.qty ?? 1;
        const existing = context.items.find((item) => item.sku === event.sku);
        if (existing) {
          return context.items.map((item) =>
            item.sku === event.sku ? { ...item, qty: item.qty + qty } : item,
          );
        }
        return [
          ...context.items,
          { sku: product.sku, name: product.name, qty, price: product.price },
        ];
      },
    }),
    removeItem: assign({
      items: ({ context, event }) =>
        event.type === 'cart.remove'
          ? context.items.filter((item) => item.sku !== event.sku)
          : context.items,
    }),
    clearItems: assign({ items: [] }),
    setUser: assign({ user: ({ event }) => (event.type === 'auth.login' ? event.user : null) }),
    clearUser: assign({ user: null }),
    keepPayCall: assign({ payCall: ({ event }) => callIdOf(event) ?? null, lastError: null }),
    resetOrder: assign({ orderId: null, lastError: null }),
  },
}).createMachine({
  id: 'cart',
  // The third version of the cart: machines/cartVersions.ts holds the two before it and the
  // migrations from them.
  version: '3',
  type: 'parallel',
  context: ({ input }) => ({
    items: [],
    user: null,
    orderId: null,
    lastError: null,
    payCall: null,
    settings: {
      reservationMs: input?.reservationMs ?? 15 * 60_000,
      paymentDelayMs: input?.paymentDelayMs ?? 100,
    },
  }),
  on: {
    'cart.get': {
      actions: reply(
        ({ context }: { context: CartContext }): CartView => ({
          items: context.items,
          total: totalOf(context.items),
          user: context.user,
        }),
      ),
    },
  },
  states: {
    auth: {
      initial: 'anonymous',
      states: {
        anonymous: {
          on: { 'auth.login': { guard: 'validUser', target: 'loggedIn', actions: 'setUser' } },
        },
        loggedIn: {
          on: {
            // No logout while a payment is in flight: the order would belong to nobody.
            'auth.logout': {
              guard: not(stateIn('#cart.cart.checkout.paying')),
              target: 'anonymous',
              actions: 'clearUser',
            },
          },
        },
      },
    },
    cart: {
      initial: 'shopping',
      states: {
        shopping: {
          initial: 'empty',
          on: { 'checkout.start': { guard: 'canCheckout', target: 'checkout' } },
          states: {
            empty: {
              on: { 'cart.add': { guard: 'knownProduct', target: 'active', actions: 'addItem' } },
            },
            active: {
              after: { reservation: { target: 'empty', actions: 'clearItems' } },
              on: {
                'cart.add': { guard: 'knownProduct', actions: 'addItem' },
                'cart.remove': [
                  { guard: 'removesLastItem', target: 'empty', actions: 'removeItem' },
                  { guard: 'inCart', actions: 'removeItem' },
                ],
                'cart.clear': { target: 'empty', actions: 'clearItems' },
              },
            },
          },
        },
        checkout: {
          initial: 'review',
          states: {
            review: {
              on: {
                'checkout.pay': { target: 'paying', actions: 'keepPayCall' },
                'checkout.cancel': { target: '#cart.cart.shopping.active' },
                'auth.logout': { target: '#cart.cart.shopping.active' },
              },
            },
            paying: {
              invoke: {
                id: 'payment',
                src: 'payment',
                input: ({ context, event }) => ({
                  card: event.type === 'checkout.pay' ? event.card : '',
                  amount: totalOf(context.items),
                  delayMs: context.settings.paymentDelayMs,
                }),
                onDone: [
                  {
                    guard: ({ event }) => event.output.ok,
                    target: '#cart.cart.ordered',
                    actions: [
                      reply(({ event }) => event.output, {
                        to: ({ context }) => context.payCall ?? undefined,
                      }),
                      assign({
                        orderId: ({ event }) => (event.output.ok ? event.output.orderId : null),
                        items: [],
                        payCall: null,
                      }),
                    ],
                  },
                  {
                    target: 'failed',
                    actions: [
                      reply(({ event }) => event.output, {
                        to: ({ context }) => context.payCall ?? undefined,
                      }),
                      assign({
                        lastError: ({ event }) => (event.output.ok ? null : event.output.error),
                        payCall: null,
                      }),
                    ],
                  },
                ],
                onError: {
                  target: 'failed',
                  actions: [
                    reply((): PaymentResult => ({ ok: false, error: 'payment_unavailable' }), {
                      to: ({ context }) => context.payCall ?? undefined,
                    }),
                    assign({ lastError: 'payment_unavailable', payCall: null }),
                  ],
                },
              },
            },
            failed: {
              on: {
                'checkout.pay': { target: 'paying', actions: 'keepPayCall' },
                'checkout.cancel': { target: '#cart.cart.shopping.active' },
                'auth.logout': { target: '#cart.cart.shopping.active' },
              },
            },
          },
        },
        ordered: {
          on: { 'order.new': { target: 'shopping', actions: 'resetOrder' } },
        },
      },
    },
  },
});
