import Koa from 'koa';
import session from 'koa-session';
import { createSessionSupervisor } from 'session-process';
import { SigningKeyError, sessionProcess } from 'session-process/koa';
import { afterEach, describe, expect, it } from 'vitest';
import { COOKIE, startApp, type TestApp, tallyMachine } from './helpers.js';
import { serveApp, TEST_KEYS } from '../support/index.js';

let t: TestApp | undefined;
describe('safe defaults', () => {
  it('starts no process for 10,000 cookie-less requests, 404s included (lazy by default)', async () => {
    t = await startApp();
    const paths = ['/static', '/nope', '/robots.txt', '/id', '/wp-login.php'];
    let cookies = 0;
    const statuses = new Map<number, number>();
    const base = t.url;
    let next = 0;
    // 50 crawlers in parallel, none of them keeping cookies.
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (next < 10_000) {
          const path = paths[next++ % paths.length]!;
          const res = await fetch(base + path);
          await res.arrayBuffer();
          if (res.headers.getSetCookie().length > 0) cookies++;
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        }
      }),
    );
    expect(statuses.get(404)).toBe(6_000);
    expect(statuses.get(200)).toBe(4_000);
    expect(cookies).toBe(0);
    expect(t.sessions.count).toBe(0);
    expect(t.sessions.stats().started).toBe(0);
  });

  it('keeps the eager mode as an option (`lazy: false`)', async () => {
    t = await startApp({}, { lazy: false });
    const res = await t.client().request('GET', '/static');
    expect(res.headers.getSetCookie().join()).toContain(`${COOKIE}=`);
    expect(t.sessions.count).toBe(1);
  });

  describe('signing keys', () => {
    const sessions = createSessionSupervisor({ logic: tallyMachine });
    afterEach(() => {});

    it.each([
      ['missing', undefined, 'SIGNING_KEY_MISSING', /app\.keys is not set/],
      ['empty', [], 'SIGNING_KEY_MISSING', /app\.keys is not set/],
      ['short', ['changeme'], 'SIGNING_KEY_WEAK', /app\.keys\[0\] is 8 characters long/],
      ['an old key short', [TEST_KEYS[0], 'secret'], 'SIGNING_KEY_WEAK', /app\.keys\[1\]/],
    ])(
      'refuses %s keys when the middleware is created, saying what to set',
      (_, keys, code, message) => {
        const app = new Koa();
        if (keys !== undefined) app.keys = keys as string[];
        app.use(session({ key: COOKIE }, app));
        let caught: unknown;
        try {
          sessionProcess(sessions, { app });
        } catch (err) {
          caught = err;
        }
        expect(caught).toBeInstanceOf(SigningKeyError);
        expect((caught as SigningKeyError).code).toBe(code);
        expect((caught as Error).message).toMatch(message);
        expect((caught as Error).message).toMatch(/Set app\.keys to .* at least 32 characters/);
      },
    );

    it('accepts keys of 32 characters or more, and no keys when koa-session does not sign', () => {
      const app = new Koa();
      app.keys = TEST_KEYS;
      app.use(session({ key: COOKIE }, app));
      expect(() => sessionProcess(sessions, { app })).not.toThrow();

      const unsigned = new Koa();
      unsigned.use(session({ key: COOKIE, signed: false }, unsigned));
      expect(() => sessionProcess(sessions, { app: unsigned })).not.toThrow();
      expect(() => sessionProcess(sessions, { app: new Koa(), signed: false })).not.toThrow();
      // A Keygrip instance does not show its keys: it is taken as it is.
      const grip = { keys: undefined, sign: () => '', verify: () => true, index: () => 0 };
      expect(() => sessionProcess(sessions, { app: { keys: grip } })).not.toThrow();
    });

    it('without `app`, fails the first request with the same message instead of a keygrip error', async () => {
      const app = new Koa();
      app.silent = true;
      const errors: unknown[] = [];
      app.on('error', (err) => errors.push(err));
      app.use(session({ key: COOKIE }, app));
      app.use(sessionProcess(sessions));
      app.use((ctx) => {
        ctx.body = 'ok';
      });
      const { url } = await serveApp(app.callback());
      const res = await fetch(`${url}/`);
      expect(res.status).toBe(500);
      expect(errors[0]).toBeInstanceOf(SigningKeyError);
      expect(String(errors[0])).toMatch(/Set app\.keys/);
    });
  });

  describe('a request that fails', () => {
    it('leaves no process behind when it started one', async () => {
      t = await startApp();
      const browser = t.client();
      const res = await browser.request('POST', '/fail');
      expect(res.status).toBe(500);
      expect(t.sessions.stats().started).toBe(1);
      expect(t.sessions.count).toBe(0);
      expect(browser.cookies.has(COOKIE)).toBe(false);
      // The next request starts over cleanly.
      expect((await browser.json('POST', '/inc')).count).toBe(1);
      expect(t.sessions.count).toBe(1);
    });

    it('leaves no process behind in eager mode either', async () => {
      t = await startApp({}, { lazy: false });
      expect((await t.client().request('POST', '/fail')).status).toBe(500);
      expect(t.sessions.count).toBe(0);
    });

    it('keeps a process that an earlier request started', async () => {
      t = await startApp();
      const browser = t.client();
      const { id } = await browser.json('POST', '/inc');
      expect((await browser.request('POST', '/fail')).status).toBe(500);
      expect(t.sessions.started(id)).toBe(true);
      expect(await browser.json('GET', '/count')).toEqual({ id, count: 2 });
    });
  });
});
