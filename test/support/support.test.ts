import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import {
  CookieJar,
  connectWs,
  recordFrames,
  serveApp,
  startShop,
  startTestServer,
  upgradeStatus,
} from './index.js';

describe('CookieJar', () => {
  it('sends back what Set-Cookie set and drops what it expires', () => {
    const jar = new CookieJar();
    jar.store(['sid=abc; path=/; httponly', 'sid.sig=xyz; path=/', 'theme=dark; Max-Age=60']);
    expect(jar.header()).toBe('sid=abc; sid.sig=xyz; theme=dark');
    jar.store([
      'theme=; path=/',
      'sid.sig=gone; expires=Thu, 01 Jan 1970 00:00:00 GMT',
      'sid=new; Max-Age=0',
    ]);
    expect(jar.header()).toBe('');
  });

  it('keeps a session across requests, and a clone is a second browser with the same cookie', async () => {
    const t = await startTestServer({
      routes: (app) =>
        app.use((ctx) => {
          ctx.body = ctx.session?.sessionId ?? 'none';
        }),
    });
    const jar = new CookieJar();
    const id = await (await jar.fetch(`${t.url}/login`)).text();
    expect(await (await jar.fetch(`${t.url}/whoami`)).text()).toBe(id);
    expect(await (await jar.clone().fetch(`${t.url}/whoami`)).text()).toBe(id);
    expect(await (await new CookieJar().fetch(`${t.url}/whoami`)).text()).toBe('none');
  });
});

describe('startTestServer', () => {
  let left: {
    url: string;
    ws: WebSocket;
    sessions: Awaited<ReturnType<typeof startTestServer>>['sessions'];
  };

  it('serves a login and live views on 127.0.0.1', async () => {
    const t = await startTestServer({ live: { events: ['add_one'] } });
    expect(t.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const { cookie, sessionId } = await t.login();
    expect(t.sessions.started(sessionId)).toBe(true);
    const ws = await connectWs(t.wsUrl, { origin: t.origin, cookie });
    await recordFrames(ws).until(() => recordFrames(ws).frames.length > 0, 'the first snapshot');
    expect(await upgradeStatus(t.wsUrl, { origin: 'http://evil.example', cookie })).toBe(403);
    left = { url: t.url, ws, sessions: t.sessions };
  });

  // Runs after the test above: what it left open was closed by the kit, not by the test.
  it('closes the server, its sockets and its supervisor after the test that started it', async () => {
    await expect(fetch(`${left.url}/login`)).rejects.toThrow();
    expect(left.ws.readyState).toBe(left.ws.CLOSED);
    expect(left.sessions.count).toBe(0);
  });
});

describe('CookieJar with a base URL', () => {
  it('posts JSON to paths, reads the koa-session data, and a clone follows the server elsewhere', async () => {
    const t = await startTestServer({
      routes: (app) =>
        app.use((ctx) => {
          ctx.session!.seen = ((ctx.session!.seen as number) ?? 0) + 1;
          ctx.body = { method: ctx.method, type: ctx.get('content-type') };
        }),
    });
    const jar = new CookieJar(t.url);
    expect(await jar.json('POST', '/x', { a: 1 })).toEqual({
      method: 'POST',
      type: 'application/json',
    });
    expect(jar.sessionData('sid')).toMatchObject({ seen: 1 });
    const other = await startTestServer();
    expect(jar.clone(other.url).base).toBe(other.url);
    expect(jar.clone(other.url).header()).toBe(jar.header());
  });
});

describe('startTestServer extras', () => {
  let left: { served: string; shop: string } | undefined;

  it('restarts on the same port, keeping the sessions, and views connect again', async () => {
    const t = await startTestServer({ live: { events: ['add_one'] } });
    const { cookie, sessionId } = await t.login();
    const ws = await connectWs(t.wsUrl, { origin: t.origin, cookie });
    await t.restart();
    await recordFrames(ws).whenClosed(); // the deploy dropped the view
    expect(t.sessions.started(sessionId)).toBe(true);
    const again = await connectWs(t.wsUrl, { origin: t.origin, cookie });
    expect(await recordFrames(again).next((m) => m.type === 'snapshot')).toMatchObject({
      type: 'snapshot',
    });
  });

  it('serves any handler and the demo shop on loopback', async () => {
    const served = await serveApp((_req, res) => res.end('hi'));
    expect(await (await fetch(served.url)).text()).toBe('hi');
    const shop = await startShop({ clientStartRate: false });
    expect((await fetch(`${shop.url}/api/cart`)).status).toBe(200);
    left = { served: served.url, shop: shop.url };
  });

  // Runs after the test above: the kit closed what it started.
  it('closes served handlers and shops after the test', async () => {
    await expect(fetch(left!.served)).rejects.toThrow();
    await expect(fetch(`${left!.shop}/api/cart`)).rejects.toThrow();
  });
});
