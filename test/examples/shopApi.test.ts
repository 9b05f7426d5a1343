import { afterEach, describe, expect, it } from 'vitest';
import { CookieJar, startShop, type TestShop } from '../support/index.js';

let shop: TestShop | undefined;
afterEach(() => {
  shop = undefined;
});

async function start(): Promise<CookieJar> {
  shop = await startShop({ cart: { paymentDelayMs: 5 } });
  return new CookieJar(shop.url);
}

async function expectError(res: Response, status: number, code: string): Promise<string> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/application\/json/);
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe('string');
  return body.error.message;
}

describe('examples/shop API', () => {
  it('answers every API error in one JSON shape, 404 and 405 included', async () => {
    const api = await start();
    await expectError(await api.request('GET', '/api/nope'), 404, 'not_found');
    await expectError(await api.request('GET', '/api'), 404, 'not_found');
    const put = await api.request('PUT', '/api/cart');
    expect(put.headers.get('allow')).toMatch(/GET/);
    await expectError(put, 405, 'method_not_allowed');
    await expectError(await api.request('GET', '/api/checkout'), 405, 'method_not_allowed');
    await expectError(
      await api.request('POST', '/api/cart/items', { sku: 'ZZ' }),
      404,
      'unknown_sku',
    );
  });

  it('answers 400, not 500, for a malformed percent-encoding in a path', async () => {
    const api = await start();
    await api.json('POST', '/api/cart/items', { sku: 'A1' });
    for (const path of ['/api/cart/items/%', '/api/cart/items/%E0%A4%A', '/api/cart/items/A%2F1']) {
      await expectError(await api.request('DELETE', path), 400, 'invalid_request');
    }
    expect((await api.json('GET', '/api/cart')).count).toBe(1);
  });

  it.each([
    ['"0x10"', '0x10'],
    ['"1e1"', '1e1'],
    ['true', true],
    ['[5]', [5]],
    ['" 7 "', ' 7 '],
    ['0', 0],
    ['100', 100],
    ['2.5', 2.5],
    ['"7"', '7'],
    ['null', null],
  ])('refuses qty %s with 400 in the common shape, without touching the cart', async (_, qty) => {
    const api = await start();
    await api.json('POST', '/api/cart/items', { sku: 'A1' });
    const message = await expectError(
      await api.request('POST', '/api/cart/items', { sku: 'B2', qty }),
      400,
      'invalid_request',
    );
    expect(message).toMatch(/^qty: /);
    expect((await api.json('GET', '/api/cart')).items).toMatchObject([{ sku: 'A1', qty: 1 }]);
  });

  it('takes qty as a JSON integer, or as plain digits from a form', async () => {
    const api = await start();
    expect((await api.json('POST', '/api/cart/items', { sku: 'A1', qty: 7 })).count).toBe(7);
    const form = await fetch(`${api.base}/api/cart/items`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: api.header() },
      body: 'sku=A1&qty=3',
    });
    expect(form.status).toBe(200);
    expect((await api.json('GET', '/api/cart')).count).toBe(10);
  });

  it('refuses bodies of the wrong shape with 400 and the field', async () => {
    const api = await start();
    expect(
      await expectError(
        await api.request('POST', '/api/login', { user: 42 }),
        400,
        'invalid_request',
      ),
    ).toMatch(/^user: /);
    expect(
      await expectError(await api.request('POST', '/api/cart/items', {}), 400, 'invalid_request'),
    ).toMatch(/^sku: /);
    expect(
      await expectError(
        await api.request('POST', '/api/checkout/pay', { card: ['4242'] }),
        400,
        'invalid_request',
      ),
    ).toMatch(/^card: /);
    expect(shop!.sessions.count).toBe(0);
  });
});
