import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { cookieKeys } from '../../examples/shop/keys.js';
import { type RunningShop, startShop } from '../../examples/shop/startShop.js';
import { CookieJar } from '../support/index.js';

let running: RunningShop | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

describe('startShop (npm start)', () => {
  it('prints every URL it serves, and each answers', async () => {
    const lines: string[] = [];
    running = await startShop({ port: 0, env: {}, log: (line) => lines.push(line) });
    const { urls } = running;
    const printed = lines.join('\n');
    for (const url of Object.values(urls)) expect(printed).toContain(url);
    expect(printed).toMatch(/warning: COOKIE_SECRET is not set/);

    expect((await fetch(urls.shop)).status).toBe(200);
    expect((await fetch(urls.visualizer)).status).toBe(200);
    const browser = new CookieJar(urls.shop.slice(0, -1));
    await browser.json('POST', '/api/cart/items', { sku: 'A1' });
    const socket = new WebSocket(urls.live, {
      headers: { cookie: browser.header(), origin: urls.shop.slice(0, -1) },
    });
    const first = await new Promise<string>((resolve, reject) => {
      socket.once('message', (data) => resolve(String(data)));
      socket.once('error', reject);
    });
    expect(JSON.parse(first)).toMatchObject({ type: 'snapshot', view: { count: 1 } });

    // The metrics, scraped over HTTP, follow the shop (live view included).
    const metrics = await (await fetch(urls.metrics)).text();
    expect(metrics).toMatch(/^session_process_sessions\{logic="default"\} 1$/m);
    expect(metrics).toMatch(/^session_process_starts_total 1$/m);
    expect(metrics).toMatch(/^session_process_live_connections 1$/m);
    expect(metrics).toMatch(/^session_process_calls_total\{outcome="until",code=""\} 1$/m);
    socket.close();
  });

  it('serves /metrics to this machine only', async () => {
    running = await startShop({ port: 0, env: {}, log: () => {} });
    // What a request through a proxy looks like: not from this machine.
    const proxied = await fetch(running.urls.metrics, {
      headers: { 'x-forwarded-for': '203.0.113.9' },
    });
    expect(proxied.status).toBe(403);
    expect(await proxied.text()).not.toContain('session_process_');
  });

  it('fails at start without COOKIE_SECRET in production, saying what to set', async () => {
    await expect(
      startShop({ port: 0, env: { NODE_ENV: 'production' }, log: () => {} }),
    ).rejects.toThrow(/COOKIE_SECRET is not set\. Set it to a random secret of at least 32/);
  });

  it('fails at start with a weak COOKIE_SECRET', async () => {
    await expect(
      startShop({
        port: 0,
        env: { NODE_ENV: 'production', COOKIE_SECRET: 'hunter2' },
        log: () => {},
      }),
    ).rejects.toThrow(/app\.keys\[0\] is 7 characters long/);
  });

  it('reads COOKIE_SECRET as comma-separated keys, newest first', () => {
    const warn: string[] = [];
    expect(cookieKeys({ COOKIE_SECRET: ' new-key , old-key ' }, (w) => warn.push(w))).toEqual([
      'new-key',
      'old-key',
    ]);
    expect(warn).toEqual([]);
    const dev = cookieKeys({}, (w) => warn.push(w));
    expect(dev[0]!.length).toBeGreaterThanOrEqual(32);
    expect(warn).toHaveLength(1);
  });
});
