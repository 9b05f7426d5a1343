import net from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { SHOP_SERVER_LIMITS } from '../../examples/shop/app.js';
import {
  CookieJar,
  connectWs,
  httpRequest,
  recordFrames as record,
  startShop,
} from '../support/index.js';

describe('the demo shop at its edges', () => {
  it('refuses a live cart.add whose qty is not a small whole number; the cart keeps what it had', async () => {
    const shop = await startShop({ clientStartRate: false }, { live: {} });
    const browser = new CookieJar(shop.url);
    expect((await browser.request('POST', '/api/cart/items', { sku: 'A1', qty: 1 })).ok).toBe(true);
    const ws = await connectWs(`${shop.url.replace('http', 'ws')}/live`, {
      cookie: browser.header(),
      origin: shop.url,
    });
    const rec = record(ws);
    await rec.next((m) => m.type === 'snapshot');
    const call = (ref: string, event: object) => {
      ws.send(JSON.stringify({ type: 'call', ref, event }));
      return rec.next((m) => m.ref === ref);
    };
    for (const qty of [1e15, 0, 2.5, '3', 100]) {
      expect(await call(`q${qty}`, { type: 'cart.add', sku: 'A1', qty })).toMatchObject({
        type: 'error',
        code: 'INVALID_EVENT',
        message: 'qty: must be a whole number from 1 to 99',
      });
    }
    expect(await call('sku', { type: 'cart.add', sku: '<script>', qty: 1 })).toMatchObject({
      code: 'INVALID_EVENT',
      message: 'sku: must be a product code',
    });
    ws.send(JSON.stringify({ type: 'send', event: { type: 'cart.add', sku: 'A1', qty: 2 } }));
    const cart = await call('get', { type: 'cart.get' });
    expect(cart.value.items).toEqual([expect.objectContaining({ sku: 'A1', qty: 3 })]);
  });

  it('serves /metrics under a loopback name only: a foreign Host is refused', async () => {
    const shop = await startShop();
    const port = new URL(shop.url).port;
    const local = await httpRequest(`${shop.url}/metrics`, {
      headers: { host: `localhost:${port}` },
    });
    expect(local.status).toBe(200);
    expect(local.body).toContain('session_process_sessions');
    const rebound = await httpRequest(`${shop.url}/metrics`, {
      headers: { host: `shop.evil.example:${port}` },
    });
    expect(rebound.status).toBe(403);
    expect(rebound.body).not.toContain('session_process_');
    expect(shop.sessions.count).toBe(0); // a scrape starts no session
  });

  it('sets its server deadlines and connection cap: a half-sent head gets 408, a connection past the cap is closed', async () => {
    const defaults = await startShop();
    expect(defaults.server.headersTimeout).toBe(SHOP_SERVER_LIMITS.headersTimeoutMs);
    expect(defaults.server.requestTimeout).toBe(SHOP_SERVER_LIMITS.requestTimeoutMs);
    expect(defaults.server.maxConnections).toBe(SHOP_SERVER_LIMITS.maxConnections);

    const shop = await startShop({ server: { headersTimeoutMs: 500, maxConnections: 3 } });
    const port = Number(new URL(shop.url).port);
    /** A connection that sends `data` and then nothing; resolves with what it got when it closed. */
    const idle = (data: string) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.write(data));
      let got = '';
      socket.on('data', (d) => {
        got += String(d);
      });
      socket.on('error', () => {});
      return new Promise<string>((resolve) => socket.once('close', () => resolve(got)));
    };
    const halves = [1, 2, 3].map(() => idle('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n'));
    await vi.waitFor(async () => {
      const n = await new Promise<number>((resolve) =>
        shop.server.getConnections((_err, count) => resolve(count)),
      );
      expect(n).toBe(3);
    });
    // The fourth connection is past the cap: closed at once with no answer (not even a 408),
    // though it sent a whole request.
    expect(await idle('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')).toBe('');
    for (const got of await Promise.all(halves)) expect(got).toMatch(/^HTTP\/1\.1 408 /);
    // Then the server takes requests again.
    expect((await fetch(shop.url)).status).toBe(200);
  });
});
