import type { LiveBridge } from 'session-process/live';
import { createShopApp, type ShopApp, type ShopAppOptions } from '../../examples/shop/app.js';
import { attachShopLive, type ShopLiveOptions } from '../../examples/shop/live.js';
import { closeWithTest, listenOnLoopback, TEST_KEYS } from './startTestServer.js';

/** A demo shop made by {@link startShop}, listening. */
export interface TestShop extends ShopApp {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** The shop's live bridge, when `live` was asked for. */
  live: LiveBridge | undefined;
}

/**
 * The demo shop (`examples/shop`) on 127.0.0.1 port 0, with the kit's signing keys unless told
 * otherwise, and its live bridge when `live` is given. Closed by the kit after the test (or the
 * file, with `scope: 'file'`); closing it earlier is fine.
 *
 * @example
 * ```ts
 * const shop = await startShop({ clientStartRate: false }); // every browser here is 127.0.0.1
 * const browser = new CookieJar(shop.url);
 * await browser.request('POST', '/api/cart/items', { sku: 'A1', qty: 1 });
 * ```
 */
export async function startShop(
  options: ShopAppOptions = {},
  { scope = 'test', live }: { scope?: 'test' | 'file'; live?: ShopLiveOptions } = {},
): Promise<TestShop> {
  const shop = createShopApp({ keys: TEST_KEYS, ...options });
  const bridge = live ? attachShopLive(shop, live) : undefined;
  const url = await listenOnLoopback(shop.server);
  const closeShop = shop.close.bind(shop);
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      await bridge?.close();
      await closeShop();
    })();
    return closing;
  };
  closeWithTest({ close }, scope);
  return Object.assign(shop, { url, live: bridge, close });
}
