import Koa from 'koa';
import { describe, expect, it } from 'vitest';
import { createSessionSupervisor, generateSessionId } from 'session-process';
import { sessionProcess } from 'session-process/koa';
import {
  COOKIE,
  decodeSession,
  encodeSession,
  signedSessionCookies,
  startApp,
  type TestApp,
  tallyMachine,
} from './helpers.js';
import { CookieJar, serveApp } from '../support/index.js';

let t: TestApp | undefined;
describe('sessionProcess', () => {
  describe('session ID', () => {
    it('sets a 192-bit base64url ID on the first visit in eager mode, in a signed httpOnly cookie', async () => {
      t = await startApp({}, { lazy: false });
      const browser = t.client();
      const res = await browser.request('GET', '/id');
      const { id } = (await res.json()) as { id: string };
      expect(id).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect(decodeSession(browser)?.sessionId).toBe(id);
      const setCookie = res.headers.getSetCookie().join('\n');
      expect(setCookie).toMatch(new RegExp(`${COOKIE}=[^;]+;.*httponly`, 'i'));
      expect(setCookie).toContain(`${COOKIE}.sig=`);
      expect(t.sessions.started(id)).toBe(true);
    });

    it('keeps the same ID on later requests', async () => {
      t = await startApp({}, { lazy: false });
      const browser = t.client();
      const first = await browser.json('GET', '/id');
      const second = await browser.json('GET', '/id');
      const third = await browser.json('POST', '/inc');
      expect(second.id).toBe(first.id);
      expect(third.id).toBe(first.id);
      expect(t.sessions.count).toBe(1);
    });

    it('gives a fresh session to a cookie whose signature was tampered with', async () => {
      t = await startApp();
      const victim = t.client();
      const { id: victimId } = await victim.json('POST', '/inc');
      await victim.json('POST', '/inc');

      // An attacker rewrites their own cookie to name the victim's session, keeping their signature.
      const attacker = t.client();
      await attacker.json('GET', '/id');
      attacker.cookies.set(COOKIE, encodeSession({ sessionId: victimId }));
      const seen = await attacker.json('GET', '/count');
      expect(seen.id).not.toBe(victimId);
      expect(seen.count).toBe(0);
      expect((await victim.json('GET', '/count')).count).toBe(2);

      // A signature that is merely corrupted also just starts over.
      const other = t.client();
      const before = await other.json('POST', '/inc');
      other.cookies.set(`${COOKIE}.sig`, 'AAAA');
      const after = await other.json('GET', '/count');
      expect(after.id).not.toBe(before.id);
      expect(after.count).toBe(0);
    });

    it('gives a fresh session to a signed cookie holding an invalid ID, never a 500', async () => {
      t = await startApp();
      for (const bad of ['../../etc/passwd', '', 'x'.repeat(129), 42, { $ne: null }, null]) {
        const browser = new CookieJar(t.url);
        for (const [k, v] of await signedSessionCookies({ sessionId: bad }))
          browser.cookies.set(k, v);
        const res = await browser.request('GET', '/count');
        expect(res.status).toBe(200);
        const body = (await res.json()) as { id: string; count: number };
        expect(body.id).toMatch(/^[A-Za-z0-9_-]{32}$/);
        expect(body.count).toBe(0);
        expect(decodeSession(browser)?.sessionId).toBe(body.id);
      }
    });

    it('gives a fresh ID to a signed cookie holding an unknown ID, not a process under that ID', async () => {
      t = await startApp();
      const unknown = generateSessionId();
      const browser = new CookieJar(t.url);
      for (const [k, v] of await signedSessionCookies({ sessionId: unknown, theme: 'dark' })) {
        browser.cookies.set(k, v);
      }
      const body = await browser.json('GET', '/count');
      expect(body.id).not.toBe(unknown);
      expect(body.count).toBe(0);
      expect(t.sessions.started(unknown)).toBe(false);
      // The rest of the koa-session session is the application's and stays.
      expect(decodeSession(browser)).toMatchObject({ sessionId: body.id, theme: 'dark' });
    });
  });

  describe('state', () => {
    it('keeps the process state across requests', async () => {
      t = await startApp();
      const browser = t.client();
      await browser.json('POST', '/inc');
      await browser.json('POST', '/inc');
      expect((await browser.json('POST', '/inc')).count).toBe(3);
      expect((await browser.json('GET', '/count')).count).toBe(3);
    });

    it('isolates two clients', async () => {
      t = await startApp();
      const a = t.client();
      const b = t.client();
      await a.json('POST', '/inc');
      await a.json('POST', '/inc');
      await b.json('POST', '/inc');
      const ra = await a.json('GET', '/count');
      const rb = await b.json('GET', '/count');
      expect(ra.id).not.toBe(rb.id);
      expect(ra.count).toBe(2);
      expect(rb.count).toBe(1);
    });

    it('passes the `logic` and `input` chosen from the request to a new process', async () => {
      t = await startApp(
        { logics: { other: tallyMachine } },
        {
          logic: (ctx) => (ctx.query.plan === 'pro' ? 'other' : undefined),
          input: (ctx) => ({ start: Number(ctx.query.start ?? 0) }),
        },
      );
      const pro = t.client();
      const { id, count } = await pro.json('GET', '/count?plan=pro&start=40');
      expect(count).toBe(40);
      expect(t.sessions.get(id)?.logic).toBe('other');
      // Only a new process reads them: the running one keeps its state.
      expect((await pro.json('POST', '/inc?start=0')).count).toBe(41);
    });
  });

  describe('ending', () => {
    it('gives the next request a fresh process after the process was terminated elsewhere', async () => {
      t = await startApp();
      const browser = t.client();
      const { id } = await browser.json('POST', '/inc');
      await t.sessions.terminate(id);
      const next = await browser.json('GET', '/count');
      expect(next.count).toBe(0);
      expect(next.id).not.toBe(id);
      expect(t.sessions.started(id)).toBe(false);
    });

    it('gives the next request a fresh process after the process crashed', async () => {
      t = await startApp();
      const browser = t.client();
      const { id } = await browser.json('POST', '/inc');
      const crashed = await browser.request('POST', '/boom');
      expect(crashed.status).toBe(500);
      expect(await crashed.text()).toBe('Internal Server Error');
      const next = await browser.json('GET', '/count');
      expect(next).toMatchObject({ count: 0 });
      expect(next.id).not.toBe(id);
    });

    it('gives the next request a fresh process after the machine reached a final state', async () => {
      t = await startApp();
      const browser = t.client();
      const { id } = await browser.json('POST', '/inc');
      expect((await browser.request('POST', '/finish')).status).toBe(204);
      expect(t.sessions.started(id)).toBe(false);
      const next = await browser.json('GET', '/count');
      expect(next.count).toBe(0);
      expect(next.id).not.toBe(id);
    });

    it('terminates the process when the handler sets ctx.session = null', async () => {
      t = await startApp();
      const browser = t.client();
      const { id } = await browser.json('POST', '/inc');
      const ended: string[] = [];
      t.sessions.subscribe(id, (msg) => {
        if (msg.type === 'ended') ended.push(msg.reason);
      });
      const stolen = browser.clone();
      expect((await browser.request('POST', '/logout')).status).toBe(204);
      expect(ended).toEqual(['terminated']);
      expect(t.sessions.started(id)).toBe(false);
      expect(browser.cookies.has(COOKIE)).toBe(false);
      // A copy of the old cookie reaches nothing any more.
      const replay = await stolen.json('GET', '/count');
      expect(replay.id).not.toBe(id);
      expect(replay.count).toBe(0);
    });

    it('terminate() ends the process and the next request gets a fresh one', async () => {
      t = await startApp();
      const browser = t.client();
      const { id } = await browser.json('POST', '/inc');
      expect((await browser.request('POST', '/terminate')).status).toBe(204);
      expect(t.sessions.started(id)).toBe(false);
      expect(t.sessions.count).toBe(0);
      const next = await browser.json('GET', '/count');
      expect(next.id).not.toBe(id);
      expect(next.count).toBe(0);
    });
  });

  describe('lazy', () => {
    it('starts no process and sets no cookie for a request that does not use it', async () => {
      t = await startApp({}, { lazy: true });
      const browser = t.client();
      const res = await browser.request('GET', '/static');
      expect(await res.text()).toBe('static');
      expect(res.headers.getSetCookie()).toEqual([]);
      expect(t.sessions.count).toBe(0);
    });

    it('starts the process on first use and keeps it', async () => {
      t = await startApp({}, { lazy: true });
      const browser = t.client();
      const first = await browser.json('POST', '/inc');
      expect(first.count).toBe(1);
      expect(t.sessions.started(first.id)).toBe(true);
      await browser.request('GET', '/static');
      expect(await browser.json('POST', '/inc')).toEqual({ id: first.id, count: 2 });
      expect(t.sessions.count).toBe(1);
    });

    it('counts a request carrying a live ID as activity, even one that does not use the process', async () => {
      t = await startApp({ idleTimeoutMs: 60_000 }, { lazy: true });
      const browser = t.client();
      const { id } = await browser.json('POST', '/inc');
      const activeAt = () => t!.sessions.list().find((s) => s.id === id)!.lastActiveAt;
      const before = activeAt();
      await new Promise((resolve) => setTimeout(resolve, 20));
      const res = await browser.request('GET', '/static');
      expect(await res.text()).toBe('static');
      expect(res.headers.getSetCookie()).toEqual([]); // nothing changed: no cookie written
      expect(activeAt()).toBeGreaterThan(before);
    });

    it('starts the process for a first cast before answering', async () => {
      t = await startApp({}, { lazy: true });
      const browser = t.client();
      expect((await browser.request('POST', '/cast')).status).toBe(204);
      expect(t.sessions.count).toBe(1);
      expect((await browser.json('GET', '/count')).count).toBe(1);
    });
  });

  it('throws a clear error when koa-session is missing', async () => {
    const sessions = createSessionSupervisor({ logic: tallyMachine });
    const app = new Koa();
    app.silent = true;
    const errors: unknown[] = [];
    app.on('error', (err) => errors.push(err));
    app.use(sessionProcess(sessions));
    const { url } = await serveApp(app.callback());
    try {
      const res = await fetch(`${url}/`);
      expect(res.status).toBe(500);
      expect(String(errors[0])).toMatch(/needs koa-session before it/);
      // Called directly, as another middleware may: a rejected promise, not a synchronous throw.
      const direct = sessionProcess(sessions)({ app } as never, async () => {});
      await expect(direct).rejects.toThrow(/needs koa-session before it/);
    } finally {
      await sessions.shutdown();
    }
  });
});
