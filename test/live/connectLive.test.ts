import {
  connectLive,
  isLiveError,
  type LiveClient,
  type SnapshotMessage,
} from 'session-process/client';
import { attachLiveBridge } from 'session-process/live';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { closeAll, type LiveTestServer, startLiveTestServer } from './liveTestServer.js';

const clients = new Set<LiveClient>();
afterEach(async () => {
  for (const c of clients) c.close();
  clients.clear();
  await closeAll();
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

  it('keeps retrying with growing delays while the upgrade is refused, and gives up after maxAttempts', async () => {
    const t = await startLiveTestServer();
    const delays: Array<number | undefined> = [];
    const c = connect(t, 'sid=forged', {
      maxAttempts: 4,
      backoff: { initialMs: 10, factor: 2, jitter: 0, maxMs: 1_000 },
      onDisconnect: ({ retryInMs }) => delays.push(retryInMs),
    });
    await vi.waitFor(() => expect(c.client.state).toBe('closed'), { timeout: 3_000 });
    expect(delays).toEqual([10, 20, 40, 80, undefined]);
    expect(c.sockets).toHaveLength(5);
  });
});
