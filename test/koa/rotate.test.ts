import { describe, expect, it } from 'vitest';
import { COOKIE, decodeSession, startApp, type TestApp } from './helpers.js';

let t: TestApp | undefined;
describe('rotate', () => {
  it('changes the ID, keeps the state, and the old cookie reaches nothing', async () => {
    t = await startApp({ rotatedIdTtlMs: 200 });
    const browser = t.client();
    await browser.json('POST', '/inc');
    const { id: oldId } = await browser.json('POST', '/inc');
    const planted = browser.clone(); // what a session-fixation attacker holds

    const rotated = await browser.json('POST', '/rotate');
    expect(rotated.before).toBe(oldId);
    expect(rotated.id).not.toBe(oldId);
    expect(rotated.id).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(rotated.count).toBe(2);
    expect(decodeSession(browser)?.sessionId).toBe(rotated.id);

    // The browser keeps its state under the new ID.
    expect(await browser.json('POST', '/inc')).toEqual({ id: rotated.id, count: 3 });
    expect(t.sessions.started(oldId)).toBe(false);
    expect(t.sessions.count).toBe(1);

    // While the tombstone lasts the old cookie is told to retry; it reaches nothing either way.
    const early = await planted.request('GET', '/count');
    expect(early.status).toBe(409);
    expect(early.headers.getSetCookie()).toEqual([]);
    // Afterwards it gets a fresh, empty session: neither the old ID nor the rotated state.
    await new Promise((resolve) => setTimeout(resolve, 250));
    const replay = await planted.json('GET', '/count');
    expect(replay.id).not.toBe(oldId);
    expect(replay.id).not.toBe(rotated.id);
    expect(replay.count).toBe(0);
    expect(t.sessions.started(oldId)).toBe(false);
    expect((await browser.json('GET', '/count')).count).toBe(3);
  });

  it('regenerates the external store key too, so a fixated store cookie reaches nothing', async () => {
    const store = new Map<string, unknown>();
    t = await startApp(
      {},
      {},
      {
        store: {
          get: async (key: string) => store.get(key),
          set: async (key: string, value: unknown) => void store.set(key, value),
          destroy: async (key: string) => void store.delete(key),
        },
      },
    );
    const browser = t.client();
    const { id: oldId } = await browser.json('POST', '/inc');
    const oldKey = browser.cookies.get(COOKIE)!;
    expect(store.get(oldKey)).toMatchObject({ sessionId: oldId });
    const planted = browser.clone();

    const rotated = await browser.json('POST', '/rotate');
    const newKey = browser.cookies.get(COOKIE)!;
    expect(newKey).not.toBe(oldKey);
    expect(store.has(oldKey)).toBe(false);
    expect(store.get(newKey)).toMatchObject({ sessionId: rotated.id });
    expect((await browser.json('POST', '/inc')).count).toBe(2);

    const replay = await planted.json('GET', '/count');
    expect(replay.id).not.toBe(rotated.id);
    expect(replay.count).toBe(0);
  });

  it('tells subscribers of the old ID that it is gone', async () => {
    t = await startApp();
    const browser = t.client();
    const { id } = await browser.json('POST', '/inc');
    const messages: unknown[] = [];
    t.sessions.subscribe(id, (msg) => messages.push(msg));
    await browser.json('POST', '/rotate');
    // The reason matters: a live view told `rotated` reconnects with the new cookie, one told
    // `terminated` stops.
    expect(messages).toEqual([{ type: 'ended', reason: 'rotated' }]);
  });

  it('starts a process under a fresh ID in lazy mode when none runs yet', async () => {
    t = await startApp({}, { lazy: true });
    const browser = t.client();
    const rotated = await browser.json('POST', '/rotate');
    expect(rotated.count).toBe(0);
    expect(t.sessions.started(rotated.id)).toBe(true);
    expect(decodeSession(browser)?.sessionId).toBe(rotated.id);
    expect((await browser.json('POST', '/inc')).id).toBe(rotated.id);
  });
});

describe('rotate with koa-session `rolling`', () => {
  it('keeps a slow request that began before the rotation from writing the old ID back', async () => {
    t = await startApp({ rotatedIdTtlMs: 60_000 }, {}, { rolling: true });
    const browser = t.client();
    const { id: oldId } = await browser.json('POST', '/inc');
    const slow = browser.request('GET', '/slow?ms=150');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const rotated = await browser.json('POST', '/rotate');
    const late = await slow;
    expect(((await late.json()) as { id: string }).id).toBe(oldId);
    expect(late.headers.getSetCookie()).toEqual([]);
    // The browser keeps the new cookie, and with it the session.
    expect(decodeSession(browser)?.sessionId).toBe(rotated.id);
    expect(await browser.json('GET', '/count')).toEqual({ id: rotated.id, count: 1 });
    // Without a rotation, rolling still refreshes the cookie on every response.
    expect((await browser.request('GET', '/static')).headers.getSetCookie()).not.toEqual([]);
  });
});

describe('a request with a rotated-away ID', () => {
  it.each([
    ['lazy', true, '/count', 409],
    ['lazy, not using the process', true, '/static', 200],
    ['eager', false, '/static', 409],
  ])(
    'in %s mode answers %s with %i, no cookie and no fresh process',
    async (_, lazy, path, status) => {
      t = await startApp({ rotatedIdTtlMs: 60_000 }, { lazy });
      const browser = t.client();
      await browser.json('POST', '/inc');
      const stale = browser.clone();
      await browser.json('POST', '/rotate');
      const res = await stale.request('GET', path);
      expect(res.status).toBe(status);
      expect(res.headers.getSetCookie()).toEqual([]);
      if (status === 409) expect(res.headers.get('retry-after')).toBe('0');
      expect(t.sessions.count).toBe(1);
      expect(t.sessions.stats().started).toBe(1);
    },
  );
});
