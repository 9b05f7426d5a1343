import { afterEach, describe, expect, it } from 'vitest';
import { SHOP_COOKIE } from '../../examples/shop/app.js';
import { CookieJar, startShop, type TestShop } from '../support/index.js';

let shop: TestShop | undefined;
afterEach(() => {
  shop = undefined;
});

async function start(): Promise<string> {
  shop = await startShop({ cart: { paymentDelayMs: 5 } });
  return shop.url;
}

function sessionIdOf(client: CookieJar): string {
  return client.sessionData(SHOP_COOKIE)?.sessionId;
}

/** A form post, as the shop's pages send it. */
function form(client: CookieJar, path: string, fields: Record<string, string>): Promise<Response> {
  return client.fetch(client.base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
}

describe('examples/shop', () => {
  it('renders the product list without a session, and sets a signed, httpOnly, SameSite=Lax cookie with an expiry on the first add', async () => {
    const url = await start();
    const browser = new CookieJar(url);
    const res = await browser.request('GET', '/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const page = await res.text();
    expect(page).toContain('<h1>Products</h1>');
    expect(page).toContain('Espresso beans, 1 kg');
    expect(res.headers.getSetCookie()).toEqual([]);
    expect(shop!.sessions.count).toBe(0);
    const added = await form(browser, '/cart/add', { sku: 'A1' });
    expect(shop!.sessions.count).toBe(1);
    const cookies = added.headers.getSetCookie();
    const main = cookies.find((c) => c.startsWith(`${SHOP_COOKIE}=`)) ?? '';
    expect(main).toMatch(/httponly/i);
    expect(main).toMatch(/samesite=lax/i);
    expect(main).toMatch(/expires=/i);
    expect(cookies.some((c) => c.startsWith(`${SHOP_COOKIE}.sig=`))).toBe(true);
  });

  it('goes through add, login with a new session ID, a declined and an accepted payment, in pages', async () => {
    const url = await start();
    const browser = new CookieJar(url);
    await browser.request('GET', '/');
    expect((await form(browser, '/cart/add', { sku: 'A1', qty: '2' })).status).toBe(303);
    await form(browser, '/cart/add', { sku: 'D4' });
    expect((await form(browser, '/cart/remove', { sku: 'D4' })).headers.get('location')).toBe(
      '/cart',
    );
    const cart = await (await browser.request('GET', '/cart')).text();
    expect(cart).toContain('data-cart-total>€49.80<');
    expect(cart).not.toContain('data-sku="D4"');

    // Checkout asks for a login first.
    expect((await form(browser, '/checkout', {})).headers.get('location')).toBe(
      '/login?next=/cart',
    );
    const anonymousId = sessionIdOf(browser);
    const planted = browser.clone();
    const login = await form(browser, '/login', { user: 'ada', next: '/cart' });
    expect(login.status).toBe(303);
    expect(sessionIdOf(browser)).not.toBe(anonymousId);
    expect(await (await browser.request('GET', '/cart')).text()).toContain(
      'Signed in as <strong data-user>ada</strong>',
    );
    // The pre-login cookie reaches neither the user nor the cart: it is told to retry.
    const stale = await planted.request('GET', '/cart');
    expect(stale.status).toBe(409);
    expect(stale.headers.getSetCookie()).toEqual([]);
    const other = await stale.text();
    expect(other).not.toContain('ada');
    expect(other).not.toContain('data-cart-total');

    expect((await form(browser, '/checkout', {})).headers.get('location')).toBe('/checkout');
    const declined = await form(browser, '/checkout/pay', { card: '4000000000000002' });
    expect(declined.headers.get('location')).toBe('/checkout');
    expect(await (await browser.request('GET', '/checkout')).text()).toContain(
      'Payment failed: card_declined',
    );
    const paid = await form(browser, '/checkout/pay', { card: '4242 4242 4242 4242' });
    expect(paid.headers.get('location')).toBe('/order');
    const order = await (await browser.request('GET', '/order')).text();
    expect(order).toMatch(/Your order <strong data-order-id>ord_[\w-]+<\/strong> is confirmed/);
    expect((await form(browser, '/order/new', {})).headers.get('location')).toBe('/');
    expect(await (await browser.request('GET', '/cart')).text()).toContain('Your cart is empty');
  });

  it('serves the same flow as JSON, with codes for what is refused', async () => {
    const url = await start();
    const api = new CookieJar(url);
    expect(await api.json('GET', '/api/cart')).toMatchObject({
      stage: 'shopping',
      items: [],
      total: 0,
      user: null,
    });
    expect(await api.json('POST', '/api/cart/items', { sku: 'B2', qty: 3 })).toMatchObject({
      count: 3,
      total: 3600,
    });

    const unknown = await api.request('POST', '/api/cart/items', { sku: 'ZZ' });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({
      error: { code: 'unknown_sku', message: 'No such product' },
    });
    expect((await api.request('POST', '/api/cart/items', { sku: 'A1', qty: 0 })).status).toBe(400);
    const anonymous = await api.request('POST', '/api/checkout');
    expect(anonymous.status).toBe(401);
    expect((await anonymous.json()).error.code).toBe('login_required');

    const before = sessionIdOf(api);
    expect(await api.json('POST', '/api/login', { user: 'bob' })).toMatchObject({
      user: 'bob',
      count: 3,
    });
    expect(sessionIdOf(api)).not.toBe(before);
    expect((await api.request('POST', '/api/login', { user: 'eve' })).status).toBe(409);

    expect(await api.json('POST', '/api/checkout')).toMatchObject({ stage: 'review' });
    expect((await api.request('POST', '/api/cart/items', { sku: 'A1' })).status).toBe(409);
    const declined = await api.request('POST', '/api/checkout/pay', { card: '4000000000000002' });
    expect(declined.status).toBe(402);
    expect((await declined.json()).error.code).toBe('card_declined');
    const paid = await api.json('POST', '/api/checkout/pay', { card: '4242424242424242' });
    expect(paid).toMatchObject({
      ok: true,
      cart: { stage: 'ordered', items: [], orderId: paid.orderId },
    });
    expect(paid.orderId).toMatch(/^ord_/);

    await api.json('POST', '/api/order/new');
    await api.json('POST', '/api/cart/items', { sku: 'C3' });
    expect(await api.json('DELETE', '/api/cart')).toMatchObject({ items: [], total: 0 });

    const loggedInId = sessionIdOf(api);
    expect(await api.json('POST', '/api/logout')).toMatchObject({ user: null });
    expect(sessionIdOf(api)).not.toBe(loggedInId);
    expect(shop!.sessions.count).toBe(1);
  });

  it('rejects malformed and oversized bodies without touching the cart', async () => {
    const url = await start();
    const api = new CookieJar(url);
    await api.json('GET', '/api/cart');
    const cookie = api.header();
    const malformed = await fetch(`${url}/api/cart/items`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json' },
      body: '{"sku":',
    });
    expect(malformed.status).toBe(400);
    const huge = await fetch(`${url}/api/cart/items`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ sku: 'A1', pad: 'x'.repeat(20_000) }),
    });
    expect(huge.status).toBe(413);
    const text = await fetch(`${url}/api/cart/items`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'text/plain' },
      body: 'A1',
    });
    expect(text.status).toBe(415);
    expect((await api.json('GET', '/api/cart')).items).toEqual([]);
  });

  it('starts no cart session for 2,000 cookie-less page views and 404s', async () => {
    const url = await start();
    const paths = ['/', '/cart', '/login', '/checkout', '/order', '/nope', '/api/nope', '/_x'];
    let cookies = 0;
    await Promise.all(
      Array.from({ length: 20 }, async (_, lane) => {
        for (let i = lane; i < 2_000; i += 20) {
          const res = await fetch(url + paths[i % paths.length]);
          await res.arrayBuffer();
          expect(res.status).toBeLessThan(500);
          cookies += res.headers.getSetCookie().length;
        }
      }),
    );
    expect(cookies).toBe(0);
    expect(shop!.sessions.stats().started).toBe(0);
  });

  it('escapes what users type into pages', async () => {
    const url = await start();
    const browser = new CookieJar(url);
    const res = await browser.request('GET', '/login?next=%22%3E%3Cscript%3Ealert(1)%3C/script%3E');
    const page = await res.text();
    expect(page).not.toContain('<script>');
    const bad = await form(browser, '/login', { user: '<img src=x onerror=alert(1)>' });
    expect(bad.status).toBe(422);
    expect(await bad.text()).not.toContain('<img');
  });
});
