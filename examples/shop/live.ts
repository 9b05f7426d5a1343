import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Middleware } from 'koa';
import type { SessionSnapshot } from 'session-process';
import { attachLiveBridge, type LiveBridge, type LiveBridgeOptions } from 'session-process/live';
import type { CartContext } from '../../machines/cart.js';
import type { ShopApp } from './app.js';
import { cartStateOf } from './cartState.js';
import { liveEvents } from './validation.js';
import { SHOP_LIVE_SCRIPT } from './views.js';

/** Options of {@link attachShopLive}. */
export interface ShopLiveOptions {
  /** Allowed `Origin` values of the pages. @default 'same-origin' */
  origins?: LiveBridgeOptions['origins'];
  /** @default 30_000 (ms) */
  heartbeatMs?: number;
}

/**
 * Serves the pages' live script at `/assets/livePage.js`: `livePage.entry.ts`, which
 * `scripts/build-assets.mjs` bundles next to the compiled `app.js` (in `dist/examples/shop/`; not `live.js`, which is
 * this module compiled).
 * Mount it with `createShopApp({ before: [shopLiveScript()] })`: Koa composes its middleware
 * when the server is made, so it cannot be added afterwards, and asset requests need no session.
 *
 * @param assetsDir where `livePage.js` is. @default this module's directory
 * @example
 * ```ts
 * const shop = createShopApp({ before: [shopLiveScript()] });
 * ```
 */
export function shopLiveScript(
  assetsDir: string = fileURLToPath(new URL('.', import.meta.url)),
): Middleware {
  let script: Promise<string> | undefined;
  return async (ctx, next) => {
    if (ctx.path !== SHOP_LIVE_SCRIPT) return next();
    script ??= readFile(join(assetsDir, 'livePage.js'), 'utf8');
    try {
      ctx.body = await script;
      ctx.type = 'text/javascript';
    } catch {
      script = undefined;
      ctx.status = 404;
      ctx.body = 'livePage.js is not built: run `npm run build`';
    }
  };
}

/**
 * Makes the shop's pages live: the `session-process/live` bridge on `/live`. A page sees the same
 * cart state the server renders for it, never more; the cart then updates in every tab of the
 * session, and a tab shows a notice when the session ends. The pages load their script from
 * {@link shopLiveScript}.
 *
 * @example
 * ```ts
 * const shop = createShopApp({ before: [shopLiveScript()] });
 * const live = attachShopLive(shop);
 * shop.server.listen(3000, '127.0.0.1');
 * // on shutdown:
 * await live.close();
 * await shop.close();
 * ```
 */
export function attachShopLive(shop: ShopApp, options: ShopLiveOptions = {}): LiveBridge {
  return attachLiveBridge(shop.server, {
    app: shop.app,
    sessions: shop.sessions,
    session: shop.sessionMiddleware,
    path: '/live',
    origins: options.origins ?? 'same-origin',
    // The pages change the cart through their forms; a script may do it over the live view too,
    // with the payloads the JSON API accepts (checked by the bridge: INVALID_EVENT otherwise).
    events: liveEvents,
    view: (snapshot: SessionSnapshot<CartContext>) => cartStateOf(snapshot),
    ...(options.heartbeatMs === undefined ? {} : { heartbeatMs: options.heartbeatMs }),
  });
}
