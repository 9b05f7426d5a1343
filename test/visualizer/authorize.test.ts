import { get } from 'node:http';
import { describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { isLoopback } from 'session-process/visualizer';
import { startVizApp, type VizApp } from './helpers.js';

let app: VizApp | undefined;
describe('authorize', () => {
  it('answers 403 for the page, its assets and the feed when authorize is false', async () => {
    app = await startVizApp({ authorize: () => false });
    for (const path of ['/_sessions', '/_sessions/', '/_sessions/app.js', '/_sessions/app.css']) {
      const res = await fetch(app.url + path);
      expect(res.status, path).toBe(403);
    }
    await expect(app.feed()).rejects.toMatchObject({ status: 403 });
  });

  it('serves the page, its assets and the feed when authorize is true', async () => {
    app = await startVizApp({ authorize: () => true });
    const page = await fetch(`${app.url}/_sessions`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await page.text();
    expect(html).toContain('/_sessions/app.js');
    expect(html).not.toMatch(/https?:\/\//);
    const js = await fetch(`${app.url}/_sessions/app.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    const etag = js.headers.get('etag')!;
    expect(etag).toBeTruthy();
    const again = await new Promise<number | undefined>((resolve, reject) => {
      // node:http, not fetch: fetch marks a conditional request `no-cache`, which forbids a 304.
      get(`${app!.url}/_sessions/app.js`, { headers: { 'if-none-match': etag } }, (res) => {
        res.resume();
        resolve(res.statusCode);
      }).on('error', reject);
    });
    expect(again).toBe(304);
    const css = await fetch(`${app.url}/_sessions/app.css`);
    expect(css.status).toBe(200);
    const feed = await app.feed();
    await feed.next((m) => m.type === 'hello');
  });

  it('gives authorize a Koa context for the feed upgrade, with the request headers', async () => {
    app = await startVizApp({ authorize: (ctx) => ctx.get('x-admin') === 'yes' });
    await expect(app.feed()).rejects.toMatchObject({ status: 403 });
    await app.feed({ 'x-admin': 'yes' });
  });

  it('refuses a feed opened from another origin', async () => {
    app = await startVizApp({ authorize: () => true });
    await expect(app.feed({ origin: 'https://evil.example' })).rejects.toMatchObject({
      status: 403,
    });
    await app.feed({ origin: app.url });
  });

  it('refuses when authorize throws', async () => {
    app = await startVizApp({
      authorize: () => {
        throw new Error('nope');
      },
    });
    expect((await fetch(`${app.url}/_sessions`)).status).toBe(403);
    await expect(app.feed()).rejects.toMatchObject({ status: 403 });
  });

  it('leaves other requests and other upgrade handlers alone', async () => {
    app = await startVizApp({ authorize: () => false });
    expect((await fetch(`${app.url}/id`)).status).toBe(200);
    // Not under the mount path: the app's own router answers (404), not the visualizer (403).
    expect((await fetch(`${app.url}/_sessionsX`)).status).toBe(404);
    const other = new WebSocketServer({ noServer: true });
    app.server.on('upgrade', (req, socket, head) => {
      if (req.url === '/other') other.handleUpgrade(req, socket, head, (ws) => ws.send('hi'));
    });
    const { WebSocket } = await import('ws');
    const ws = new WebSocket(`${app.url.replace('http', 'ws')}/other`);
    const msg = await new Promise<string>((resolve, reject) => {
      ws.once('message', (d) => resolve(d.toString()));
      ws.once('error', reject);
    });
    expect(msg).toBe('hi');
    ws.close();
    other.close();
  });

  it('isLoopback accepts 127.0.0.1 and ::1 and refuses proxied or remote requests', () => {
    const ctx = (remoteAddress: string, headers: Record<string, string> = {}) =>
      ({ req: { socket: { remoteAddress }, headers } }) as never;
    expect(isLoopback(ctx('127.0.0.1'))).toBe(true);
    expect(isLoopback(ctx('::1'))).toBe(true);
    expect(isLoopback(ctx('::ffff:127.0.0.1'))).toBe(true);
    expect(isLoopback(ctx('10.0.0.8'))).toBe(false);
    expect(isLoopback(ctx('127.0.0.1', { 'x-forwarded-for': '203.0.113.9' }))).toBe(false);
    expect(isLoopback(ctx('127.0.0.1', { 'x-forwarded-host': 'admin.example' }))).toBe(false);
  });
});
