import { assign, setup } from 'xstate';
import {
  callIdOf,
  type MigratableSnapshot,
  machineVersions,
  reply,
  type SnapshotMigration,
  type StoredTimer,
} from 'session-process';
import {
  type CartContext,
  type CartEvent,
  type CartView,
  cartMachine,
  type PaymentResult,
  payment,
  totalOf,
} from './cart.js';
import { findProduct } from './catalog.js';

/**
 * The cart's earlier versions and the migrations that bring their sessions to the current one
 * (`cartMachine`, version 3), so that a deploy keeps every visitor's cart:
 *
 * | from | to | change | migration |
 * | --- | --- | --- | --- |
 * | 1 | 2 | `browsing` renamed `shopping.empty`, `filled` renamed `shopping.active` | the value (the reservation timer moves with its state by itself) |
 * | 1 | 2 | `checkout` split into `checkout.review` and `checkout.failed` | the value, from `lastError` |
 * | 1 | 2 | `saved` (save for later) deleted | to `shopping.active`, with a fresh reservation |
 * | 2 | 3 | a parallel region `auth` beside the cart | the value, from `user` |
 * | 2 | 3 | the reservation timer from a fixed 15 min to `settings.reservationMs` | the timer's key, its due time kept; the new `settings` field |
 */

/** Context of versions 1 and 2 (version 3 added `settings`). */
export type CartContextV1 = Omit<CartContext, 'settings'>;

/** Events of versions 1 and 2 (version 1 also had `cart.save` and `cart.restore`). */
export type CartEventV1 = CartEvent | { type: 'cart.save' } | { type: 'cart.restore' };

/** The fixed reservation of versions 1 and 2, in milliseconds. */
export const RESERVATION_V1_MS = 15 * 60_000;

const legacy = setup({
  types: {
    context: {} as CartContextV1,
    events: {} as CartEventV1,
  },
  actors: { payment },
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
        if (context.items.some((item) => item.sku === event.sku))
          return context.items.map((item) =>
            item.sku === event.sku ? { ...item, qty: item.qty + qty } : item,
          );
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
});

const initialContext = (): CartContextV1 => ({
  items: [],
  user: null,
  orderId: null,
  lastError: null,
  payCall: null,
});

const getCart = {
  actions: reply(
    ({ context }: { context: CartContextV1 }): CartView => ({
      items: context.items,
      total: totalOf(context.items),
      user: context.user,
    }),
  ),
};

/**
 * The payment invocation, the same in every version (src `payment`). Typed loosely: it is
 * shared by two machines whose failure targets differ, which XState's config types cannot say.
 */
function invokePayment(failed: string): any {
  const answer = (result: (event: any) => PaymentResult) =>
    reply(({ event }) => result(event), {
      to: ({ context }: { context: CartContextV1 }) => context.payCall ?? undefined,
    });
  return {
    id: 'payment',
    src: 'payment' as const,
    input: ({ context, event }: { context: CartContextV1; event: CartEventV1 }) => ({
      card: event.type === 'checkout.pay' ? event.card : '',
      amount: totalOf(context.items),
      delayMs: 100,
    }),
    onDone: [
      {
        guard: ({ event }: { event: { output: PaymentResult } }) => event.output.ok,
        target: '#cart.ordered',
        actions: [
          answer((event) => event.output),
          assign({
            orderId: ({ event }: any) => (event.output.ok ? event.output.orderId : null),
            items: [],
            payCall: null,
          }),
        ],
      },
      {
        target: failed,
        actions: [
          answer((event) => event.output),
          assign({
            lastError: ({ event }: any) => (event.output.ok ? null : event.output.error),
            payCall: null,
          }),
        ],
      },
    ],
    onError: {
      target: failed,
      actions: [
        answer(() => ({ ok: false, error: 'payment_unavailable' })),
        assign({ lastError: 'payment_unavailable', payCall: null }),
      ],
    },
  };
}

/**
 * Version 1: one region; the user is a context field; `filled` is held 15 minutes; one
 * `checkout` state for review and retry after a decline; `saved` keeps a cart for later.
 */
export const cartV1 = legacy.createMachine({
  id: 'cart',
  version: '1',
  initial: 'browsing',
  context: initialContext,
  on: {
    'cart.get': getCart,
    'auth.login': { guard: 'validUser', actions: 'setUser' },
  },
  states: {
    browsing: {
      on: { 'cart.add': { guard: 'knownProduct', target: 'filled', actions: 'addItem' } },
    },
    filled: {
      after: { [RESERVATION_V1_MS]: { target: 'browsing', actions: 'clearItems' } },
      on: {
        'cart.add': { guard: 'knownProduct', actions: 'addItem' },
        'cart.remove': [
          { guard: 'removesLastItem', target: 'browsing', actions: 'removeItem' },
          { guard: 'inCart', actions: 'removeItem' },
        ],
        'cart.clear': { target: 'browsing', actions: 'clearItems' },
        'cart.save': { target: 'saved' },
        'checkout.start': { guard: 'canCheckout', target: 'checkout' },
        'auth.logout': { actions: 'clearUser' },
      },
    },
    saved: {
      on: { 'cart.restore': { target: 'filled' }, 'auth.logout': { actions: 'clearUser' } },
    },
    checkout: {
      on: {
        'checkout.pay': { target: 'paying', actions: 'keepPayCall' },
        'checkout.cancel': { target: 'filled' },
        'auth.logout': { target: 'filled', actions: 'clearUser' },
      },
    },
    paying: { invoke: invokePayment('checkout') },
    ordered: {
      on: {
        'order.new': { target: 'browsing', actions: 'resetOrder' },
        'auth.logout': { actions: 'clearUser' },
      },
    },
  },
});

/**
 * Version 2: `shopping.{empty,active}` (renamed from `browsing`/`filled`) and
 * `checkout.{review,paying,failed}` (split from `checkout`); `saved` is gone.
 */
export const cartV2 = legacy.createMachine({
  id: 'cart',
  version: '2',
  initial: 'shopping',
  context: initialContext,
  on: {
    'cart.get': getCart,
    'auth.login': { guard: 'validUser', actions: 'setUser' },
  },
  states: {
    shopping: {
      initial: 'empty',
      on: {
        'checkout.start': { guard: 'canCheckout', target: 'checkout' },
        'auth.logout': { actions: 'clearUser' },
      },
      states: {
        empty: {
          on: { 'cart.add': { guard: 'knownProduct', target: 'active', actions: 'addItem' } },
        },
        active: {
          after: { [RESERVATION_V1_MS]: { target: 'empty', actions: 'clearItems' } },
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
            'checkout.cancel': { target: '#cart.shopping.active' },
            'auth.logout': { target: '#cart.shopping.active', actions: 'clearUser' },
          },
        },
        paying: { invoke: invokePayment('#cart.checkout.failed') },
        failed: {
          on: {
            'checkout.pay': { target: 'paying', actions: 'keepPayCall' },
            'checkout.cancel': { target: '#cart.shopping.active' },
            'auth.logout': { target: '#cart.shopping.active', actions: 'clearUser' },
          },
        },
      },
    },
    ordered: {
      on: {
        'order.new': { target: 'shopping', actions: 'resetOrder' },
        'auth.logout': { actions: 'clearUser' },
      },
    },
  },
});

/** Version 1's top-level states, as version 2 names them (`checkout` and `saved` need context). */
export const V1_TO_V2: Record<string, unknown> = {
  browsing: { shopping: 'empty' },
  filled: { shopping: 'active' },
  paying: { checkout: 'paying' },
  ordered: 'ordered',
};

/**
 * The migrations of the cart's sessions, by the version they start from. Exported apart so that a
 * test can drop or change one entry and see `verifyMigrations` catch it.
 */
export const cartMigrations: Record<string, SnapshotMigration> = {
  '1': (snapshot: MigratableSnapshot): MigratableSnapshot => {
    const context = snapshot.context as CartContextV1;
    const from = snapshot.value as string;
    // Split: a checkout after a declined payment is `failed`, else `review`.
    if (from === 'checkout')
      return { ...snapshot, value: { checkout: context.lastError ? 'failed' : 'review' } };
    // Deleted: a saved cart becomes an active one, reserved afresh from now.
    if (from === 'saved') {
      if (context.items.length === 0) return { ...snapshot, value: { shopping: 'empty' } };
      const id = `xstate.after.${RESERVATION_V1_MS}.cart.shopping.active`;
      const timers: StoredTimer[] = [
        ...(snapshot.timers ?? []),
        { id, event: { type: id }, dueAt: Date.now() + RESERVATION_V1_MS },
      ];
      return { ...snapshot, value: { shopping: 'active' }, timers };
    }
    // Renamed (the reservation timer of `filled` moves to `shopping.active` by itself).
    const value = V1_TO_V2[from];
    if (value === undefined) throw new Error(`cart v1: unknown state ${JSON.stringify(from)}`);
    return { ...snapshot, value };
  },
  '2': (snapshot: MigratableSnapshot): MigratableSnapshot => {
    const context = snapshot.context as CartContextV1;
    // A new parallel region: `auth`, from the user the context already held.
    const value = { auth: context.user === null ? 'anonymous' : 'loggedIn', cart: snapshot.value };
    // The reservation changed from a fixed 15 min to the named delay `reservation`: the pending
    // timer gets the new key and keeps its due time.
    const timers = (snapshot.timers ?? []).map((t) => {
      if (t.id !== `xstate.after.${RESERVATION_V1_MS}.cart.shopping.active`) return t;
      const id = 'xstate.after.reservation.cart.cart.shopping.active';
      return { ...t, id, event: { type: id } };
    });
    // The new `settings` field, with version 2's fixed values.
    const settings = { reservationMs: RESERVATION_V1_MS, paymentDelayMs: 100 };
    return { ...snapshot, value, timers, context: { ...context, settings } };
  },
};

/**
 * The demo shop's cart with its versions: new sessions start on `cartMachine` (version 3); a
 * stored session of version 1 or 2 is migrated when it comes back.
 *
 * @example
 * ```ts
 * import { createSessionSupervisor, memoryStore } from 'session-process';
 * import { cartVersions } from './machines/cartVersions.js';
 * const sessions = createSessionSupervisor({ logics: { cart: cartVersions }, store: memoryStore() });
 * ```
 */
export const cartVersions = machineVersions([cartV1, cartV2, cartMachine], {
  migrations: cartMigrations,
});
