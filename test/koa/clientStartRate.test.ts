import { Registry } from 'prom-client';
import { prometheusMetrics } from 'session-process/prometheus';
import { describe, expect, it } from 'vitest';
import { CookieJar } from '../support/index.js';
import { startApp, type TestApp } from './helpers.js';

let t: TestApp | undefined;
/** A cookie-less visitor from `ip` (through a proxy that Koa trusts) asking for its count. */
function visit(ip: string, cookie?: string): Promise<Response> {
  const headers: Record<string, string> = { 'x-forwarded-for': ip };
  if (cookie) headers.cookie = cookie;
  return fetch(`${t!.url}/count`, { headers });
}

describe('clientStartRate', () => {
  it('refuses one address past its quota with 429 and Retry-After, while another still gets in', async () => {
    t = await startApp({}, { clientStartRate: { limit: 3, intervalMs: 60_000 } });
    t.app.proxy = true; // ctx.ip from X-Forwarded-For
    const first = await visit('10.0.0.1');
    const browser = new CookieJar();
    browser.store(first.headers.getSetCookie());
    const cookie = browser.header();
    expect(first.status).toBe(200);
    expect((await visit('10.0.0.1')).status).toBe(200);
    expect((await visit('10.0.0.1')).status).toBe(200);

    const refused = await visit('10.0.0.1');
    expect(refused.status).toBe(429);
    expect(refused.headers.getSetCookie()).toEqual([]);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(55);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(t.sessions.count).toBe(3);

    // Another address is not affected, and the first address's existing session is still served.
    expect((await visit('10.0.0.2')).status).toBe(200);
    const again = await visit('10.0.0.1', cookie);
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ count: 0 });
    expect(t.sessions.count).toBe(4);
  });

  it('reports each refusal, counted by the metrics', async () => {
    t = await startApp({}, { clientStartRate: { limit: 1, intervalMs: 60_000 } });
    const registry = new Registry();
    const metrics = prometheusMetrics(t.sessions, { registry });
    try {
      expect((await visit('10.0.0.1')).status).toBe(200);
      expect((await visit('10.0.0.1')).status).toBe(429);
      expect((await visit('10.0.0.1')).status).toBe(429);
      expect(await registry.metrics()).toMatch(
        /^session_process_refusals_total\{reason="client_rate_limited"\} 2$/m,
      );
    } finally {
      metrics.close();
    }
  });

  it('counts by the socket address when the app does not trust a proxy', async () => {
    t = await startApp({}, { clientStartRate: { limit: 2, intervalMs: 60_000 } });
    expect((await visit('10.0.0.1')).status).toBe(200);
    expect((await visit('10.0.0.2')).status).toBe(200);
    // A forged X-Forwarded-For does not buy a new quota: both were 127.0.0.1.
    expect((await visit('10.0.0.3')).status).toBe(429);
  });

  it('takes the client key from `clientKey`', async () => {
    t = await startApp(
      {},
      {
        clientStartRate: { limit: 1, intervalMs: 60_000 },
        clientKey: (ctx) => ctx.get('x-tenant'),
      },
    );
    const as = (tenant: string) => fetch(`${t!.url}/count`, { headers: { 'x-tenant': tenant } });
    expect((await as('a')).status).toBe(200);
    expect((await as('a')).status).toBe(429);
    expect((await as('b')).status).toBe(200);
  });
});

describe('clientStartRate behind a proxy (app.proxy)', () => {
  /** A cookie-less visitor whose request carries this X-Forwarded-For. */
  const forwarded = (xff: string) =>
    fetch(`${t!.url}/count`, { headers: { 'x-forwarded-for': xff } });

  it('still limits a client that rotates the leftmost X-Forwarded-For entry', async () => {
    t = await startApp({}, { clientStartRate: { limit: 5, intervalMs: 60_000 } });
    t.app.proxy = true; // maxIpsCount left at Koa's default: one proxy
    const statuses: number[] = [];
    // The client writes a fresh address each time; the proxy appends the one it saw.
    for (let i = 0; i < 30; i++)
      statuses.push((await forwarded(`10.9.${i}.1, 198.51.100.4`)).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(25);
    // The address the proxy saw is what is limited; another one still gets in.
    expect((await forwarded('10.9.0.1, 198.51.100.5')).status).toBe(200);
  });

  it('skips maxIpsCount hops: with two proxies the client is the second entry from the right', async () => {
    t = await startApp({}, { clientStartRate: { limit: 2, intervalMs: 60_000 } });
    t.app.proxy = true;
    t.app.maxIpsCount = 2;
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      // client-written, the client as the CDN saw it, a different CDN edge each time
      statuses.push((await forwarded(`10.9.${i}.1, 198.51.100.4, 192.0.2.${i}`)).status);
    }
    expect(statuses).toEqual([200, 200, 429, 429, 429, 429]);
  });

  it('limits 300 addresses of one IPv6 /64 as one client', async () => {
    t = await startApp({}, { clientStartRate: { limit: 10, intervalMs: 60_000 } });
    t.app.proxy = true;
    let accepted = 0;
    for (let i = 0; i < 300; i++) {
      const res = await forwarded(`2001:db8:77:1:${(i + 1).toString(16)}::${i % 7}`);
      if (res.status === 200) accepted++;
      else expect(res.status).toBe(429);
    }
    expect(accepted).toBe(10);
    expect(t.sessions.count).toBe(10);
    // The next /64 is another client.
    expect((await forwarded('2001:db8:77:2::1')).status).toBe(200);
  });
});
