import net from 'node:net';
import {
  connectLive,
  isLiveError,
  type LiveClient,
  type SnapshotMessage,
} from 'session-process/client';
import { createSessionSupervisor, memoryStore } from 'session-process';
import { attachLiveBridge } from 'session-process/live';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { counterMachine } from '../../machines/counter.js';
import { withOverrides } from '../support/index.js';
import { type LiveTestServer, startLiveTestServer } from './liveTestServer.js';

const clients = new Set<LiveClient>();
afterEach(async () => {
  for (const c of clients) c.close();
  clients.clear();
});

function connect(
  t: LiveTestServer,
  cookie: string,
  extra: Partial<Parameters<typeof connectLive>[1]> = {},
) {
  const snapshots: SnapshotMessage<{ count: number }>[] = [];
  const ended: string[] = [];
  const errors: unknown[] = [];
  const sockets: WebSocket[] = [];
  const client = connectLive<{ count: number }>(t.url, {
    onSnapshot: (s) => snapshots.push(s),
    onEnded: (r) => ended.push(r),
    onError: (e) => errors.push(e),
    createSocket: (url, protocols) => {
      const ws = new WebSocket(url, protocols, { headers: { cookie, origin: t.origin } });
      sockets.push(ws);
      return ws;
    },
    backoff: { initialMs: 20, maxMs: 200 },
    ...extra,
  });
  clients.add(client);
  return { client, snapshots, ended, errors, sockets };
}

describe('connectLive', () => {
  it('gets the current snapshot first, sends casts and matches call replies by ref', async () => {
    const t = await startLiveTestServer();
    const { cookie, sessionId } = await t.login();
    t.sessions.cast(sessionId, { type: 'add_one' });
    const c = connect(t, cookie);
    await vi.waitFor(() => expect(c.snapshots).toHaveLength(1));
    expect(c.snapshots[0]).toEqual({ type: 'snapshot', version: 2, value: {}, view: { count: 1 } });
    expect(c.client.state).toBe('open');
    expect(c.client.send({ type: 'add_one' })).toBe(true);
    await vi.waitFor(() => expect(c.client.snapshot?.view).toEqual({ count: 2 }));
    const [a, b] = await Promise.all([
      c.client.call<number>({ type: 'get_value' }),
      (async () => {
        c.client.send({ type: 'add_one' });
        return c.client.call<number>({ type: 'get_value' });
      })(),
    ]);
    expect([a, b]).toEqual([2, 3]);
  });

  it('rejects a call of a non-listed event with EVENT_NOT_ALLOWED and reports a refused send', async () => {
    const t = await startLiveTestServer({ events: ['get_value'] });
    const { cookie } = await t.login();
    const c = connect(t, cookie);
    await vi.waitFor(() => expect(c.client.state).toBe('open'));
    const err = await c.client.call({ type: 'add_one' }).catch((e: unknown) => e);
    expect(isLiveError(err, 'EVENT_NOT_ALLOWED')).toBe(true);
    c.client.send({ type: 'add_one' });
    await vi.waitFor(() => expect(c.errors).toHaveLength(1));
    expect(isLiveError(c.errors[0], 'EVENT_NOT_ALLOWED')).toBe(true);
    expect(await c.client.call({ type: 'get_value' })).toBe(0);
  });

  it('throws at once without createSocket where there is no global WebSocket', () => {
    vi.stubGlobal('WebSocket', undefined);
    try {
      expect(() => connectLive('ws://127.0.0.1:1/live', { onSnapshot: () => {} })).toThrow(
        TypeError,
      );
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('rejects a call with NOT_CONNECTED before the socket opens', async () => {
    const t = await startLiveTestServer();
    const { cookie } = await t.login();
    const c = connect(t, cookie);
    const err = await c.client.call({ type: 'get_value' }).catch((e: unknown) => e);
    expect(isLiveError(err, 'NOT_CONNECTED')).toBe(true);
    expect(c.client.send({ type: 'add_one' })).toBe(false);
  });

  it('reconnects after a drop and gets the current snapshot first', async () => {
    const t = await startLiveTestServer();
    const { cookie, sessionId } = await t.login();
    const c = connect(t, cookie);
    await vi.waitFor(() => expect(c.snapshots).toHaveLength(1));
    // The bridge goes away (1001) and comes back; meanwhile the session moves on.
    await t.live.close();
    await vi.waitFor(() => expect(c.client.state).toBe('reconnecting'));
    t.sessions.cast(sessionId, { type: 'add_one' });
    t.sessions.cast(sessionId, { type: 'add_one' });
    const before = c.snapshots.length;
    const again = attachLiveBridge(t.server, {
      app: t.app,
      sessions: t.sessions,
      session: t.sessionMiddleware,
      origins: [t.origin],
      view: (s) => ({ count: s.context.count }),
    });
    try {
      await vi.waitFor(() => expect(c.snapshots.length).toBeGreaterThan(before), {
        timeout: 3_000,
      });
      const first = c.snapshots[before]!;
      expect(first.view).toEqual({ count: 2 });
      expect(first.version).toBeGreaterThan(c.snapshots[before - 1]!.version);
      expect(c.client.state).toBe('open');
      expect(c.sockets.length).toBeGreaterThanOrEqual(2);
    } finally {
      await again.close();
    }
  });

  it('does not reconnect after ended', async () => {
    const t = await startLiveTestServer();
    const { cookie, sessionId } = await t.login();
    const c = connect(t, cookie);
    await vi.waitFor(() => expect(c.snapshots).toHaveLength(1));
    const pending = c.client.call({ type: 'never.answered' }).catch((e: unknown) => e);
    await t.sessions.terminate(sessionId);
    await vi.waitFor(() => expect(c.ended).toEqual(['terminated']));
    expect(c.client.state).toBe('ended');
    expect(isLiveError(await pending, 'SESSION_ENDED')).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
    expect(c.sockets).toHaveLength(1);
  });

  it('does not reconnect after close()', async () => {
    const t = await startLiveTestServer();
    const { cookie } = await t.login();
    const c = connect(t, cookie);
    await vi.waitFor(() => expect(c.snapshots).toHaveLength(1));
    c.client.close();
    expect(c.client.state).toBe('closed');
    await new Promise((r) => setTimeout(r, 200));
    expect(c.sockets).toHaveLength(1);
    await vi.waitFor(() => expect(t.live.clients).toBe(0));
  });

  it('keeps retrying with growing delays while the server is unreachable, and gives up after maxAttempts', async () => {
    const t = await startLiveTestServer();
    const { cookie } = await t.login();
    // A port nothing listens on: every attempt fails with 1006.
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as net.AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    const delays: Array<number | undefined> = [];
    const sockets: WebSocket[] = [];
    const client = connectLive(`ws://127.0.0.1:${port}/live`, {
      onSnapshot: () => {},
      createSocket: (url, protocols) => {
        const ws = new WebSocket(url, protocols, { headers: { cookie, origin: t.origin } });
        sockets.push(ws);
        return ws;
      },
      maxAttempts: 4,
      backoff: { initialMs: 10, factor: 2, jitter: 0, maxMs: 1_000 },
      onDisconnect: ({ retryInMs }) => delays.push(retryInMs),
    });
    clients.add(client);
    await vi.waitFor(() => expect(client.state).toBe('closed'), { timeout: 3_000 });
    expect(delays).toEqual([10, 20, 40, 80, undefined]);
    expect(sockets).toHaveLength(5);
  });
});

describe('connectLive refusals', () => {
  it('stops reconnecting and reports UNAUTHORIZED when the cookie is refused', async () => {
    const t = await startLiveTestServer();
    const disconnects: Array<{ code: number; retryInMs: number | undefined }> = [];
    const c = connect(t, 'sid=forged', {
      onDisconnect: ({ code, retryInMs }) => disconnects.push({ code, retryInMs }),
    });
    await vi.waitFor(() => expect(c.client.state).toBe('closed'));
    expect(c.errors).toHaveLength(1);
    expect(isLiveError(c.errors[0], 'UNAUTHORIZED')).toBe(true);
    expect(disconnects).toEqual([{ code: 4401, retryInMs: undefined }]);
    await new Promise((r) => setTimeout(r, 200)); // backoff is 20 ms: a retry would have come
    expect(c.sockets).toHaveLength(1);
  });

  it('stops with UNAUTHORIZED when its session ended while it was away', async () => {
    const t = await startLiveTestServer();
    const { cookie, sessionId } = await t.login();
    const c = connect(t, cookie);
    await vi.waitFor(() => expect(c.snapshots).toHaveLength(1));
    await t.live.close();
    await vi.waitFor(() => expect(c.client.state).toBe('reconnecting'));
    await t.sessions.terminate(sessionId);
    await t.restart();
    await vi.waitFor(() => expect(c.client.state).toBe('closed'));
    expect(c.errors.map((e) => isLiveError(e) && e.code)).toEqual(['UNAUTHORIZED']);
  });

  it('stops with FORBIDDEN when its origin is not allowed', async () => {
    const t = await startLiveTestServer({ origins: ['https://shop.example'] });
    const { cookie } = await t.login();
    const c = connect(t, cookie);
    await vi.waitFor(() => expect(c.client.state).toBe('closed'));
    expect(c.errors.map((e) => isLiveError(e) && e.code)).toEqual(['FORBIDDEN']);
  });

  it('reports SESSION_ROTATED for an ID another tab just rotated away, and connects again', async () => {
    const t = await startLiveTestServer();
    const before = await t.login();
    const after = await t.login(); // stands for the cookie the browser holds once the login answered
    await t.sessions.rename(before.sessionId, `${before.sessionId}r`);
    let cookie = before.cookie;
    const disconnects: Array<{ code: number; retryInMs: number | undefined }> = [];
    const c = connect(t, '', {
      createSocket: (url, protocols) => {
        const ws = new WebSocket(url, protocols, { headers: { cookie, origin: t.origin } });
        cookie = after.cookie;
        return ws;
      },
      onDisconnect: ({ code, retryInMs }) => disconnects.push({ code, retryInMs }),
    });
    await vi.waitFor(() => expect(c.snapshots).toHaveLength(1));
    expect(c.client.state).toBe('open');
    expect(c.errors.map((e) => isLiveError(e) && e.code)).toEqual(['SESSION_ROTATED']);
    expect(disconnects[0]).toMatchObject({ code: 4409, retryInMs: expect.any(Number) });
  });

  it('reports TOO_MANY_VIEWS and keeps retrying until a view of its session closes', async () => {
    const t = await startLiveTestServer({ maxViewsPerSession: 1 });
    const { cookie } = await t.login();
    const first = connect(t, cookie);
    await vi.waitFor(() => expect(first.snapshots).toHaveLength(1));
    const second = connect(t, cookie);
    await vi.waitFor(() => expect(second.sockets.length).toBeGreaterThanOrEqual(2));
    expect(second.client.state).not.toBe('closed');
    expect(isLiveError(second.errors[0], 'TOO_MANY_VIEWS')).toBe(true);
    first.client.close();
    await vi.waitFor(() => expect(second.snapshots).toHaveLength(1));
    expect(second.client.state).toBe('open');
  });
});

describe('connectLive after a server restart', () => {
  it('reconnects to the restarted server and resumes without a reload', async () => {
    const t = await startLiveTestServer();
    const { cookie, sessionId } = await t.login();
    const c = connect(t, cookie);
    await vi.waitFor(() => expect(c.snapshots).toHaveLength(1));
    // Down: the port refuses connections for a while; the session moves on meanwhile.
    await t.restart();
    t.sessions.cast(sessionId, { type: 'add_one' });
    await vi.waitFor(() => expect(c.client.snapshot?.view).toEqual({ count: 1 }), {
      timeout: 3_000,
    });
    expect(c.client.state).toBe('open');
    expect(c.errors).toEqual([]);
    expect(await c.client.call({ type: 'get_value' })).toBe(1);
    expect(c.client.send({ type: 'add_one' })).toBe(true);
    await vi.waitFor(() => expect(c.client.snapshot?.view).toEqual({ count: 2 }));
  });

  // A new process on the same port, with a store that loads asynchronously (as Redis does): the
  // session is not in memory when its view comes back, and the bridge must restore it.
  it('resumes on a new process that restores its session from the store', async () => {
    const store = memoryStore();
    const asyncStore = withOverrides(store, { loadSync: undefined });
    const t = await startLiveTestServer({}, { store: asyncStore });
    const { cookie, sessionId } = await t.login();
    t.sessions.cast(sessionId, { type: 'add_one' });
    const c = connect(t, cookie);
    await vi.waitFor(() => expect(c.client.snapshot?.view).toEqual({ count: 1 }));
    await t.restart({
      sessions: () => createSessionSupervisor({ logic: counterMachine, store: asyncStore }),
    });
    expect(t.sessions.count).toBe(0); // nothing in memory: only the store has it
    await vi.waitFor(() => expect(c.sockets.length).toBeGreaterThanOrEqual(2), { timeout: 3_000 });
    await vi.waitFor(() => expect(c.client.state).toBe('open'), { timeout: 3_000 });
    expect(c.client.snapshot?.view).toEqual({ count: 1 });
    expect(c.errors).toEqual([]);
    expect(await c.client.call({ type: 'get_value' })).toBe(1);
  });

  // 1,000 views of 50 sessions (20 tabs each) drop at once and come back together.
  it('serves all of 1,000 clients that reconnect at once', { timeout: 120_000 }, async () => {
    // 1,000 clients, all from 127.0.0.1: one address's budget must hold them.
    const t = await startLiveTestServer({ maxViewsPerClient: 1_000 });
    const logins = await Promise.all(Array.from({ length: 50 }, () => t.login()));
    const views = logins.flatMap((login) =>
      Array.from({ length: 20 }, () =>
        connect(t, login.cookie, { backoff: { initialMs: 50, maxMs: 1_000 } }),
      ),
    );
    await vi.waitFor(() => expect(t.live.clients).toBe(1_000), { timeout: 30_000 });
    await t.restart();
    for (const login of logins) t.sessions.cast(login.sessionId, { type: 'add_one' });
    await vi.waitFor(
      () => {
        const resumed = views.filter((v) => v.client.snapshot?.view.count === 1).length;
        expect(resumed).toBe(1_000);
      },
      { timeout: 45_000, interval: 100 },
    );
    expect(t.live.clients).toBe(1_000);
    expect(views.every((v) => v.client.state === 'open' && v.errors.length === 0)).toBe(true);
    expect(t.live.stats().refused).toBe(0);
  });
});
