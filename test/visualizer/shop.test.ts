import { mkdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  CookieJar,
  startShop as startTestShop,
  type TestShop,
  useChromium,
} from '../support/index.js';

const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url);
const chromium = useChromium('the shop in the visualizer');
const hasChromium = chromium.available;

let url = '';

async function startShop(): Promise<TestShop> {
  const shop = await startTestShop({ clientStartRate: false, cart: { paymentDelayMs: 20 } });
  url = shop.url;
  return shop;
}

describe('the demo shop’s visualizer', () => {
  it('is mounted at /_sessions for loopback only, and opening it starts no cart', async () => {
    const { sessions } = await startShop();
    expect((await fetch(`${url}/_sessions`)).status).toBe(200);
    expect(sessions.count).toBe(0);
    const proxied = await fetch(`${url}/_sessions`, {
      headers: { 'x-forwarded-for': '203.0.113.9' },
    });
    expect(proxied.status).toBe(403);
  });

  it.skipIf(!hasChromium)(
    'follows a shopper’s cart through login (an ID rotation) and checkout',
    async () => {
      const { sessions } = await startShop();
      const shopper = new CookieJar(url);
      await shopper.request('POST', '/api/cart/items', { sku: 'A1', qty: 2 });
      const [row] = sessions.list();
      const page = await chromium.browser.newPage({ viewport: { width: 1680, height: 1000 } });
      try {
        await page.goto(`${url}/_sessions?session=${encodeURIComponent(row!.id)}`);
        const active = (id: string) =>
          page.locator(`svg.chart [data-state="${id}"][data-active="true"]`);
        await active('cart.cart.shopping.active').waitFor();
        await active('cart.auth.anonymous').waitFor();

        expect((await shopper.request('POST', '/api/login', { user: 'ada' })).status).toBe(200);
        await active('cart.auth.loggedIn').waitFor({ timeout: 1_000 });
        // The login rotated the session ID: the page followed it.
        expect(sessions.started(row!.id)).toBe(false);
        const rotated = sessions.list()[0]!.id;
        await expect.poll(() => page.url()).toContain(`session=${rotated}`);

        expect((await shopper.request('POST', '/api/checkout')).status).toBe(200);
        await active('cart.cart.checkout.review').waitFor({ timeout: 1_000 });
        const paid = await shopper.request('POST', '/api/checkout/pay', {
          card: '4242424242424242',
        });
        expect(paid.status).toBe(200);
        await active('cart.cart.ordered').waitFor({ timeout: 1_000 });
        expect(await page.content()).not.toContain('4242424242424242');
        mkdirSync(ARTIFACTS, { recursive: true });
        await page.screenshot({ path: new URL('visualizer-shop.png', ARTIFACTS).pathname });
      } finally {
        await page.close();
      }
    },
  );
});
