import type Koa from 'koa';
import {
  isSessionError,
  memoryStore,
  type SessionRecord,
  SessionVersionAheadError,
  type SessionStore,
} from 'session-process';
import type { SessionProcessOptions } from 'session-process/koa';
import { connectLive, type LiveError } from 'session-process/client';
import { describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { CookieJar, startTestServer, type TestServer } from '../support/index.js';
import { tallyMachine } from './helpers.js';

async function routes(ctx: Koa.Context): Promise<void> {
  const sp = ctx.sessionProcess;
  switch (`${ctx.method} ${ctx.path}`) {
    case 'GET /count':
      ctx.body = { id: sp.id, count: await sp.call({ type: 'get' }) };
      return;
    case 'GET /page': // a page that reads the session without starting one (lazy)
      ctx.body = { started: sp.started };
      return;
    case 'POST /logout':
      ctx.session = null;
      ctx.status = 204;
      return;
    case 'POST /terminate':
      await sp.terminate();
      ctx.status = 204;
      return;
    case 'POST /rotate':
      ctx.body = { id: await sp.rotate() };
      return;
    default:
      ctx.status = 404;
  }
}

interface Shop {
  t: TestServer;
  store: SessionStore;
  /** Restore failures reported to `onError`. */
  reported: string[];
  /** A visitor whose stored session is in a state the deployed machine no longer has. */
  bricked(
    rewrite?: (record: SessionRecord) => SessionRecord,
  ): Promise<{ jar: CookieJar; id: string }>;
}

/** A memory store that, like Redis, can only load asynchronously. */
function asyncStore(): SessionStore {
  const { loadSync: _, ...inner } = memoryStore();
  return inner;
}

async function shop(
  koa: SessionProcessOptions = {},
  migrate?: (r: SessionRecord) => SessionRecord,
  store: SessionStore = memoryStore(),
): Promise<Shop> {
  const reported: string[] = [];
  const t = await startTestServer({
    supervisor: {
      logic: tallyMachine,
      store,
      passivateAfterMs: 30,
      ...(migrate ? { migrate } : {}),
      onError: (err) => {
        if (isSessionError(err, 'SESSION_RESTORE_FAILED')) reported.push(err.sessionId!);
      },
    },
    koa,
    live: { events: ['inc'], view: (s) => ({ count: s.context.count }) },
    routes: (app) => app.use(routes),
  });
  const bricked = async (
    rewrite = (r: SessionRecord): SessionRecord => ({
      ...r,
      snapshot: { ...(r.snapshot as object), value: 'removed' },
    }),
  ) => {
    const jar = new CookieJar(t.url);
    const { id } = await jar.json<{ id: string }>('GET', '/count');
    // Quiet: out of memory, in the store; then the deploy that removed its state.
    await expect.poll(() => t.sessions.list().some((s) => s.id === id)).toBe(false);
    const stored = (await store.load(id))!;
    const data = JSON.stringify(rewrite(JSON.parse(stored.data) as SessionRecord));
    const version = stored.version + 1;
    expect(
      await store.save([{ ...stored, expectedVersion: stored.version, version, data }]),
    ).toEqual(['ok']);
    return { jar, id };
  };
  return { t, store, reported, bricked };
}

const live = (
  t: TestServer,
  jar: CookieJar,
  more: Partial<Parameters<typeof connectLive>[1]> = {},
) => {
  const errors: string[] = [];
  const counts: number[] = [];
  const client = connectLive<{ count: number }>(t.wsUrl, {
    onSnapshot: ({ view }) => counts.push(view.count),
    onError: (err: LiveError) => errors.push(err.code),
    // The cookie the browser holds at each (re)connect.
    createSocket: (url, protocols) =>
      new WebSocket(url, protocols, { headers: { cookie: jar.header(), origin: t.origin } }),
    backoff: { initialMs: 20, maxMs: 100 },
    ...more,
  });
  return { client, errors, counts };
};

describe('a visitor whose stored session cannot be restored', () => {
  it.each([
    ['a store that loads synchronously', memoryStore],
    ['a store that loads asynchronously', asyncStore],
  ])(
    'gets 200 on a fresh session under a new cookie; the record is quarantined and reported once, with %s',
    async (_, makeStore) => {
      const { t, store, reported, bricked } = await shop({}, undefined, makeStore());
      const { jar, id } = await bricked();
      const copy = jar.clone(); // the old cookie, as another tab or a retry may still send it
      const first = await jar.request('GET', '/count');
      expect(first.status).toBe(200);
      const fresh = (await first.json()) as { id: string; count: number };
      expect(fresh).toEqual({ id: expect.any(String), count: 0 });
      expect(fresh.id).not.toBe(id);
      expect(jar.sessionData('sid')).toMatchObject({ sessionId: fresh.id });
      for (let i = 0; i < 5; i++) expect(await jar.json('GET', '/count')).toEqual(fresh);
      expect((await copy.request('GET', '/count')).status).toBe(200);
      expect((await store.load(id))?.quarantine?.reason).toMatch(/removed/);
      expect(reported).toEqual([id]);
      expect(await t.sessions.quarantined()).toEqual([
        { id, quarantinedAt: expect.any(Number), reason: expect.stringMatching(/removed/) },
      ]);
    },
  );

  it('gets its fresh session from a page that starts none (lazy), so its live views can follow it', async () => {
    const { bricked } = await shop();
    const { jar, id } = await bricked();
    expect(await jar.json('GET', '/page')).toEqual({ started: true });
    expect(jar.sessionData('sid')?.sessionId).not.toBe(id);
  });

  it('still gets a page that needs no session when its fresh start is refused (a limit)', async () => {
    const { bricked } = await shop({ clientStartRate: { limit: 1, intervalMs: 60_000 } });
    const { jar } = await bricked(); // the one start this address may make
    expect(await jar.json('GET', '/page')).toEqual({ started: false });
    expect((await jar.request('GET', '/count')).status).toBe(429);
  });

  it('can log out, terminate and rotate', async () => {
    const { bricked } = await shop();
    const a = await bricked();
    expect((await a.jar.request('POST', '/logout')).status).toBe(204);
    expect(a.jar.sessionData('sid')?.sessionId).toBeUndefined();
    const b = await bricked();
    expect((await b.jar.request('POST', '/terminate')).status).toBe(204);
    const c = await bricked();
    const rotated = await c.jar.json<{ id: string }>('POST', '/rotate');
    expect(rotated.id).not.toBe(c.id);
    expect(await c.jar.json('GET', '/count')).toEqual({ id: rotated.id, count: 0 });
  });

  it('has its live view refused with 4410 SESSION_REPLACED; the client reconnects after the next request', async () => {
    const { t, bricked } = await shop();
    const { jar } = await bricked();
    const told = live(t, jar);
    await vi.waitFor(() => expect(told.client.state).toBe('replaced'));
    expect(told.errors).toEqual(['SESSION_REPLACED']);
    // It waits (no retries against the old cookie) until the page's next request...
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(told.errors).toEqual(['SESSION_REPLACED']);
    await jar.json('GET', '/count');
    told.client.reconnect(); // ...and is told to go on
    await vi.waitFor(() => expect(told.counts).toEqual([0]));
    expect(told.client.state).toBe('open');
    told.client.close();

    // With onReplaced, the page's request is the client's cue.
    const next = await bricked();
    const requested: number[] = [];
    const byItself = live(t, next.jar, {
      onReplaced: () => {
        requested.push(Date.now());
        return next.jar.json('GET', '/count');
      },
    });
    await vi.waitFor(() => expect(byItself.counts).toEqual([0]));
    expect(byItself.errors).toEqual(['SESSION_REPLACED']);
    expect(requested).toHaveLength(1);
    byItself.client.close();
  });

  it("answers the error instead with onRestoreFailed: 'error'; a live client then gives up after maxAttempts", async () => {
    const { t, bricked } = await shop({ onRestoreFailed: 'error' });
    const { jar, id } = await bricked();
    expect((await jar.request('GET', '/count')).status).toBe(500);
    expect(jar.sessionData('sid')?.sessionId).toBe(id);
    // The page's request does not replace the session here: no endless reconnect loop.
    const statuses: number[] = [];
    const stuck = live(t, jar, {
      maxAttempts: 2,
      onReplaced: async () => statuses.push((await jar.request('GET', '/count')).status),
    });
    await vi.waitFor(() => expect(stuck.client.state).toBe('closed'), { timeout: 5_000 });
    expect(statuses).toEqual([500, 500]);
    expect(stuck.errors).toEqual(['SESSION_REPLACED', 'SESSION_REPLACED', 'SESSION_REPLACED']);
  });

  it('written by a newer version, on a single node, also gets a fresh session, its record untouched', async () => {
    const { store, reported, bricked } = await shop({}, (record) => {
      if (record.logicVersion === 'next') throw new SessionVersionAheadError(record.id, 'next', []);
      return record;
    });
    const { jar, id } = await bricked((r) => ({ ...r, logicVersion: 'next' }));
    const before = await store.load(id);
    const res = await jar.request('GET', '/count');
    expect(res.status).toBe(200);
    expect(((await res.json()) as { id: string }).id).not.toBe(id);
    expect(await store.load(id)).toEqual(before);
    expect(reported).toEqual([]);
  });
});
