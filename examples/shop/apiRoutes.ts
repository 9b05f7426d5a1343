import type Router from '@koa/router';
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
import { parse, schemas } from './validation.js';

/**
 * The JSON API, on `router` (an `@koa/router` with `prefix: '/api'`). Every answer that succeeds
 * is the cart state `{ stage, user, items, count, total, orderId, lastError }` (amounts in cents);
 * every failure, 404 and 405 included, is `{ error: { code, message } }` with the HTTP status (see
 * `errorHandler`). Bodies are JSON or form-encoded, validated with zod (400 `invalid_request`).
 *
 * | route | does |
 * | --- | --- |
 * | `GET /api/cart` | the cart (one `call`: `cart.get`; starts the cart session) |
 * | `POST /api/cart/items` `{ sku, qty? }` | adds (`qty` an integer 1–99) |
 * | `DELETE /api/cart/items/:sku` | removes |
 * | `DELETE /api/cart` | empties the cart |
 * | `POST /api/login` `{ user }` | rotates the session ID, logs in |
 * | `POST /api/logout` | logs out, rotates the session ID |
 * | `POST /api/checkout` | review (logged in, cart not empty) |
 * | `POST /api/checkout/pay` `{ card }` | pays: 200 `{ ok: true, orderId, cart }` or 402 |
 * | `POST /api/checkout/cancel`, `POST /api/order/new` | back to shopping |
 */
export function mountApi(router: Router): void {
  router.get('/cart', async (ctx) => {
    // An API client asking for its cart gets one (the pages, which crawlers visit, start none).
    const view = await ctx.sessionProcess.call<CartView>({ type: 'cart.get' });
    ctx.body = { ...currentCart(ctx), ...view };
  });
  router.delete('/cart', async (ctx) => {
    ctx.body = await clearCart(ctx);
  });
  router.post('/cart/items', async (ctx) => {
    const schema = ctx.request.is('urlencoded') ? schemas.addItemForm : schemas.addItem;
    const { sku, qty } = parse(ctx, schema, ctx.request.body);
    ctx.body = await addItem(ctx, sku, qty);
  });
  router.delete('/cart/items/:sku', async (ctx) => {
    const { sku } = parse(ctx, schemas.skuParam, ctx.params);
    ctx.body = await removeItem(ctx, sku);
  });
  router.post('/login', async (ctx) => {
    const { user } = parse(ctx, schemas.login, ctx.request.body);
    ctx.body = await login(ctx, user);
  });
  router.post('/logout', async (ctx) => {
    ctx.body = await logout(ctx);
  });
  router.post('/checkout', async (ctx) => {
    ctx.body = await startCheckout(ctx);
  });
  router.post('/checkout/pay', async (ctx) => {
    const { card } = parse(ctx, schemas.pay, ctx.request.body);
    const { result, cart } = await pay(ctx, card);
    if (!result.ok)
      return ctx.throw(402, `Payment declined (${result.error})`, { code: result.error });
    ctx.body = { ok: true, orderId: result.orderId, cart };
  });
  router.post('/checkout/cancel', async (ctx) => {
    ctx.body = await cancelCheckout(ctx);
  });
  router.post('/order/new', async (ctx) => {
    ctx.body = await newOrder(ctx);
  });
}
