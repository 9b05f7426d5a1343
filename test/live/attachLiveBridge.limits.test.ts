import { SessionError } from 'session-process';
import {
  attachLiveBridge,
  isLiveRefusedError,
  type LiveDroppedEvent,
  type LiveRefusedEvent,
  liveTelemetryChannels,
} from 'session-process/live';
import { describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import {
  recordFrames as record,
  refusalClose,
  upgradeStatus as refusal,
  withOverrides,
} from '../support/index.js';
import { collect } from './afterTest.js';
import { type LiveTestServer, startLiveTestServer } from './liveTestServer.js';

describe('attachLiveBridge refusals', () => {
  it('reports every refused upgrade with its reason to onError and the live-refused channel', async () => {
    const published = collect<LiveRefusedEvent>(String(liveTelemetryChannels.refused.name));
    const reported: Array<[unknown, { reason?: string; sessionId?: string }]> = [];
    const t = await startLiveTestServer({
      maxViewsPerSession: 1,
      onError: (error, info) => reported.push([error, info]),
    });
    const { cookie, sessionId } = await t.login();
    await t.connect({ cookie, origin: t.origin });
    expect(await refusal(t.url, { cookie, origin: 'http://evil.example' })).toBe(403);
    expect(await refusal(t.url, { cookie: 'sid=forged', origin: t.origin })).toBe(401);
    expect(await refusal(t.url.replace('/live', '/elsewhere'), { cookie, origin: t.origin })).toBe(
      404,
    );
    expect(await refusal(t.url, { cookie, origin: t.origin })).toBe(429);
    expect(published.map((e) => [e.reason, e.code, e.status])).toEqual([
      ['origin', 'FORBIDDEN', 403],
      ['cookie', 'UNAUTHORIZED', 401],
      ['path', 'NOT_FOUND', 404],
      ['limit', 'TOO_MANY_VIEWS', 429],
    ]);
    expect(published[0]!.origin).toBe('http://evil.example');
    expect(published[3]!.sessionId).toBe(sessionId);
    expect(reported.map(([e, info]) => [isLiveRefusedError(e) && e.reason, info.reason])).toEqual([
      ['origin', 'origin'],
      ['cookie', 'cookie'],
      ['path', 'path'],
      ['limit', 'limit'],
    ]);
    expect(String((reported[0]![0] as Error).message)).toContain('origins');
    expect(t.live.stats().refused).toBe(4);
  });

  // A browser's WebSocket sees 1006 for any refused handshake: a client that speaks the protocol
  // gets the handshake and a close code naming the refusal instead, and nothing else.
  it.each([
    ['UNAUTHORIZED', 4401, 'no cookie'],
    ['UNAUTHORIZED', 4401, 'an ended session'],
    ['FORBIDDEN', 4403, 'a foreign Origin'],
    ['NOT_FOUND', 4404, 'another path'],
    ['TOO_MANY_VIEWS', 4429, 'one view too many'],
  ] as const)(
    'closes with %s (%i) for %s when the client offers the subprotocol',
    async (name, code, what) => {
      const t = await startLiveTestServer({ maxViewsPerSession: 1 });
      const { cookie, sessionId } = await t.login();
      let url = t.url;
      let headers: Record<string, string> = { cookie, origin: t.origin };
      if (what === 'no cookie') headers = { origin: t.origin };
      if (what === 'an ended session') await t.sessions.terminate(sessionId);
      if (what === 'a foreign Origin') headers = { cookie, origin: 'http://evil.example' };
      if (what === 'another path') url = url.replace('/live', '/elsewhere');
      if (what === 'one view too many') await t.connect(headers);
      expect(await refusalClose(url, headers)).toEqual({ code, reason: name });
      await vi.waitFor(() => expect(t.live.stats().upgrading).toBe(0));
    },
  );

  it('logs refusals by default with console.warn, one per reason a minute', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      const t = await startLiveTestServer({ onError: undefined as never });
      for (let i = 0; i < 3; i++) {
        expect(await refusal(t.url, { origin: 'http://evil.example' })).toBe(403);
      }
      expect(await refusal(t.url, { origin: t.origin })).toBe(401);
      expect(warn.mock.calls.map((c) => String(c[0]))).toEqual([
        expect.stringContaining('(origin)'),
        expect.stringContaining('(cookie)'),
      ]);
    } finally {
      warn.mockRestore();
    }
  });
});

describe('attachLiveBridge limits', () => {
  it('lets one cookie open maxViewsPerSession views, not more, while another session still connects', async () => {
    const t = await startLiveTestServer({ maxViewsPerSession: 3 });
    const a = await t.login();
    const b = await t.login();
    // Ten upgrades of one cookie at once: those still being authenticated count too.
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, () => t.connect({ cookie: a.cookie, origin: t.origin })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    expect(t.live.viewsOf(a.sessionId)).toBe(3);
    expect(await refusal(t.url, { cookie: a.cookie, origin: t.origin })).toBe(429);
    const other = record(await t.connect({ cookie: b.cookie, origin: t.origin }));
    expect(await other.next()).toMatchObject({ type: 'snapshot' });
    // A closed view frees its place.
    const first = results.find(
      (r) => r.status === 'fulfilled',
    ) as PromiseFulfilledResult<WebSocket>;
    first.value.close();
    await vi.waitFor(() => expect(t.live.viewsOf(a.sessionId)).toBe(2));
    expect(
      await record(await t.connect({ cookie: a.cookie, origin: t.origin })).next(),
    ).toMatchObject({ type: 'snapshot' });
    expect(t.live.stats().upgrading).toBe(0);
  });

  it('answers 503 past maxConnections, counting upgrades still being authenticated', async () => {
    const published = collect<LiveRefusedEvent>(String(liveTelemetryChannels.refused.name));
    // A session middleware held at a gate: the upgrades wait in authentication.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let t!: LiveTestServer;
    t = await startLiveTestServer({
      maxConnections: 2,
      session: async (ctx, next) => {
        await gate;
        return t.sessionMiddleware(ctx, next);
      },
    });
    const a = await t.login();
    const b = await t.login();
    const c = await t.login();
    const pending = [a, b].map((s) => t.connect({ cookie: s.cookie, origin: t.origin }));
    await vi.waitFor(() => expect(t.live.stats().upgrading).toBe(2));
    const res = await new Promise<{ status: number; retryAfter: string | undefined }>((resolve) => {
      const ws = new WebSocket(t.url, { headers: { cookie: c.cookie, origin: t.origin } });
      ws.on('unexpected-response', (_req, r) => {
        resolve({ status: r.statusCode ?? 0, retryAfter: r.headers['retry-after'] });
        r.resume();
        ws.terminate();
      });
      ws.on('error', () => {});
    });
    expect(res).toEqual({ status: 503, retryAfter: '5' });
    expect(published.map((e) => [e.reason, e.code])).toEqual([['limit', 'SERVER_BUSY']]);
    open();
    await Promise.all(pending);
    expect(t.live.clients).toBe(2);
    expect(t.live.stats().upgrading).toBe(0);
    expect(await refusal(t.url, { cookie: c.cookie, origin: t.origin })).toBe(503);
  });

  it('answers upgrades still being authenticated with 503 on close()', async () => {
    const gate = new Promise<void>(() => {}); // a session store that never answers
    let t!: LiveTestServer;
    t = await startLiveTestServer({
      session: async (ctx, next) => {
        await gate;
        return t.sessionMiddleware(ctx, next);
      },
    });
    const { cookie } = await t.login();
    const status = refusal(t.url, { cookie, origin: t.origin });
    await vi.waitFor(() => expect(t.live.stats().upgrading).toBe(1));
    await t.live.close();
    expect(await status).toBe(503);
    await vi.waitFor(() => expect(t.live.stats().upgrading).toBe(0));
  });

  it('answers 503 and reports it when the supervisor cannot tell whether the session exists', async () => {
    const reported: unknown[] = [];
    const t = await startLiveTestServer();
    const { cookie } = await t.login();
    const down = new SessionError('STORE_UNAVAILABLE', 'the store is down');
    const sessions = withOverrides(t.sessions, { restore: () => Promise.reject(down) });
    const bridge = attachLiveBridge(t.server, {
      app: t.app,
      sessions,
      session: t.sessionMiddleware,
      origins: [t.origin],
      path: '/down',
      onError: (e) => reported.push(e),
    });
    try {
      expect(await refusal(t.url.replace('/live', '/down'), { cookie, origin: t.origin })).toBe(
        503,
      );
      expect(reported).toEqual([down]);
    } finally {
      await bridge.close();
    }
  });

  it('stops counting an upgrade whose peer went away once its authentication ends', async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let t!: LiveTestServer;
    t = await startLiveTestServer({
      maxConnections: 1,
      session: async (ctx, next) => {
        await gate;
        return t.sessionMiddleware(ctx, next);
      },
    });
    const { cookie } = await t.login();
    const ws = new WebSocket(t.url, { headers: { cookie, origin: t.origin } });
    ws.on('error', () => {});
    await vi.waitFor(() => expect(t.live.stats().upgrading).toBe(1));
    ws.terminate();
    // The socket holds its descriptor until the server reads again (after the cookie check).
    open();
    await vi.waitFor(() => expect(t.live.stats().upgrading).toBe(0));
    expect(await record(await t.connect({ cookie, origin: t.origin })).next()).toMatchObject({
      type: 'snapshot',
    });
  });
});

// The heartbeat is the subject here: its interval is faked (sockets and I/O stay real).
describe('attachLiveBridge slow and dead peers', () => {
  const HEARTBEAT_MS = 30_000;

  /** A round trip on `ws`: once it returns, the server has read everything the peer sent before. */
  async function roundTrip(ws: WebSocket, ref: string): Promise<void> {
    const rec = record(ws);
    ws.send(JSON.stringify({ type: 'call', ref, event: { type: 'get_value' } }));
    await rec.next((m) => m.type === 'reply' && m.ref === ref);
  }

  it('closes a peer that stops answering pings within two heartbeats, and keeps the others', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const drops = collect<LiveDroppedEvent>(String(liveTelemetryChannels.dropped.name));
    const t = await startLiveTestServer({ heartbeatMs: HEARTBEAT_MS });
    const { cookie, sessionId } = await t.login();
    // autoPong off: the client never answers pings, as a peer behind a dead link.
    const dead = await t.connect({ cookie, origin: t.origin }, { autoPong: false });
    const alive = await t.connect({ cookie, origin: t.origin });
    const deadPinged = new Promise((resolve) => dead.once('ping', resolve));
    const alivePinged = new Promise((resolve) => alive.once('ping', resolve));
    vi.advanceTimersByTime(HEARTBEAT_MS);
    await Promise.all([deadPinged, alivePinged]);
    await roundTrip(alive, 'after-ping'); // its pong has reached the server
    expect(dead.readyState).toBe(WebSocket.OPEN);
    vi.advanceTimersByTime(HEARTBEAT_MS);
    expect((await record(dead).whenClosed()).code).toBe(1006);
    expect(drops).toEqual([{ sessionId, reason: 'heartbeat' }]);
    await roundTrip(alive, 'still-here');
    expect(alive.readyState).toBe(WebSocket.OPEN);
    await vi.waitFor(() => expect(t.live.clients).toBe(1));
  });

  it('holds one waiting snapshot for a peer that never reads and closes it within two heartbeats', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const drops = collect<LiveDroppedEvent>(String(liveTelemetryChannels.dropped.name));
    const pad = 'x'.repeat(16_384);
    const highWaterMarkBytes = 32_768;
    const t = await startLiveTestServer({
      heartbeatMs: HEARTBEAT_MS,
      highWaterMarkBytes,
      view: (s) => ({ count: s.context.count, pad }),
    });
    const { cookie, sessionId } = await t.login();
    const ws = await t.connect({ cookie, origin: t.origin });
    await record(ws).next();
    ws.pause(); // reads nothing from now on: neither frames nor pings
    let maxBuffered = 0;
    for (let i = 0; i < 2_000; i++) {
      t.sessions.cast(sessionId, { type: 'add_one' });
      if (i % 50 === 0) {
        await new Promise((r) => setImmediate(r));
        maxBuffered = Math.max(maxBuffered, t.live.stats().bufferedBytes);
      }
    }
    expect(maxBuffered).toBeLessThanOrEqual(highWaterMarkBytes + 2 * (pad.length + 200));
    // Meanwhile another session's view is served as usual.
    const other = await t.login();
    const otherWs = await t.connect({ cookie: other.cookie, origin: t.origin });
    await roundTrip(otherWs, 'served');
    vi.advanceTimersByTime(HEARTBEAT_MS);
    await new Promise((r) => setImmediate(r));
    await roundTrip(otherWs, 'after-first-tick'); // its pong is in
    expect(t.live.clients).toBe(2);
    vi.advanceTimersByTime(HEARTBEAT_MS);
    await vi.waitFor(() => expect(t.live.clients).toBe(1));
    expect(t.live.viewsOf(sessionId)).toBe(0);
    expect(drops).toEqual([{ sessionId, reason: 'heartbeat' }]);
    expect(t.sessions.started(sessionId)).toBe(true);
    await roundTrip(otherWs, 'still-served');
  });

  it('drops a peer that keeps sending but never reads, past maxBufferedBytes', async () => {
    const drops = collect<LiveDroppedEvent>(String(liveTelemetryChannels.dropped.name));
    const t = await startLiveTestServer({ maxBufferedBytes: 65_536 });
    const { cookie, sessionId } = await t.login();
    const ws = await t.connect({ cookie, origin: t.origin });
    await record(ws).next();
    ws.pause();
    for (let i = 0; i < 200 && t.live.clients > 0; i++) {
      for (let j = 0; j < 500; j++) ws.send('x');
      await new Promise((r) => setTimeout(r, 5));
    }
    await vi.waitFor(() => expect(t.live.clients).toBe(0), { timeout: 5_000 });
    expect(drops).toEqual([{ sessionId, reason: 'buffer' }]);
  });
});
