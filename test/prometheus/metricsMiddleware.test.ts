import Koa from 'koa';
import { Counter, Registry } from 'prom-client';
import { metricsMiddleware, type MetricsMiddlewareOptions } from 'session-process/prometheus';
import { describe, expect, it } from 'vitest';
import { httpRequest, serveApp } from '../support/index.js';

/** A request with exactly these headers, `Host` included. */
const get = (url: string, headers: Record<string, string> = {}, method = 'GET') =>
  httpRequest(url, { method, headers });

async function serveMetrics(options?: MetricsMiddlewareOptions, proxy = false) {
  const registry = new Registry();
  new Counter({ name: 'edge_test_total', help: 'A counter.', registers: [registry] }).inc(3);
  const app = new Koa();
  app.proxy = proxy;
  app.use(metricsMiddleware(registry, options));
  app.use((ctx) => {
    ctx.body = 'the app';
  });
  const { url } = await serveApp(app.callback());
  return { url, port: new URL(url).port };
}

describe('metricsMiddleware', () => {
  it('serves the registry to this machine under a loopback name or an IP address', async () => {
    const { url, port } = await serveMetrics();
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) {
      const res = await get(`${url}/metrics`, { host });
      expect(res.status).toBe(200);
      expect(res.body).toMatch(/^edge_test_total 3$/m);
      expect(res.headers['content-type']).toMatch(/^text\/plain/);
    }
    expect((await get(`${url}/other`)).body).toBe('the app');
  });

  it('refuses a foreign Host (DNS rebinding) with 403, unless it is in allowedHosts', async () => {
    const { url, port } = await serveMetrics();
    const res = await get(`${url}/metrics`, { host: `rebind.evil.example:${port}` });
    expect(res.status).toBe(403);
    expect(res.body).toContain('"rebind.evil.example"');
    expect(res.body).not.toContain('edge_test_total');

    const allowed = await serveMetrics({ allowedHosts: ['.internal'] });
    expect((await get(`${allowed.url}/metrics`, { host: 'metrics.internal' })).status).toBe(200);
    expect((await get(`${allowed.url}/metrics`, { host: 'metrics.example' })).status).toBe(403);
  });

  it('refuses a request a proxy relayed, and checks X-Forwarded-Host with app.proxy', async () => {
    const { url } = await serveMetrics();
    const relayed = await get(`${url}/metrics`, { 'x-forwarded-for': '203.0.113.9' });
    expect(relayed.status).toBe(403);
    expect(relayed.body).not.toContain('edge_test_total');

    const behind = await serveMetrics({ authorize: () => true }, true);
    const forged = await get(`${behind.url}/metrics`, { 'x-forwarded-host': 'evil.example' });
    expect(forged.status).toBe(403);
    expect((await get(`${behind.url}/metrics`)).status).toBe(200);
  });

  it('answers GET and HEAD only', async () => {
    const { url } = await serveMetrics({ path: '/_metrics' });
    const post = await get(`${url}/_metrics`, {}, 'POST');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    expect((await get(`${url}/_metrics`, {}, 'HEAD')).status).toBe(200);
    expect((await get(`${url}/metrics`)).body).toBe('the app');
  });
});
