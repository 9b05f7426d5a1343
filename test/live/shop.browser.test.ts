import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { LiveBridge } from 'session-process/live';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatPrice } from '../../examples/shop/views.js';
import { shopLiveScript } from '../../examples/shop/live.js';
import { startShop, type TestShop, useChromium } from '../support/index.js';
// @ts-expect-error: a plain ESM build script without types
import { buildAssets } from '../../scripts/build-assets.mjs';

const chromium = useChromium("the shop's live-view browser test");
const missing = !chromium.available;

describe.skipIf(missing)('the demo shop, live in Chromium', () => {
  let shop: TestShop;
  let live: LiveBridge;
  let base: string;
  let outdir: string;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    // The page script is bundled in-process, as `npm run build` does.
    outdir = await mkdtemp(join(tmpdir(), 'shop-assets-'));
    await buildAssets({ outdir, minify: false });
    shop = await startShop(
      { before: [shopLiveScript(join(outdir, 'examples/shop'))] },
      { scope: 'file', live: {} },
    );
    live = shop.live!;
    base = shop.url;
  });

  afterAll(async () => {
    if (outdir) await rm(outdir, { recursive: true, force: true });
  });

  async function open(
    context: Awaited<ReturnType<Browser['newContext']>>,
    path: string,
  ): Promise<Page> {
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${base}${path}`);
    return page;
  }

  const count = (page: Page) => page.textContent('[data-cart-count]');

  it('updates the cart in one tab when another adds to it, and shows the end of the session', async () => {
    const context = await chromium.browser.newContext();
    const shopping = await open(context, '/');
    // Pages start no cart session (the middleware is lazy); the first item does.
    await shopping.click('tr[data-sku="A1"] button');
    await expect.poll(() => shop.sessions.count).toBe(1);
    const sessionId = shop.sessions.list()[0]!.id;
    await expect.poll(() => live.viewsOf(sessionId)).toBe(1);
    const products = await open(context, '/');
    await expect.poll(() => live.viewsOf(sessionId)).toBe(2);
    expect(shop.sessions.count).toBe(1);

    await shopping.click('tr[data-sku="A1"] button');
    await expect.poll(() => count(products)).toBe('2');

    // A cart page already showing items follows adds made elsewhere: rows and total.
    const cart = await open(context, '/cart');
    await shopping.fill('tr[data-sku="B2"] input[name="qty"]', '2');
    await shopping.click('tr[data-sku="B2"] button');
    await expect.poll(() => cart.locator('tbody tr[data-sku]').count()).toBe(2);
    await expect.poll(() => count(cart)).toBe('4');
    const total = formatPrice(
      shop.sessions
        .snapshot(sessionId)
        .context.items.reduce(
          (sum: number, item: { qty: number; price: number }) => sum + item.qty * item.price,
          0,
        ),
    );
    expect(await cart.textContent('[data-cart-total]')).toBe(total);

    await shop.sessions.terminate(sessionId);
    for (const page of [shopping, products, cart]) {
      const notice = page.locator('[data-session-ended]');
      await expect.poll(() => notice.textContent()).toContain('Your session ended (terminated).');
    }
    expect(pageErrors).toEqual([]);
    await context.close();
  });

  it('moves the other tabs to the new session ID when one tab logs in (rotate)', async () => {
    const context = await chromium.browser.newContext();
    const other = await open(context, '/');
    const before = shop.sessions.list().map((s) => s.id);
    await other.click('tr[data-sku="C3"] button');
    const login = await open(context, '/login');
    await login.fill('input[name="user"]', 'ada');
    await login.click('form[action="/login"] button');
    await login.waitForURL(`${base}/cart`);
    // The other tab's view ended with 'rotated' and the page loaded again, with the new cookie.
    await expect.poll(() => other.textContent('[data-user]'), { timeout: 5_000 }).toBe('ada');
    expect(await other.locator('[data-session-ended]').count()).toBe(0);
    expect(await count(other)).toBe('1');
    const rotated = shop.sessions.list().find((s) => !before.includes(s.id))!;
    await expect.poll(() => live.viewsOf(rotated.id)).toBe(2);
    expect(pageErrors).toEqual([]);
    await context.close();
  });
});
