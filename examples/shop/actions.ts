import type { Context } from 'koa';
import type { CartEvent, PaymentResult } from '../../machines/cart.js';
import { findProduct } from '../../machines/catalog.js';
import { apply, type CartState, currentCart } from './cartState.js';

/**
 * The shop's operations, shared by the HTML pages and the JSON API: each validates its input,
 * drives the request's cart session and resolves with the cart state afterwards (the routes have
 * validated the input's shape with zod). Failures are
 * Koa HTTP errors with a `code` (`unknown_sku` 404, `login_required` 401,
 * `cart_empty` 409, `card_declined` 402, ...) or a `SessionError` with its own status.
 */

/** Adds `qty` (1–99, validated by the route's schema; default 1) of a catalog product. */
export async function addItem(ctx: Context, sku: string, qty = 1): Promise<CartState> {
  const product = findProduct(sku);
  if (!product) ctx.throw(404, 'No such product', { code: 'unknown_sku' });
  if (currentCart(ctx).stage !== 'shopping')
    ctx.throw(409, 'The cart is in checkout', { code: 'in_checkout' });
  return apply(ctx, { type: 'cart.add', sku: product.sku, qty });
}

/** Removes a product from the cart entirely. */
export async function removeItem(ctx: Context, sku: string): Promise<CartState> {
  const cart = currentCart(ctx);
  if (!cart.items.some((item) => item.sku === sku))
    ctx.throw(404, 'Not in the cart', { code: 'not_in_cart' });
  if (cart.stage !== 'shopping') ctx.throw(409, 'The cart is in checkout', { code: 'in_checkout' });
  return apply(ctx, { type: 'cart.remove', sku });
}

/** Empties the cart (while shopping). */
export async function clearCart(ctx: Context): Promise<CartState> {
  const cart = currentCart(ctx);
  if (cart.stage !== 'shopping') ctx.throw(409, 'The cart is in checkout', { code: 'in_checkout' });
  if (cart.items.length === 0) return cart;
  return apply(ctx, { type: 'cart.clear' });
}

const USER = /^[\p{L}\p{N} ._-]{1,40}$/u;

/**
 * Logs in as `user` (1–40 letters, digits, space, `._-`). The session gets a new ID first
 * (`rotate()`: session-fixation defence), keeping the cart.
 */
export async function login(ctx: Context, user: string): Promise<CartState> {
  const name = user.trim();
  if (!USER.test(name)) {
    ctx.throw(422, 'A name is 1 to 40 letters, digits, spaces, dots, dashes or underscores', {
      code: 'invalid_user',
    });
  }
  const cart = currentCart(ctx);
  if (cart.user !== null)
    ctx.throw(409, `Already logged in as ${cart.user}`, { code: 'already_logged_in' });
  await ctx.sessionProcess.rotate();
  return apply(ctx, { type: 'auth.login', user: name });
}

/** Logs out (not while a payment is in flight) and rotates the ID again; the cart is kept. */
export async function logout(ctx: Context): Promise<CartState> {
  const cart = currentCart(ctx);
  if (cart.user === null) return cart;
  if (cart.stage === 'paying')
    ctx.throw(409, 'A payment is in progress', { code: 'payment_in_progress' });
  const state = await apply(ctx, { type: 'auth.logout' });
  await ctx.sessionProcess.rotate();
  return state;
}

/** Moves a logged-in user's non-empty cart to review. */
export async function startCheckout(ctx: Context): Promise<CartState> {
  const cart = currentCart(ctx);
  if (cart.stage === 'review' || cart.stage === 'failed') return cart;
  if (cart.user === null) ctx.throw(401, 'Log in to check out', { code: 'login_required' });
  if (cart.items.length === 0) ctx.throw(409, 'The cart is empty', { code: 'cart_empty' });
  if (cart.stage !== 'shopping') ctx.throw(409, 'Not possible now', { code: 'not_shopping' });
  return apply(ctx, { type: 'checkout.start' });
}

/**
 * Pays for the cart in review with `card`: a `call` the machine answers once its invoked payment
 * actor settles. Resolves with the payment result and the cart state after it.
 */
export async function pay(
  ctx: Context,
  card: string,
): Promise<{ result: PaymentResult; cart: CartState }> {
  if (card.trim() === '') ctx.throw(400, 'A card number is required', { code: 'invalid_card' });
  const stage = currentCart(ctx).stage;
  if (stage !== 'review' && stage !== 'failed')
    ctx.throw(409, 'Start the checkout first', { code: 'not_in_checkout' });
  const event: CartEvent = { type: 'checkout.pay', card: card.replace(/\s+/g, '') };
  const result = await ctx.sessionProcess.call<PaymentResult>(event, { timeoutMs: 10_000 });
  return { result, cart: currentCart(ctx) };
}

/** Leaves the checkout, back to the cart. */
export async function cancelCheckout(ctx: Context): Promise<CartState> {
  const stage = currentCart(ctx).stage;
  if (stage !== 'review' && stage !== 'failed') return currentCart(ctx);
  return apply(ctx, { type: 'checkout.cancel' });
}

/** After an order: back to an empty cart. */
export async function newOrder(ctx: Context): Promise<CartState> {
  if (currentCart(ctx).stage !== 'ordered') return currentCart(ctx);
  return apply(ctx, { type: 'order.new' });
}
