import type { Context } from 'koa';
import type { CartView } from '../../machines/cart.js';
import {
  addItem,
  cancelCheckout,
  clearCart,
  login,
  logout,
  newOrder,
  pay,
  removeItem,
  startCheckout,
} from './actions.js';
import { currentCart } from './cartState.js';
import { readBody } from './readBody.js';
import type { createRouter } from './router.js';

/**
 * The JSON API. Every answer that succeeds is the cart state
 * `{ stage, user, items, count, total, orderId, lastError }` (amounts in cents); failures are
 * `{ error: { code, message } }` with the HTTP status (see `errorHandler`).
 *
 * | route | does |
 * | --- | --- |
 * | `GET /api/cart` | the cart (one `call`: `cart.get`) |
 * | `POST /api/cart/items` `{ sku, qty? }` | adds |
 * | `DELETE /api/cart/items/:sku` | removes |
 * | `DELETE /api/cart` | empties the cart |
 * | `POST /api/login` `{ user }` | rotates the session ID, logs in |
 * | `POST /api/logout` | logs out, rotates the session ID |
 * | `POST /api/checkout` | review (logged in, cart not empty) |
 * | `POST /api/checkout/pay` `{ card }` | pays: 200 `{ ok: true, orderId, cart }` or 402 |
 * | `POST /api/checkout/cancel`, `POST /api/order/new` | back to shopping |
 */
export function mountApi(router: ReturnType<typeof createRouter>): void {
  router.get('/api/cart', async (ctx) => {
    const view = await ctx.sessionProcess.call<CartView>({ type: 'cart.get' });
    ctx.body = { ...currentCart(ctx), ...view };
  });
  router.delete('/api/cart', async (ctx) => {
    ctx.body = await clearCart(ctx);
  });
  router.post('/api/cart/items', async (ctx) => {
    const body = await readBody(ctx);
    ctx.body = await addItem(ctx, body.sku, body.qty);
  });
  router.delete('/api/cart/items/:sku', async (ctx, { sku = '' }) => {
    ctx.body = await removeItem(ctx, sku);
  });
  router.post('/api/login', async (ctx) => {
    const body = await readBody(ctx);
    ctx.body = await login(ctx, body.user);
  });
  router.post('/api/logout', async (ctx) => {
    ctx.body = await logout(ctx);
  });
  router.post('/api/checkout', async (ctx) => {
    ctx.body = await startCheckout(ctx);
  });
  router.post('/api/checkout/pay', async (ctx: Context) => {
    const body = await readBody(ctx);
    const { result, cart } = await pay(ctx, body.card);
    if (!result.ok) {
      ctx.throw(402, `Payment declined (${result.error})`, { code: result.error });
    }
    ctx.body = { ok: true, orderId: result.orderId, cart };
  });
  router.post('/api/checkout/cancel', async (ctx) => {
    ctx.body = await cancelCheckout(ctx);
  });
  router.post('/api/order/new', async (ctx) => {
    ctx.body = await newOrder(ctx);
  });
}
