import type { Context } from 'koa';
import { isSessionError, type SessionSnapshot } from 'session-process';
import { markSessionless } from './sessionless.js';
import { type CartContext, type CartEvent, type CartItem, totalOf } from '../../machines/cart.js';

/** Where the cart region is: shopping, the three checkout steps, or ordered. */
export type CartStage = 'shopping' | 'review' | 'paying' | 'failed' | 'ordered';

/** What pages and the JSON API show of a cart session. Amounts are in cents. */
export interface CartState {
  stage: CartStage;
  user: string | null;
  items: CartItem[];
  /** Number of units over all items. */
  count: number;
  total: number;
  orderId: string | null;
  lastError: string | null;
}

/**
 * The cart region's stage from the machine's state value
 * (`{ auth: 'loggedIn', cart: { checkout: 'review' } }` → `'review'`).
 *
 * @example
 * ```ts
 * stageOf({ auth: 'anonymous', cart: { shopping: 'empty' } }); // 'shopping'
 * ```
 */
export function stageOf(value: unknown): CartStage {
  const cart = (value as { cart?: unknown } | null)?.cart;
  if (cart === 'ordered') return 'ordered';
  if (typeof cart === 'object' && cart !== null) {
    const checkout = (cart as { checkout?: unknown }).checkout;
    if (checkout === 'review' || checkout === 'paying' || checkout === 'failed') return checkout;
  }
  return 'shopping';
}

/**
 * The {@link CartState} of a cart session's snapshot.
 *
 * @example
 * ```ts
 * const state = cartStateOf(ctx.sessionProcess.snapshot());
 * ```
 */
export function cartStateOf(snapshot: SessionSnapshot<CartContext>): CartState {
  const { items, user, orderId, lastError } = snapshot.context;
  return {
    stage: stageOf(snapshot.value),
    user,
    items,
    count: items.reduce((n, item) => n + item.qty, 0),
    total: totalOf(items),
    orderId,
    lastError,
  };
}

/**
 * Sends an event that has no reply to the request's cart session and resolves with the state
 * after its step (a `call` with `until`), so the response shows what the event did. Rejects with
 * `EVENT_NOT_ACCEPTED` (409) at once when the current state refuses the event.
 *
 * @example
 * ```ts
 * const state = await apply(ctx, { type: 'cart.add', sku: 'A1' });
 * ```
 */
export async function apply(ctx: Context, event: CartEvent): Promise<CartState> {
  const snapshot = await ctx.sessionProcess.call<SessionSnapshot<CartContext>>(event, {
    until: () => true,
  });
  return cartStateOf(snapshot);
}

/** What a visitor whose cart session has not started (or has ended) sees. */
export const EMPTY_CART: Readonly<CartState> = Object.freeze({
  stage: 'shopping',
  user: null,
  items: [],
  count: 0,
  total: 0,
  orderId: null,
  lastError: null,
});

/**
 * The request's cart state now, synchronously. Starts nothing: a visitor without a running cart
 * session (the middleware is lazy) sees {@link EMPTY_CART}, so pages cost nothing until the first
 * item is added. A request whose session was just rotated away (a login in another tab) gets the
 * `SESSION_ROTATED` error (409, retry) rather than an empty cart.
 */
export function currentCart(ctx: Context): CartState {
  const sp = ctx.sessionProcess;
  if (sp.started) return cartStateOf(sp.snapshot() as SessionSnapshot<CartContext>);
  try {
    return cartStateOf(sp.snapshot() as SessionSnapshot<CartContext>);
  } catch (err) {
    if (isSessionError(err, 'SESSION_NOT_FOUND')) {
      const empty = { ...EMPTY_CART, items: [] };
      markSessionless(empty);
      return empty;
    }
    throw err;
  }
}
