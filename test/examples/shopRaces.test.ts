import { afterEach, describe, expect, it } from 'vitest';
import { SHOP_COOKIE } from '../../examples/shop/app.js';
import { CookieJar, startShop, type TestShop } from '../support/index.js';

// Tabs of one browser share its cookie. Real HTTP, real koa-session, one cookie jar that keeps
// whatever Set-Cookie arrives last, as a browser does.

const ROUNDS = 30;

let shop: TestShop | undefined;
afterEach(() => {
  shop = undefined;
});

async function start(): Promise<string> {
  shop = await startShop({ clientStartRate: false }); // every browser here is 127.0.0.1
  return shop.url;
}

function sessionIdOf(client: CookieJar): string | undefined {
  return client.sessionData(SHOP_COOKIE)?.sessionId;
}

/** A browser with a cart of two products, anonymous. */
async function shopper(url: string): Promise<CookieJar> {
  const browser = new CookieJar(url);
  await browser.json('POST', '/api/cart/items', { sku: 'A1', qty: 2 });
  await browser.json('POST', '/api/cart/items', { sku: 'C3' });
  return browser;
}

async function expectRotated(res: Response): Promise<void> {
  expect(res.status).toBe(409);
  expect(res.headers.get('retry-after')).toBe('0');
  expect(res.headers.getSetCookie()).toEqual([]);
  expect(((await res.json()) as { error: { code: string } }).error.code).toBe('SESSION_ROTATED');
}

describe('examples/shop under concurrent tabs', () => {
  it(`keeps the cart when login is double-clicked (${ROUNDS} rounds)`, async () => {
    const url = await start();
    for (let round = 0; round < ROUNDS; round++) {
      const browser = await shopper(url);
      const before = sessionIdOf(browser);
      const [a, b] = await Promise.all([
        browser.request('POST', '/api/login', { user: 'ada' }),
        browser.request('POST', '/api/login', { user: 'ada' }),
      ]);
      const answers = [a, b].sort((x, y) => x.status - y.status);
      expect(answers[0]!.status).toBe(200);
      await expectRotated(answers[1]!);
      expect(sessionIdOf(browser)).not.toBe(before);
      expect(await browser.json('GET', '/api/cart')).toMatchObject({
        user: 'ada',
        count: 3,
        items: [
          { sku: 'A1', qty: 2 },
          { sku: 'C3', qty: 1 },
        ],
      });
    }
    expect(shop!.sessions.count).toBe(ROUNDS);
  });

  it(`answers a tab racing a login with a retry, never an empty cart or a cookie (${ROUNDS} rounds)`, async () => {
    const url = await start();
    let retried = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const browser = await shopper(url);
      const before = sessionIdOf(browser);
      const [login, read, add] = await Promise.all([
        browser.request('POST', '/api/login', { user: 'bob' }),
        browser.request('GET', '/api/cart'),
        browser.request('POST', '/api/cart/items', { sku: 'B2' }),
      ]);
      expect(login.status).toBe(200);
      if (read.status === 200) {
        const cart = (await read.json()) as { count: number };
        expect(cart.count).toBeGreaterThanOrEqual(3); // the cart, never a fresh empty one
        expect(read.headers.getSetCookie()).toEqual([]);
      } else {
        await expectRotated(read);
        retried++;
      }
      if (add.status === 200) {
        expect(((await add.json()) as { count: number }).count).toBeGreaterThanOrEqual(4);
        expect(add.headers.getSetCookie()).toEqual([]);
      } else {
        await expectRotated(add);
        retried++;
        // The retry carries the new cookie and reaches the logged-in cart.
        await browser.json('POST', '/api/cart/items', { sku: 'B2' });
      }
      expect(sessionIdOf(browser)).not.toBe(before);
      expect(await browser.json('GET', '/api/cart')).toMatchObject({ user: 'bob', count: 4 });
    }
    expect(shop!.sessions.count).toBe(ROUNDS);
    console.log(`tab races: ${ROUNDS} rounds, ${retried} requests told to retry`);
  });
});
