import type Router from '@koa/router';
import type { Context } from 'koa';
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
import type { SafeHtml } from './html.js';
import { parse, schemas } from './validation.js';
import { cartPage, checkoutPage, loginPage, orderPage, productsPage } from './views.js';

function render(ctx: Context, page: SafeHtml, status = 200): void {
  ctx.status = status;
  ctx.type = 'html';
  ctx.body = page.value;
}

/** POST-redirect-GET: 303 so that reloading a page never repeats a form. */
function seeOther(ctx: Context, url: string): void {
  ctx.status = 303;
  ctx.redirect(url);
}

/** `next` only ever leads to a path on this site (no open redirect). */
function localPath(value: unknown, fallback: string): string {
  return typeof value === 'string' && /^\/(?![/\\])[^\s\\]*$/.test(value) ? value : fallback;
}

/**
 * The server-rendered pages: products (`/`), cart, login, checkout and order confirmation.
 * Forms post to the routes below and redirect with 303. `sameSite: 'lax'` on the session cookie
 * keeps other sites' forms from posting with it.
 */
export function mountPages(router: Router): void {
  router.get('/', (ctx) => render(ctx, productsPage(currentCart(ctx))));
  router.get('/cart', (ctx) => render(ctx, cartPage(currentCart(ctx))));
  router.post('/cart/add', async (ctx) => {
    const { sku, qty, next } = parse(ctx, schemas.addItemForm, ctx.request.body);
    await addItem(ctx, sku, qty);
    seeOther(ctx, localPath(next, '/'));
  });
  router.post('/cart/remove', async (ctx) => {
    const { sku } = parse(ctx, schemas.removeItem, ctx.request.body);
    await removeItem(ctx, sku);
    seeOther(ctx, '/cart');
  });

  router.post('/cart/clear', async (ctx) => {
    await clearCart(ctx);
    seeOther(ctx, '/cart');
  });

  router.get('/login', (ctx) =>
    render(ctx, loginPage(currentCart(ctx), localPath(ctx.query.next, '/cart'))),
  );
  router.post('/login', async (ctx) => {
    const body = parse(ctx, schemas.login, ctx.request.body);
    const next = localPath(body.next, '/cart');
    const cart = currentCart(ctx);
    if (cart.user !== null) return seeOther(ctx, next);
    try {
      await login(ctx, body.user);
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'invalid_user') throw err;
      return render(ctx, loginPage(cart, next, (err as Error).message), 422);
    }
    seeOther(ctx, next);
  });
  router.post('/logout', async (ctx) => {
    await logout(ctx);
    seeOther(ctx, '/');
  });

  router.post('/checkout', async (ctx) => {
    const cart = currentCart(ctx);
    if (cart.user === null) return seeOther(ctx, '/login?next=/cart');
    if (cart.items.length === 0) return seeOther(ctx, '/cart');
    await startCheckout(ctx);
    seeOther(ctx, '/checkout');
  });
  router.get('/checkout', (ctx) => {
    const cart = currentCart(ctx);
    if (cart.stage === 'shopping') return seeOther(ctx, '/cart');
    if (cart.stage === 'ordered') return seeOther(ctx, '/order');
    render(ctx, checkoutPage(cart));
  });
  router.post('/checkout/pay', async (ctx) => {
    const { card } = parse(ctx, schemas.pay, ctx.request.body);
    const { result } = await pay(ctx, card);
    seeOther(ctx, result.ok ? '/order' : '/checkout');
  });
  router.post('/checkout/cancel', async (ctx) => {
    await cancelCheckout(ctx);
    seeOther(ctx, '/cart');
  });

  router.get('/order', (ctx) => {
    const cart = currentCart(ctx);
    if (cart.stage !== 'ordered') return seeOther(ctx, '/');
    render(ctx, orderPage(cart));
  });
  router.post('/order/new', async (ctx) => {
    await newOrder(ctx);
    seeOther(ctx, '/');
  });
}
