import { request } from 'node:http';
import { isHostAllowed } from 'session-process/visualizer';
import { describe, expect, it } from 'vitest';
import { startVizApp, type VizApp } from './helpers.js';

let app: VizApp | undefined;
/** GET with a `Host` of our choosing (fetch does not let a caller set it). */
function get(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

describe('allowedHosts (DNS rebinding)', () => {
  it('refuses the page, its assets and the feed for a Host that is not allowed, even with a matching Origin', async () => {
    app = await startVizApp({ authorize: () => true });
    for (const path of ['/_sessions', '/_sessions/app.js', '/_sessions/app.css']) {
      const res = await get(app.url + path, { host: 'evil.example' });
      expect(res.status, path).toBe(403);
      expect(res.body).toContain('allowedHosts');
    }
    await expect(
      app.feed({ host: 'evil.example', origin: 'http://evil.example' }),
    ).rejects.toMatchObject({ status: 403 });
  });

  it('answers loopback names and IP addresses by default', async () => {
    app = await startVizApp({ authorize: () => true });
    const port = new URL(app.url).port;
    for (const host of [
      `localhost:${port}`,
      `127.0.0.1:${port}`,
      `[::1]:${port}`,
      `app.localhost:${port}`,
    ]) {
      expect((await get(`${app.url}/_sessions`, { host })).status, host).toBe(200);
      const feed = await app.feed({ host, origin: `http://${host}` });
      await feed.next((m) => m.type === 'hello');
    }
  });

  it('answers the names listed in allowedHosts, and any name with "any"', async () => {
    app = await startVizApp({
      authorize: () => true,
      allowedHosts: ['admin.example', '.ops.example'],
    });
    for (const host of ['admin.example', 'ops.example', 'eu.ops.example']) {
      expect((await get(`${app.url}/_sessions`, { host })).status, host).toBe(200);
    }
    await app.feed({ host: 'admin.example', origin: 'https://admin.example' });
    expect((await get(`${app.url}/_sessions`, { host: 'evil.example' })).status).toBe(403);
    await app.close();
    app = await startVizApp({ authorize: () => true, allowedHosts: 'any' });
    expect((await get(`${app.url}/_sessions`, { host: 'evil.example' })).status).toBe(200);
  });

  it('checks the forwarded host behind a trusted proxy', async () => {
    app = await startVizApp({ authorize: () => true }, { proxy: true });
    const res = await get(`${app.url}/_sessions`, {
      host: '127.0.0.1',
      'x-forwarded-host': 'evil.example',
    });
    expect(res.status).toBe(403);
    expect(res.body).toContain('X-Forwarded-Host');
  });

  it('isHostAllowed parses ports, brackets and case', () => {
    expect(isHostAllowed('LOCALHOST:3000', [])).toBe(true);
    expect(isHostAllowed('[::1]:8080', [])).toBe(true);
    expect(isHostAllowed('localhost.evil.example', [])).toBe(false);
    expect(isHostAllowed('Admin.Example:443', ['admin.example'])).toBe(true);
    expect(isHostAllowed('notadmin.example', ['admin.example'])).toBe(false);
  });
});
